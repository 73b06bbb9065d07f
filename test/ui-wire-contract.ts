/**
 * The dashboard mirrors the admin API's answers by hand in ui/src/types.ts (the page is bundled for
 * the browser and cannot import server modules). This file is never run: it makes `npm run
 * typecheck` fail when the two drift apart, by requiring each answer the server builds to fit the
 * type the page reads it as.
 */
import type * as Server from "../src/admin/index.ts";
import type * as Page from "../ui/src/types.ts";

/** Compiles only when a value of `S` may be used where the page expects a `P`. */
function fits<P>(_value: P): void {}

export function contract(server: {
  summary: Server.MetricsSummary;
  item: Server.StreamItem;
  page: Server.EventsPage;
  fn: Server.FunctionStatus;
  verdict: Server.AuditVerdict;
  trace: Server.TraceSummary;
  keys: Server.KeysStatus;
  secret: Server.SecretStatus;
  held: Server.QuarantineEntry;
  dlqReplay: Server.DlqReplayResult;
  replay: Server.ArchiveReplayResult;
}): void {
  fits<Page.MetricsSummary>(server.summary);
  fits<Page.StreamItem>(server.item);
  fits<Page.EventsPage>(server.page);
  fits<Page.FunctionStatus>(server.fn);
  fits<Page.AuditVerdict>(server.verdict);
  fits<Page.TraceSummary>(server.trace);
  fits<Page.KeysStatus>(server.keys);
  fits<Page.SecretStatus>(server.secret);
  fits<Page.QuarantineEntry>(server.held);
  fits<Page.DlqReplayResult>(server.dlqReplay);
  fits<Page.ArchiveReplayResult>(server.replay);
}
