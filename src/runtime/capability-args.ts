/**
 * Checks of the arguments a sandbox passes to its capabilities (shape and size), and how the names it
 * sends are shown in logs and the audit log.
 */
import { PalisadeError } from "../errors.ts";
import { RUNTIME_BAD_CALL } from "./errors.ts";

const MAX_KEY_BYTES = 512;
const MAX_LIST = 1000;
const NAME_SHAPE = /^[A-Za-z0-9._:/[\]@-]{1,128}$/;

/** A name the sandbox sent, as logged: itself if it looks like a name, else a placeholder. */
export function shown(name: unknown): string {
  return typeof name === "string" && NAME_SHAPE.test(name) ? name : "(not a valid name)";
}

export function badCall(message: string): PalisadeError {
  return new PalisadeError(RUNTIME_BAD_CALL, message, { status: 400 });
}

/** Size of `value` as JSON in UTF-8 bytes; values JSON cannot carry are a bad call. */
export function jsonBytes(value: unknown, what: string): number {
  let json: string | undefined;
  try {
    json = JSON.stringify(value);
  } catch (err) {
    throw badCall(`${what} must be JSON-serializable: ${err instanceof Error ? err.message : String(err)}`);
  }
  return json === undefined ? 0 : Buffer.byteLength(json);
}

export function kvKey(k: unknown, call: string): string {
  if (typeof k !== "string" || k.length === 0) throw badCall(`${call}: key must be a non-empty string`);
  if (Buffer.byteLength(k) > MAX_KEY_BYTES)
    throw badCall(`${call}: key is longer than ${MAX_KEY_BYTES} bytes`);
  return k;
}

export function listOptions(raw: unknown): { prefix?: string; after?: string; limit: number } {
  const o = (raw ?? {}) as Record<string, unknown>;
  if (typeof o !== "object") throw badCall("ctx.kv.list(namespace, options): options must be an object");
  const limit = o.limit === undefined ? 100 : o.limit;
  if (typeof limit !== "number" || !Number.isInteger(limit) || limit < 1 || limit > MAX_LIST)
    throw badCall(`ctx.kv.list: limit must be an integer from 1 to ${MAX_LIST}`);
  for (const field of ["prefix", "after"] as const) {
    if (o[field] !== undefined && typeof o[field] !== "string")
      throw badCall(`ctx.kv.list: ${field} must be a string`);
  }
  return {
    limit,
    ...(typeof o.prefix === "string" ? { prefix: o.prefix } : {}),
    ...(typeof o.after === "string" ? { after: o.after } : {}),
  };
}
