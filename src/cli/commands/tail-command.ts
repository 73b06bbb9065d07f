/**
 * `palisade tail`: registered here with its flags; the implementation (tail.ts) loads only when the
 * command runs.
 */
import type { Command } from "commander";
import { withAdminUrl } from "../admin-client.ts";
import type { TailOptions } from "./tail.ts";

/** Adds `palisade tail` to `program`; its action reports its exit code to `setExit`. */
export function addTailCommand(program: Command, setExit: (code: number) => void): void {
  withAdminUrl(
    program
      .command("tail")
      .description(
        "stream a running app's events, deliveries and function logs live, one line each, until Ctrl-C; the gateway comes from the app's .palisade/gateway.json (or --url), the admin key from PALISADE_ADMIN_KEY, --admin-key-file or the app's secret store",
      )
      .option("--type <type>", "only events of this type (a name, or prefix.*), their deliveries and logs")
      .option("--function <name>", "only this function's deliveries, logs, emits, refusals and holds")
      .option("--json", "print each item as one line of JSON")
      .option("--app <dir>", "app whose running gateway to tail", "."),
  ).action(async (opts: TailOptions) => {
    const { runTail } = await import("./tail.ts");
    setExit(await runTail(opts));
  });
}
