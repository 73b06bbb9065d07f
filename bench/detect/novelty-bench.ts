/**
 * Detector 2 (capability-target novelty) on a week of invocations of eight functions. Each uses its
 * core targets, one rare legitimate target (0.2–2 % of invocations: a fallback, a large order) and
 * holds grants it never uses (the exfiltration channels: no egress wildcards exist, so a new host
 * is a granted one). Deploys start a new bundle version, which learns again.
 */
import { createNovelty } from "../../src/detect/index.ts";
import { DEFAULT_DETECT } from "../../src/manifest/index.ts";
import type { CapabilityKind, Finding, SignalOf } from "../../src/signals/index.ts";
import { createEwma, createStaticThreshold } from "./baselines.ts";
import { FLASH_FACTOR, flashCrowds, recordFlashCrowd } from "./flash-crowds.ts";
import { createRangeRecorder, planInjections, type RecordRange } from "./injections.ts";
import { baselineRow, type DetectorReport, type DetectorRun, ladderRows, type MethodRow } from "./report.ts";
import { createRng, type Rng } from "./rng.ts";
import { count, detectedCell, type Range, type RangeKind, scoreHits } from "./score.ts";
import { arrivals, DAY, DAYS, END, HOUR, MINUTE, START, slots, spread } from "./traffic.ts";

type Kind = Exclude<CapabilityKind, "unknown">;
type Use = readonly [Kind, string, number];
type Pair = readonly [Kind, string];

interface Profile {
  readonly fn: string;
  readonly perSecond: number;
  readonly uses: readonly Use[];
  /** Granted, never used by the function's own code. */
  readonly dormant: readonly Pair[];
}

const https = (host: string, port = 443): string => `https://${host}:${port}`;

const PROFILES: readonly Profile[] = [
  {
    fn: "checkout",
    perSecond: 0.15,
    uses: [
      ["secret", "STRIPE_KEY", 1],
      ["egress", https("api.stripe.com"), 1],
      ["kv-write", "orders", 1],
      ["emit", "payment.requested", 1],
      ["emit", "email.send", 0.95],
      ["egress", https("api.fraudcheck.io"), 0.01],
    ],
    dormant: [
      ["egress", https("uploads.partner-cdn.net")],
      ["secret", "ADMIN_TOKEN"],
    ],
  },
  {
    fn: "charge",
    perSecond: 0.14,
    uses: [
      ["secret", "STRIPE_KEY", 1],
      ["egress", https("api.stripe.com"), 1],
      ["emit", "payment.done", 1],
      ["secret", "STRIPE_BACKUP_KEY", 0.003],
    ],
    dormant: [
      ["egress", https("hooks.slack.com")],
      ["secret", "REFUND_KEY"],
    ],
  },
  {
    fn: "notify",
    perSecond: 0.14,
    uses: [
      ["kv-read", "prefs", 1],
      ["emit", "email.send", 1],
      ["egress", https("hooks.slack.com"), 0.005],
    ],
    dormant: [
      ["kv-read", "customers"],
      ["egress", https("api.sms-gw.net")],
    ],
  },
  {
    fn: "mailer",
    perSecond: 0.3,
    uses: [
      ["secret", "SMTP_PASS", 1],
      ["egress", https("smtp.mailhost.net", 587), 1],
      ["egress", https("smtp-backup.mailhost.net", 587), 0.002],
    ],
    dormant: [
      ["egress", https("api.sendgrid.com")],
      ["kv-read", "customers"],
    ],
  },
  {
    fn: "report",
    perSecond: 2 / 3600,
    uses: [
      ["kv-read", "orders", 1],
      ["secret", "S3_KEY", 1],
      ["egress", https("s3.eu-west-1.amazonaws.com"), 1],
    ],
    dormant: [
      ["kv-read", "customers"],
      ["egress", https("s3.us-east-1.amazonaws.com")],
    ],
  },
  {
    fn: "webhook",
    perSecond: 0.02,
    uses: [
      ["secret", "HOOK_SECRET", 1],
      ["emit", "order.created", 1],
      ["kv-read", "partners", 0.02],
    ],
    dormant: [
      ["egress", https("partner-api.example")],
      ["secret", "PARTNER_KEY"],
    ],
  },
  {
    fn: "ledger",
    perSecond: 0.05,
    uses: [
      ["kv-write", "ledger", 1],
      ["secret", "LEDGER_KEY", 1],
    ],
    dormant: [
      ["egress", https("audit-export.net")],
      ["kv-read", "customers"],
    ],
  },
  {
    fn: "indexer",
    perSecond: 0,
    uses: [
      ["kv-read", "catalog", 1],
      ["kv-write", "search", 1],
    ],
    dormant: [
      ["egress", https("search-backup.net")],
      ["secret", "SEARCH_ADMIN_KEY"],
    ],
  },
];

/** What checkout's new version does besides: it calls a tax service (learned in its learning period). */
const V2_USE: Use = ["egress", https("api.taxcalc.io"), 0.5];

/** 10× the busiest function's normal peak of capability calls per minute (1.6× at 15:00). */
const STATIC_PER_MINUTE = Math.round(
  Math.max(...PROFILES.map((p) => p.perSecond * 1.6 * 60 * p.uses.reduce((sum, u) => sum + u[2], 0))) * 10,
);

interface Invocation {
  at: number;
  fn: string;
  attempt: number;
  extra?: readonly Pair[];
  /** The version this invocation's bundle runs (a deploy's first invocation switches it). */
  deploy?: number;
}

/** Picks a profile's dormant grant of `kind` (the channel an attack uses). */
const dormant =
  (kind: Kind) =>
  (p: Profile): Pair | undefined =>
    p.dormant.find((d) => d[0] === kind);

const RUNGS: readonly {
  label: string;
  kind: RangeKind;
  calls: number;
  pick: (p: Profile) => Pair | undefined;
}[] = [
  {
    label: "new egress host, 1 request",
    kind: "attack",
    calls: 1,
    pick: dormant("egress"),
  },
  {
    label: "new egress host, 100 requests in 10 min",
    kind: "attack",
    calls: 100,
    pick: dormant("egress"),
  },
  {
    label: "new secret read (granted, unused)",
    kind: "attack",
    calls: 1,
    pick: dormant("secret"),
  },
  {
    label: "new kv namespace read (bulk, 50 reads)",
    kind: "attack",
    calls: 50,
    pick: dormant("kv-read"),
  },
  {
    label: "exfiltration to a host it already uses",
    kind: "blind",
    calls: 100,
    pick: (p) => p.uses.find((u) => u[0] === "egress" && u[2] === 1)?.slice(0, 2) as Pair | undefined,
  },
  {
    label: "adaptive: new version exfiltrates while learning (90 of 100)",
    kind: "adaptive",
    calls: 90,
    pick: dormant("egress"),
  },
];

export function runNoveltyBench(seed: number): DetectorReport {
  const rng = createRng(seed).fork("novelty");
  const ranges: Range[] = [];
  const w: Workload = { ranges, range: createRangeRecorder(ranges, "fn"), invocations: [] };
  const { flash, outages } = inject(rng, w);
  addBenign(rng, w, flashCrowds(flash), outages);
  w.invocations.sort((a, b) => a.at - b.at);
  const run = simulate(rng.fork("uses"), w.invocations);
  return buildReport(run, ranges, w.invocations.length);
}

interface Workload {
  readonly ranges: Range[];
  readonly range: RecordRange;
  readonly invocations: Invocation[];
}

/** The ladder and the hard negatives at their planned times; returns the flash crowds' and outages' starts. */
function inject(rng: Rng, w: Workload): { flash: number[]; outages: number[] } {
  const flash: number[] = [];
  const outages: number[] = [];
  const taken = new Set<string>();
  const plan = planInjections(RUNGS, "flash", "flash", "retry", "retry", "deploy", "deploy", "deploy");
  const starts = slots(rng.fork("slots"), plan.length, START + DAY + 2 * HOUR, END - 5 * HOUR, 5 * HOUR);
  let version = 1;
  plan.forEach((what, i) => {
    const at = starts[i] as number;
    const r = rng.fork(`inject${i}`);
    if (what === "flash") {
      flash.push(at);
      recordFlashCrowd(w.range, at, ["checkout", "charge", "notify", "mailer"]);
    } else if (what === "retry") {
      outages.push(at);
      w.range("retry storm (charge fails 10 min)", "benign", at, 11 * MINUTE, "charge");
    } else if (what === "deploy") {
      const fn = ["checkout", "mailer", "ledger"][version - 1] ?? "ledger";
      version += 1;
      w.range("deploy of a new version", "benign", at, 4 * HOUR, fn);
      w.invocations.push({ at, fn, attempt: 1, deploy: version });
    } else if (typeof what !== "string") injectRung(w, taken, r, what, at);
  });
  return { flash, outages };
}

/** One rung, on a function and target not `taken` before: a pair is reported once per bundle version. */
function injectRung(w: Workload, taken: Set<string>, r: Rng, rung: (typeof RUNGS)[number], at: number): void {
  const candidates = PROFILES.filter(
    (p) =>
      p.fn !== "indexer" && rung.pick(p) !== undefined && !taken.has(`${p.fn} ${rung.pick(p)?.join(":")}`),
  );
  const p = r.pick(candidates);
  const pair = rung.pick(p) as Pair;
  taken.add(`${p.fn} ${pair.join(":")}`);
  const rg = w.range(rung.label, rung.kind, at, rung.kind === "adaptive" ? 2 * HOUR : 10 * MINUTE, p.fn);
  rg.scopes.add(`fn:${p.fn} ${pair.join(":")}`);
  if (rung.kind === "adaptive")
    w.invocations.push({ at, fn: p.fn, attempt: 1, deploy: 100 + w.ranges.length });
  // The adaptive attacker sends its events at once: they are most of the new version's first 100.
  const times =
    rung.calls === 1 ? [at] : spread(r, rung.calls, at, rung.kind === "adaptive" ? MINUTE : 10 * MINUTE);
  for (const t of times) w.invocations.push({ at: t, fn: p.fn, attempt: 1, extra: [pair] });
}

/** Every function's own traffic (charge retried in its outages) and the nightly indexer. */
function addBenign(rng: Rng, w: Workload, busy: (t: number) => number, outages: readonly number[]): void {
  for (const p of PROFILES) {
    for (const t of arrivals(rng.fork(p.fn), START, END, p.perSecond, busy, FLASH_FACTOR)) {
      w.invocations.push({ at: t, fn: p.fn, attempt: 1 });
      if (p.fn === "charge" && outages.some((o) => t >= o && t < o + 10 * MINUTE))
        for (let a = 2; a <= 5; a++)
          w.invocations.push({ at: t + 1000 * (2 ** (a - 1) - 1), fn: p.fn, attempt: a });
    }
  }
  for (let day = 0; day < DAYS; day++) {
    const at = START + day * DAY + 2 * HOUR;
    w.range("cron spike (nightly: 500 items)", "benign", at, 10 * MINUTE, "indexer");
    for (const t of spread(rng.fork(`cron${day}`), 500, at, 2 * MINUTE))
      w.invocations.push({ at: t, fn: "indexer", attempt: 1 });
  }
}

/** The end of an invocation, which counts it towards its version's learning period. */
function settledSignal(inv: Invocation, eventId: string): SignalOf<"invocation.settled"> {
  return {
    kind: "invocation.settled",
    fn: inv.fn,
    eventId,
    type: "t",
    attempt: inv.attempt,
    outcome: "delivered",
    principal: "shop",
    durationMs: 40,
    payloadBytes: 600,
  };
}

/**
 * With response `hold` the findings are the same (the pair is judged at its first call, before it
 * is made); what differs is what the hold keeps: every call to the pair from the finding until the
 * operator acts (RELEASE_MS: benign ones released, an attacker's discarded).
 */
const RELEASE_MS = 30 * MINUTE;

interface NoveltyRun extends DetectorRun {
  /** When each (function, pair) was used, by `fn:<fn> <capability>:<target>`. */
  readonly uses: Map<string, number[]>;
}

function simulate(rng: Rng, invocations: readonly Invocation[]): NoveltyRun {
  const versions = new Map(PROFILES.map((p) => [p.fn, "v1"]));
  const findings: Finding[] = [];
  const novelty = createNovelty(DEFAULT_DETECT.novelty, {
    bundleVersion: (fn) => versions.get(fn),
    report: (f) => findings.push(f),
  });
  const fixed = createStaticThreshold(
    `static: ≥ ${STATIC_PER_MINUTE} capability calls/function/min`,
    MINUTE,
    STATIC_PER_MINUTE,
  );
  const ewma = createEwma("EWMA ± 3σ of capability calls/function/min", MINUTE, START);
  const uses = new Map<string, number[]>();
  let n = 0;
  for (const inv of invocations) {
    const p = PROFILES.find((x) => x.fn === inv.fn) as Profile;
    if (inv.deploy !== undefined) versions.set(inv.fn, `v${inv.deploy}`);
    const eventId = `e${n++}`;
    const v2 = inv.fn === "checkout" && versions.get("checkout") !== "v1";
    const used = (capability: Kind, target: string): void => {
      const signal: SignalOf<"capability.used"> = {
        kind: "capability.used",
        fn: inv.fn,
        capability,
        target,
        eventId,
      };
      novelty.used(signal, inv.at);
      const key = `fn:${inv.fn} ${capability}:${target}`;
      const times = uses.get(key);
      if (times === undefined) uses.set(key, [inv.at]);
      else times.push(inv.at);
      fixed.observe(`fn:${inv.fn}`, inv.at);
      ewma.observe(`fn:${inv.fn}`, inv.at);
    };
    for (const [capability, target, prob] of v2 ? [...p.uses, V2_USE] : p.uses)
      if (rng.next() < prob) used(capability, target);
    for (const [capability, target] of inv.extra ?? []) used(capability, target);
    novelty.invoked(settledSignal(inv, eventId), inv.at + 50);
  }
  return { findings, fixed, ewma, uses };
}

/** Calls to the finding's pair that its hold would keep waiting until the operator acts. */
function heldBy(run: NoveltyRun, scope: string, at: number): number {
  return (run.uses.get(scope) ?? []).filter((t) => t >= at && t < at + RELEASE_MS).length;
}

function buildReport(run: NoveltyRun, ranges: readonly Range[], invocations: number): DetectorReport {
  const { findings, fixed, ewma } = run;
  // A finding names its target: it counts for an attack only on that attack's target.
  const hits = findings.map((f) => ({
    scope: `fn:${f.scope.name} ${String(f.evidence.capability)}:${String(f.evidence.target)}`,
    at: f.at,
  }));
  const novel = scoreHits(ranges, hits, DAYS);
  const fixedScore = scoreHits(ranges, fixed.hits, DAYS);
  const attack = (scope: string) => ranges.some((r) => r.kind !== "benign" && r.scopes.has(scope));
  let benignHeld = 0;
  let attackHeld = 0;
  for (const h of hits) {
    if (attack(h.scope)) attackHeld += heldBy(run, h.scope, h.at);
    else benignHeld += heldBy(run, h.scope, h.at);
  }
  const ewmaScore = scoreHits(ranges, ewma.hits, DAYS);
  const methods: MethodRow[] = [
    {
      method: "detector 2: novelty (alert)",
      score: novel,
      leaked: "0 calls before the finding; alert only",
      collateral: "0 held",
    },
    {
      method: "detector 2: novelty (hold)",
      score: novel,
      leaked: `0 calls: the first is held (${attackHeld} attack calls held)`,
      collateral: `${benignHeld} held ≤ ${RELEASE_MS / MINUTE} min`,
    },
    baselineRow(fixed, fixedScore),
    baselineRow(ewma, ewmaScore),
  ];
  const fpTargets = findings.filter((_, i) => !attack(hits[i]?.scope ?? ""));
  return {
    title: `Detector 2, capability-target novelty (${DAYS} simulated days; ${count(invocations)} invocations of ${PROFILES.length} functions; learn: ${DEFAULT_DETECT.novelty.learn.invocations} invocations or ${DEFAULT_DETECT.novelty.learn.hours} h; scope: function)`,
    methods,
    ladder: {
      title:
        "Exfiltration ladder (each rung 3 times, each on its own function and target; cells: detected, worst delay)",
      header: ["rung", "novelty", "static", "EWMA"],
      rows: ladderRows(RUNGS, ranges, (rs) => [
        detectedCell(novel, rs),
        detectedCell(fixedScore, rs),
        detectedCell(ewmaScore, rs),
      ]),
    },
    notes: [
      `novelty's false positives are rare legitimate targets first used after learning ended (once per pair and bundle version): ${fpTargets.map((f) => `${f.scope.name} ${String(f.evidence.capability)} ${String(f.evidence.target)}`).join("; ") || "none"}.`,
      `with response hold (opt-in) the findings are the same, judged at the first call before it is made; each holds only its pair's calls, here until an operator acts ${RELEASE_MS / MINUTE} min later (benign ones released, an attacker's discarded); collateral counts the benign calls (deliveries) that waited.`,
      "adaptive attacker: a compromised new version exfiltrates from its first invocation, 90 calls within its learning period: the target joins the baseline, so neither these nor any later exfiltration to it are reported.",
    ],
    aims: [],
  };
}
