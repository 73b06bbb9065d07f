/**
 * `palisade invoke`: one function, once, in its sandbox, with the same grants, stores and egress
 * policy as in `dev`; its emits are checked and recorded, not published.
 */
import { randomUUID } from "node:crypto";
import { rmSync } from "node:fs";
import { openAppKeyRing } from "./app-files.ts";
import { PalisadeError, toPalisadeError } from "./errors.ts";
import { type CloudEvent, createEvent, EVENT_HOP_LIMIT, PLATFORM_EVENT_TYPES } from "./events/index.ts";
import { type OpenCapabilities, openCapabilities, startPools } from "./function-runtime.ts";
import { createLogger } from "./observe/index.ts";
import { prepareApp, schemasOf } from "./prepare-app.ts";
import type { SandboxPool } from "./runtime/index.ts";
import { createSchemaRegistry } from "./schema/index.ts";

/** `palisade invoke` named a function or type the app does not have. */
export const INVOKE_UNKNOWN_FUNCTION = "PAL_INVOKE_UNKNOWN_FUNCTION";

/** What one `palisade invoke` run did. */
export interface InvokeReport {
  readonly event: CloudEvent;
  /** The handler's return value (undefined when it returned nothing or failed). */
  readonly result: unknown;
  /** Set when the handler threw, timed out or crashed. */
  readonly error?: { code: string; message: string };
  /** Events it emitted: checked against grants and schemas, then recorded here, not published. */
  readonly emits: readonly { type: string; data: unknown; id: string }[];
  readonly logs: readonly { level: string; message: string; fields: Record<string, unknown> }[];
}

/**
 * Runs one function once in its sandbox, with the same grant checks, stores and egress policy as
 * in `dev`, on an event of `type` with `data` (validated against the type's schema first). Emits
 * are validated and recorded, not published, so nothing downstream runs.
 */
export async function invokeOnce(
  appDir: string,
  fnName: string,
  type: string | undefined,
  data: unknown,
): Promise<InvokeReport> {
  const prepared = await prepareApp(appDir);
  const { app } = prepared;
  const pools = new Map<string, SandboxPool>();
  let capabilities: OpenCapabilities | undefined;
  try {
    const target = prepared.bundles.find((b) => b.fn.name === fnName);
    if (target === undefined)
      throw new PalisadeError(
        INVOKE_UNKNOWN_FUNCTION,
        `No function named "${fnName}"; functions are: ${[...app.functions.keys()].join(", ")}`,
      );
    const exact = target.fn.on.filter((t) => !t.endsWith("*"));
    const eventType = type ?? (exact.length === 1 ? exact[0] : undefined);
    if (eventType === undefined)
      throw new PalisadeError(
        INVOKE_UNKNOWN_FUNCTION,
        `Function "${fnName}" subscribes to ${target.fn.on.join(", ")}; say which type with --type`,
      );
    const registry = createSchemaRegistry(
      new Map([...schemasOf(app), ...PLATFORM_EVENT_TYPES]),
      prepared.schemaVersions,
    );
    registry.assertValid(eventType, data);
    const event = createEvent(
      { type: eventType, data },
      {
        principal: "cli:invoke",
        source: "palisade://cli/invoke",
        hop: 0,
        schemaversion: registry.version(eventType),
      },
    );
    const emits: { type: string; data: unknown; id: string }[] = [];
    const logs: { level: string; message: string; fields: Record<string, unknown> }[] = [];
    const logger = createLogger({
      level: "debug",
      destination: {
        write(line: string) {
          const { level, msg, fn, eventId, time, pid, hostname, ...fields } = JSON.parse(line) as Record<
            string,
            unknown
          >;
          if (fn === fnName && eventId === event.id)
            logs.push({ level: levelName(level), message: String(msg), fields });
        },
      },
    });
    capabilities = openCapabilities(
      app,
      async (inv, emitType, emitData) => {
        if (inv.event.hop + 1 > app.hopLimit)
          throw new PalisadeError(
            EVENT_HOP_LIMIT,
            `Cannot emit "${emitType}": event chain is deeper than ${app.hopLimit} hops`,
          );
        registry.assertValid(emitType, emitData);
        const id = randomUUID();
        emits.push({ type: emitType, data: emitData, id });
        return id;
      },
      logger,
      openAppKeyRing(app.dir),
    );
    await startPools(app, [target], capabilities, logger, pools);
    const pool = pools.get(fnName);
    try {
      const result = await pool?.invoke(event, 1);
      return { event, result, emits, logs };
    } catch (err) {
      const e = toPalisadeError(err);
      return { event, result: undefined, error: { code: e.code, message: e.message }, emits, logs };
    }
  } finally {
    await Promise.all([...pools.values()].map((p) => p.close()));
    await capabilities?.close();
    if (prepared.buildDir !== undefined) rmSync(prepared.buildDir, { recursive: true, force: true });
  }
}

function levelName(level: unknown): string {
  const names: Record<number, string> = { 20: "debug", 30: "info", 40: "warn", 50: "error" };
  return names[Number(level)] ?? String(level);
}
