import { existsSync } from "node:fs";
import {
  ADMIN_NOT_FOUND,
  type EventDetail,
  type EventFilter,
  type EventSummary,
  type EventsPage,
  getEvent,
  listEvents,
  PAGE_MAX,
} from "../../admin/index.ts";
import type { DeliveryState, PastDelivery } from "../../bus/index.ts";
import { PalisadeError } from "../../errors.ts";
import type { CloudEvent } from "../../events/index.ts";
import { loadApp } from "../../manifest/index.ts";
import { type AdminUrlFlags, adminApi } from "../admin-client.ts";
import { EXIT_OK } from "../exit-codes.ts";
import { type OperatorNatsFlags, withOperatorStore } from "../nats-target.ts";
import { parseInstant } from "../parse-instant.ts";
import { usageError } from "../usage-error.ts";

/** Flags of `palisade events list`. */
export interface EventsListOptions extends OperatorNatsFlags, AdminUrlFlags {
  app: string;
  type?: string;
  since?: string;
  principal?: string;
  limit: number;
  before?: number;
  json?: boolean;
}

type ShowOptions = { app: string; json?: boolean } & OperatorNatsFlags & AdminUrlFlags;

/** Where events are read: the admin service's views over the app's store, or the admin API. */
interface EventSource {
  page(filter: EventFilter, page: { before?: number; limit: number }): Promise<EventsPage>;
  event(id: string): Promise<EventDetail>;
}

/**
 * `palisade events list`: events newest first with each delivery's state, from the app's store (its
 * file, or the NATS deployment `--nats` names) or a running gateway's admin API (`--url`). Pages
 * are read until `--limit` events are found; the cursor of the next page is printed after them.
 */
export async function runEventsList(opts: EventsListOptions): Promise<number> {
  const filter: EventFilter = {
    ...(opts.type === undefined ? {} : { type: opts.type }),
    ...(opts.principal === undefined ? {} : { principal: opts.principal }),
    ...(opts.since === undefined ? {} : { since: parseInstant(opts.since, Date.now(), "--since") }),
  };
  const page = await withEventSource(opts, (source) => collect(source, filter, opts));
  printEventsPage(page, opts.json === true, Object.keys(filter).length > 0);
  return EXIT_OK;
}

/** `palisade events show <id>`: one event's envelope, deliveries, history and trace id. */
export async function runEventsShow(id: string, opts: ShowOptions): Promise<number> {
  const detail = await withEventSource(opts, (source) => source.event(id));
  if (opts.json) process.stdout.write(`${JSON.stringify(detail)}\n`);
  else printEventDetail(detail);
  return EXIT_OK;
}

async function collect(
  source: EventSource,
  filter: EventFilter,
  opts: EventsListOptions,
): Promise<EventsPage> {
  const events: EventSummary[] = [];
  let before = opts.before;
  for (;;) {
    const limit = Math.min(PAGE_MAX, opts.limit - events.length);
    const page = await source.page(filter, { ...(before === undefined ? {} : { before }), limit });
    events.push(...page.events);
    if (page.next === undefined) return { events };
    if (events.length >= opts.limit) return { events, next: page.next };
    before = page.next; // a short page with a cursor: the view stopped at its scan budget
  }
}

async function withEventSource<T>(
  opts: { app: string } & OperatorNatsFlags & AdminUrlFlags,
  fn: (source: EventSource) => Promise<T>,
): Promise<T> {
  const { url } = opts;
  if (url !== undefined) {
    if (opts.nats !== undefined)
      throw usageError("Give --url (a gateway's admin API) or --nats (the deployment's store), not both");
    return fn(remoteSource({ ...opts, url }));
  }
  const app = loadApp(opts.app);
  // An app that never ran has no store: nothing to list, and nothing is created to say so.
  if (opts.nats === undefined && !existsSync(app.dataDir)) return fn(emptySource());
  return withOperatorStore(app, opts, (store) =>
    fn({
      page: (filter, page) => listEvents(store, filter, page),
      event: async (id) => (await getEvent(store, id)) ?? notFound(id),
    }),
  );
}

function remoteSource(flags: AdminUrlFlags & { url: string }): EventSource {
  return {
    page(filter, page) {
      const query = new URLSearchParams({ limit: String(page.limit) });
      if (filter.type !== undefined) query.set("type", filter.type);
      if (filter.principal !== undefined) query.set("principal", filter.principal);
      if (filter.since !== undefined) query.set("since", new Date(filter.since).toISOString());
      if (page.before !== undefined) query.set("before", String(page.before));
      return adminApi<EventsPage>(flags, "GET", `/events?${query}`);
    },
    event: (id) => adminApi<EventDetail>(flags, "GET", `/events/${encodeURIComponent(id)}`),
  };
}

function emptySource(): EventSource {
  return { page: async () => ({ events: [] }), event: async (id) => notFound(id) };
}

// The admin API's answer for the same id, so `--url` and the local command fail alike.
function notFound(id: string): never {
  throw new PalisadeError(
    ADMIN_NOT_FOUND,
    `No event "${id}" in the log (never accepted, or pruned after the retention period); palisade events list shows the ids`,
    { status: 404 },
  );
}

/** Prints a page of events: one line each with its deliveries under it, or the page as JSON. */
export function printEventsPage(page: EventsPage, json: boolean, filtered: boolean): void {
  if (json) {
    process.stdout.write(`${JSON.stringify(page)}\n`);
    return;
  }
  if (page.events.length === 0)
    process.stdout.write(filtered ? "no events match the filters\n" : "no events in the log\n");
  for (const e of page.events) {
    process.stdout.write(
      `${new Date(e.acceptedAt).toISOString()}  ${e.id}  ${e.type}  ${e.principal}\n${deliveryLines(e.deliveries, false)}`,
    );
  }
  if (page.next !== undefined) process.stdout.write(`older events: --before ${page.next}\n`);
}

/** One line per delivery, indented; with `stacks`, a failure's whole error (its stack frames too). */
function deliveryLines(deliveries: readonly DeliveryState[], stacks: boolean): string {
  if (deliveries.length === 0) return "    (no function subscribes)\n";
  const width = Math.max(...deliveries.map((d) => d.target.length));
  return deliveries
    .map((d) => {
      const head = `    ${d.target.padEnd(width)}  ${d.state.padEnd(9)}  ${d.attempts} attempt(s)`;
      if (d.lastError === null) return `${head}\n`;
      const [message = "", ...frames] = d.lastError.split("\n");
      return `${head}  ${message}\n${stacks ? frames.map((f) => `      ${f}\n`).join("") : ""}`;
    })
    .join("");
}

/** Prints one event: each stored copy's envelope and data, its deliveries, history and trace. */
export function printEventDetail(detail: EventDetail): void {
  const out: string[] = [];
  detail.copies.forEach((copy, i) => {
    const label = detail.copies.length > 1 ? ` (copy ${i + 1} of ${detail.copies.length})` : "";
    out.push(`event ${detail.id}${label}\n`, ...envelopeLines(copy.event));
    out.push(
      `  ${"accepted".padEnd(PAD)} ${new Date(copy.acceptedAt).toISOString()} (position ${copy.seq})\n`,
    );
    out.push(`  data\n${indent(dataText(copy.event.data), "    ")}`);
  });
  out.push(
    detail.traceId === null
      ? "trace: none (the event carries no W3C traceparent)\n"
      : `trace: ${detail.traceId}  (palisade traces --id ${detail.traceId})\n`,
  );
  out.push(`deliveries\n${deliveryLines(detail.deliveries, true)}`);
  if (detail.history.length > 0)
    out.push(
      `history (outcomes replays started over, oldest first)\n${detail.history.map(pastLine).join("")}`,
    );
  process.stdout.write(out.join(""));
}

const PAD = 16;

/** The envelope's attributes but `data`, one a line, in the order stored. */
function envelopeLines(event: CloudEvent): string[] {
  return Object.entries(event)
    .filter(([name, value]) => name !== "data" && value !== undefined)
    .map(([name, value]) =>
      name === "extensions"
        ? Object.entries(value as Record<string, unknown>)
            .map(([ext, v]) => `  ${ext.padEnd(PAD)} ${String(v)}\n`)
            .join("")
        : `  ${name.padEnd(PAD)} ${String(value)}\n`,
    );
}

function pastLine(p: PastDelivery): string {
  const head = `    ${new Date(p.at).toISOString()}  ${p.target}  ${p.state} after ${p.attempts} attempt(s)${p.reason === null ? "" : `, dead-lettered (${p.reason})`}; started over ${new Date(p.supersededAt).toISOString()}\n`;
  return p.lastError === null ? head : `${head}${indent(p.lastError, "      ")}`;
}

// Text and XML types carry their data as a string (CloudEvents §3.1): shown as sent.
function dataText(data: unknown): string {
  return typeof data === "string" ? data : JSON.stringify(data ?? null, null, 2);
}

function indent(text: string, by: string): string {
  return text
    .split("\n")
    .map((line) => `${by}${line}\n`)
    .join("");
}
