/**
 * Detector 3 (privilege probing) on a week of invocations of eight functions with the default
 * response, quarantine: a finding holds the function's deliveries until an operator acts, here
 * RELEASE_MS later (the held benign events then run, once; the attacker's are dead-lettered).
 * Benign functions are refused only for what their data carried (`grant: false`), bar one latent
 * bug (notify asks for an ungranted secret on 0.1 % of its invocations).
 */
import { createDeniedBurst } from "../../src/detect/index.ts";
import { DEFAULT_DETECT } from "../../src/manifest/index.ts";
import type { Finding, SignalOf } from "../../src/signals/index.ts";
import { createEwma, createStaticThreshold } from "./baselines.ts";
import { type BookTotals, createDeliveryBook, type DeliveryBook } from "./delivery-book.ts";
import { FLASH_FACTOR, flashCrowds, recordFlashCrowd } from "./flash-crowds.ts";
import { createRangeRecorder, planInjections, type RecordRange } from "./injections.ts";
import { baselineRow, type DetectorReport, type DetectorRun, ladderRows, type MethodRow } from "./report.ts";
import { createRng, type Rng } from "./rng.ts";
import {
  count,
  detectedCell,
  duration,
  findingHits,
  percent,
  type Range,
  type RangeKind,
  scoreHits,
} from "./score.ts";
import { arrivals, DAY, DAYS, END, HOUR, MINUTE, SECOND, START, slots, spread } from "./traffic.ts";

/** When the operator acts on a quarantine (releases the benign work, discards the attacker's). */
const RELEASE_MS = 30 * MINUTE;
/** Share of benign invocations refused for their data (a header the platform controls). */
const DATA_REFUSALS = 0.005;
const FUNCTIONS: Readonly<Record<string, number>> = {
  checkout: 0.15,
  charge: 0.14,
  notify: 0.14,
  mailer: 0.3,
  report: 2 / 3600,
  webhook: 0.02,
  ledger: 0.05,
  search: 0.1,
};
const PROBE_GAP_MS = 2 * SECOND;
const POLICY = DEFAULT_DETECT.deniedBurst;

interface Invocation {
  at: number;
  fn: string;
  /** Grant refusals it causes: a probe, or the latent bug, or a deploy missing a grant. */
  probe?: string;
  /** A refusal for its data (grant: false). */
  dataRefusal?: boolean;
  range?: Range;
  attacker?: boolean;
}

const RUNGS: readonly { label: string; kind: RangeKind; probes: number; gapMs: number }[] = [
  ...[3, 5, 10, 20, 50].map((n) => ({
    label: `probing, ${n} denials (1 per 2 s)`,
    kind: "attack" as const,
    probes: n,
    gapMs: PROBE_GAP_MS,
  })),
  // One refusal fewer than the policy per window (and a second to spare), for an hour.
  {
    label: `adaptive: ${POLICY.denials - 1} denials per ${POLICY.windowSec + 1} s for 1 h`,
    kind: "adaptive",
    probes: Math.floor((3600 * (POLICY.denials - 1)) / (POLICY.windowSec + 1)),
    gapMs: ((POLICY.windowSec + 1) * 1000) / (POLICY.denials - 1),
  },
];

export function runDeniedBench(seed: number): {
  report: DetectorReport;
  book: BookTotals;
} {
  const rng = createRng(seed).fork("denied");
  const ranges: Range[] = [];
  const range = createRangeRecorder(ranges, "fn");
  const invocations: Invocation[] = [];
  const flash = inject(rng, range, invocations);
  addBenign(rng, range, flashCrowds(flash), invocations);
  invocations.sort((a, b) => a.at - b.at);
  const run = simulate(invocations);
  return { book: run.book.totals(), report: buildReport(run, ranges) };
}

/** The ladder and the hard negatives at their planned times; returns the flash crowds' starts. */
function inject(rng: Rng, range: RecordRange, invocations: Invocation[]): number[] {
  const flash: number[] = [];
  const plan = planInjections(RUNGS, "flash", "flash", "retry", "retry", "deploy", "deploy");
  const starts = slots(rng.fork("slots"), plan.length, START + DAY, END - 3 * HOUR, 3 * HOUR);
  const victims = Object.keys(FUNCTIONS).filter((f) => f !== "report");
  plan.forEach((what, i) => {
    const at = starts[i] as number;
    const r = rng.fork(`inject${i}`);
    if (what === "flash") {
      flash.push(at);
      recordFlashCrowd(range, at, ["checkout", "charge", "notify", "mailer"]);
    } else if (what === "retry") {
      // 40 events whose data is refused, each tried 5 times (backoff 1, 2, 4, 8 s).
      const rg = range("retry storm (40 refused events × 5 attempts)", "benign", at, 2 * MINUTE, "charge");
      for (const t of spread(r, 40, at, 30 * SECOND))
        for (let a = 0; a < 5; a++)
          invocations.push({ at: t + 1000 * (2 ** a - 1), fn: "charge", dataRefusal: true, range: rg });
    } else if (what === "deploy") {
      // A new version needs a secret its manifest does not grant yet; rolled back after 10 min.
      const rg = range("deploy missing a grant (rolled back in 10 min)", "benign", at, 10 * MINUTE, "ledger");
      for (const t of arrivals(r, at, at + 10 * MINUTE, FUNCTIONS.ledger ?? 0))
        invocations.push({ at: t, fn: "ledger", probe: "LEDGER_KEY_V2", range: rg });
    } else if (typeof what !== "string") {
      const fn = victims[i % victims.length] as string;
      const length = what.probes * what.gapMs;
      const rg = range(what.label, what.kind, at, length + SECOND, fn, what.probes < POLICY.denials);
      for (let k = 0; k < what.probes; k++)
        invocations.push({
          at: at + k * what.gapMs + r.next() * 100,
          fn,
          probe: `PROBE_${k}`,
          range: rg,
          attacker: true,
        });
    }
  });
  return flash;
}

/** Every function's own traffic (a few refused for their data, notify's latent bug) and the nightly cron. */
function addBenign(
  rng: Rng,
  range: RecordRange,
  busy: (t: number) => number,
  invocations: Invocation[],
): void {
  for (const [fn, perSecond] of Object.entries(FUNCTIONS)) {
    const r = rng.fork(fn);
    for (const t of arrivals(r, START, END, perSecond, busy, FLASH_FACTOR)) {
      const bug = fn === "notify" && r.next() < 0.001;
      invocations.push({
        at: t,
        fn,
        dataRefusal: r.next() < DATA_REFUSALS,
        ...(bug ? { probe: "SLACK_TOKEN" } : {}),
      });
    }
  }
  for (let day = 0; day < DAYS; day++) {
    const at = START + day * DAY + 2 * HOUR;
    range("cron spike (500 items in 2 min)", "benign", at, 10 * MINUTE, "search");
    const r = rng.fork(`cron${day}`);
    for (const t of spread(r, 500, at, 2 * MINUTE))
      invocations.push({ at: t, fn: "search", dataRefusal: r.next() < DATA_REFUSALS });
  }
}

/** An attack range's probes: those it planned, and those that ran before the quarantine held them. */
interface Probes {
  ran: number;
  planned: number;
}

/** What the quarantine run left to score. */
interface DeniedRun extends DetectorRun {
  readonly book: DeliveryBook;
  readonly probes: ReadonlyMap<Range, Probes>;
  /** Benign deliveries held by a quarantine. */
  readonly collateral: number;
  readonly invocations: number;
}

/** The refusal the capability host reports: for a grant (a probe), or for what the event's data asked. */
function deniedSignal(
  inv: Invocation,
  eventId: string,
  target: string,
  grant: boolean,
): SignalOf<"capability.denied"> {
  return {
    kind: "capability.denied",
    fn: inv.fn,
    capability: grant ? "secret" : "egress",
    target,
    reason: grant ? `secret "${target}" is not granted` : "a header the platform controls",
    eventId,
    principal: inv.attacker === true ? "tenant-x" : "shop",
    grant,
  };
}

function simulate(invocations: readonly Invocation[]): DeniedRun {
  const findings: Finding[] = [];
  const detector = createDeniedBurst(POLICY, (f) => findings.push(f));
  const fixed = createStaticThreshold(
    `static: ≥ ${POLICY.denials} denials/function/min (all refusals)`,
    MINUTE,
    POLICY.denials,
  );
  const ewma = createEwma("EWMA ± 3σ of denials/function/min", MINUTE, START);
  const book = createDeliveryBook();
  const held = new Map<string, { until: number; items: { inv: Invocation; index: number }[] }>();
  const probes = new Map<Range, Probes>();
  const tally = (r: Range): Probes => {
    const p = probes.get(r) ?? { ran: 0, planned: 0 };
    probes.set(r, p);
    return p;
  };
  let collateral = 0;
  let n = 0;

  const run = (inv: Invocation, index: number, at: number): void => {
    book.end(index, "delivered");
    const deny = (target: string, grant: boolean): void => {
      const before = findings.length;
      detector.observe(deniedSignal(inv, `e${index}`, target, grant), at);
      fixed.observe(`fn:${inv.fn}`, at);
      ewma.observe(`fn:${inv.fn}`, at);
      if (findings.length > before) held.set(inv.fn, { until: at + RELEASE_MS, items: [] });
    };
    if (inv.dataRefusal === true) deny("https://api.partner.example:443", false);
    if (inv.probe !== undefined) deny(inv.probe, true);
    if (inv.attacker === true && inv.range !== undefined) tally(inv.range).ran += 1;
  };
  // The operator's turn: benign held events run now, once; the attacker's are dead-lettered.
  const release = (upTo: number): void => {
    for (const [fn, q] of [...held].sort((a, b) => a[1].until - b[1].until)) {
      if (q.until > upTo) continue;
      held.delete(fn);
      detector.reset(fn);
      for (const h of q.items) {
        if (h.inv.attacker === true) book.end(h.index, "dead-lettered");
        else {
          // A broken deploy was rolled back by then: its held events run on the version before.
          const { probe, ...rest } = h.inv;
          const rolledBack = h.inv.range?.kind === "benign" && q.until >= h.inv.range.end;
          run(rolledBack || probe === undefined ? rest : { ...rest, probe }, h.index, q.until);
        }
      }
    }
  };
  for (const inv of invocations) {
    release(inv.at);
    const index = book.create(1);
    n += 1;
    if (inv.attacker === true && inv.range !== undefined) tally(inv.range).planned += 1;
    const q = held.get(inv.fn);
    if (q === undefined) run(inv, index, inv.at);
    else {
      book.end(index, "held");
      q.items.push({ inv, index });
      if (inv.attacker !== true) collateral += 1;
    }
  }
  release(Number.POSITIVE_INFINITY);
  return { findings, fixed, ewma, book, probes, collateral, invocations: n };
}

function buildReport(run: DeniedRun, ranges: readonly Range[]): DetectorReport {
  const { fixed, ewma, probes } = run;
  const burst = scoreHits(ranges, findingHits(run.findings, "fn"), DAYS);
  const fixedScore = scoreHits(ranges, fixed.hits, DAYS);
  const ewmaScore = scoreHits(ranges, ewma.hits, DAYS);
  const attacks = ranges.filter((r) => r.kind === "attack");
  const leak = (r: Range): number => {
    const p = probes.get(r);
    return p === undefined || p.planned === 0 ? 0 : p.ran / p.planned;
  };
  const methods: MethodRow[] = [
    {
      method: `detector 3: denied-burst (${POLICY.denials} in ${POLICY.windowSec} s, quarantine)`,
      score: burst,
      leaked: `probes run: ${percent(
        attacks.reduce((s, r) => s + (probes.get(r)?.ran ?? 0), 0) /
          Math.max(
            1,
            attacks.reduce((s, r) => s + (probes.get(r)?.planned ?? 0), 0),
          ),
      )}`,
      collateral: `${count(run.collateral)} held`,
    },
    baselineRow(fixed, fixedScore),
    baselineRow(ewma, ewmaScore),
  ];
  const adaptive = ranges.find((r) => r.kind === "adaptive");
  return {
    title: `Detector 3, privilege probing (${DAYS} simulated days; ${count(run.invocations)} invocations of ${Object.keys(FUNCTIONS).length} functions; policy ${POLICY.denials} grant denials within ${POLICY.windowSec} s; scope: function; operator acts ${duration(RELEASE_MS)} after a quarantine)`,
    methods,
    ladder: {
      title:
        "Probing ladder (each rung 3 times on different functions; cells: detected, worst delay; probes run = denied calls made before the quarantine held the function)",
      header: ["rung", "denied-burst", "probes run", "static", "EWMA"],
      rows: ladderRows(RUNGS, ranges, (rs) => [
        detectedCell(burst, rs),
        percent(Math.max(...rs.map(leak))),
        detectedCell(fixedScore, rs),
        detectedCell(ewmaScore, rs),
      ]),
    },
    notes: [
      `adaptive attacker: ${count(adaptive === undefined ? 0 : (probes.get(adaptive)?.ran ?? 0))} probes (ungranted secrets, hosts, namespaces) in 1 h, never ${POLICY.denials} within ${POLICY.windowSec} s: not detected, as the threshold must allow.`,
      "the static baseline counts every refusal (grant and data); the detector counts only grant refusals, which an event's data cannot cause.",
      "the detector counts distinct refused targets: the deploy that lacks a grant asks for the same secret on every invocation, which the sandbox refuses each time and the audit log records, and is not probing.",
    ],
    aims: [],
  };
}
