import type { KeyObject } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { loadApp, MANIFEST_FILE } from "../../manifest/index.ts";
import { loadEventTrust } from "../../security/index.ts";
import {
  CORE_ATTRIBUTES,
  dataSpans,
  loadVerifyingKeys,
  type VerifiableEvent,
  verifyEvent,
} from "../../verifiable/index.ts";
import { EXIT_FAILURE, EXIT_OK } from "../exit-codes.ts";
import { usageError } from "../usage-error.ts";

export interface VerifyEventOptions {
  app: string;
  /** `keyid=file.pem`, repeatable. */
  key?: string[];
  jwks?: string;
  principal?: string;
  json?: boolean;
}

/**
 * `palisade verify-event <file|->`: verifies CloudEvents in the JSON format (one event, or a batch
 * array) per the verifiability extension, against `--key id=pem` / `--jwks` keys, or a principal's
 * declared keys (`--principal`), or by default the app's own event keys (what Palisade signed: its
 * emits, platform events and sink deliveries). Prints each verified event as the spec's strict mode
 * returns it (core attributes, data and the signed extensions only), or why it must be discarded;
 * exit 1 when any must be.
 */
export async function runVerifyEvent(input: string, opts: VerifyEventOptions): Promise<number> {
  const text = input === "-" ? await readStdin() : readInput(input);
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw usageError(
      `Cannot verify: the input is not JSON (${(err as Error).message}); pass a CloudEvent in the JSON format`,
    );
  }
  const events = Array.isArray(parsed) ? parsed : [parsed];
  const spans = dataSpans(text);
  const keys = keysOf(opts);
  let failed = 0;
  const results = events.map((event, i) => {
    if (typeof event !== "object" || event === null || Array.isArray(event))
      return { verified: false, reason: "envelope", message: "is not a JSON object" };
    const record = event as Record<string, unknown>;
    const result = verifyEvent(verifiable(record, spans?.[i]), materialOf(record), keys);
    if (!result.ok) {
      failed += 1;
      return { verified: false, reason: result.reason, message: result.message };
    }
    return { verified: true, keyid: result.keyid, event: strict(record, result.signedextattrs) };
  });
  if (opts.json) {
    const out = Array.isArray(parsed) ? results : results[0];
    process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
  } else {
    results.forEach((r, i) => {
      const at = Array.isArray(parsed) ? `[${i}] ` : "";
      if (r.verified)
        process.stdout.write(`${at}verified by key "${r.keyid}"\n${JSON.stringify(r.event, null, 2)}\n`);
      else process.stderr.write(`${at}must be discarded (${r.reason}): ${r.message}\n`);
    });
  }
  return failed === 0 ? EXIT_OK : EXIT_FAILURE;
}

function materialOf(record: Record<string, unknown>): string | undefined {
  const m = record.dssematerial;
  return typeof m === "string" ? m : undefined;
}

function verifiable(
  record: Record<string, unknown>,
  span: { raw: string | undefined; trimmed: string | undefined; base64: string | undefined } | undefined,
): VerifiableEvent {
  const attributes: Record<string, string | number | boolean> = {};
  for (const [name, value] of Object.entries(record)) {
    if (name === "data" || name === "data_base64" || name === "dssematerial") continue;
    if (typeof value === "string" || typeof value === "number" || typeof value === "boolean")
      attributes[name] = value;
  }
  if (span?.base64 !== undefined) return { attributes, data: Buffer.from(span.base64, "base64") };
  if (span?.raw === undefined) return { attributes, data: new Uint8Array(0) };
  const alternatives = [span.trimmed, typeof record.data === "string" ? record.data : undefined]
    .filter((t): t is string => t !== undefined && t !== span.raw)
    .map((t) => Buffer.from(t));
  return { attributes, data: Buffer.from(span.raw), dataAlternatives: alternatives };
}

/** Strict mode: the core attributes, the data and the signed extensions; nothing unsigned. */
function strict(record: Record<string, unknown>, signed: readonly string[]): Record<string, unknown> {
  const keep = new Set([...CORE_ATTRIBUTES, ...signed, "data", "data_base64"]);
  return Object.fromEntries(Object.entries(record).filter(([name]) => keep.has(name)));
}

function keysOf(opts: VerifyEventOptions): ReadonlyMap<string, KeyObject> {
  const given = opts.key !== undefined || opts.jwks !== undefined;
  if (given && opts.principal !== undefined)
    throw usageError("--principal takes that principal's declared keys; do not also pass --key or --jwks");
  if (given) {
    const keys = new Map<string, KeyObject>();
    try {
      for (const entry of opts.key ?? []) {
        const at = entry.indexOf("=");
        if (at <= 0) throw usageError(`--key "${entry}" must be <keyid>=<public key PEM file>`);
        const one = loadVerifyingKeys(
          { keys: [{ keyid: entry.slice(0, at), publicKey: entry.slice(at + 1) }] },
          process.cwd(),
        );
        for (const [id, key] of one) keys.set(id, key);
      }
      if (opts.jwks !== undefined)
        for (const [id, key] of loadVerifyingKeys({ jwks: opts.jwks }, process.cwd())) keys.set(id, key);
    } catch (err) {
      throw usageError(`Cannot verify: ${(err as Error).message}`);
    }
    return keys;
  }
  if (!existsSync(join(opts.app, MANIFEST_FILE)))
    throw usageError(
      `Cannot verify: no keys given and no ${MANIFEST_FILE} in "${resolve(opts.app)}"; pass --key <keyid>=<pem>, --jwks <file>, or --app <dir> (its event keys, or --principal <name>'s)`,
    );
  if (opts.principal === undefined) return loadEventTrust(opts.app);
  const app = loadApp(opts.app);
  const principal = app.principals.get(opts.principal);
  if (principal === undefined)
    throw usageError(
      `Cannot verify: no principal "${opts.principal}"; declared: ${[...app.principals.keys()].join(", ")}`,
    );
  if (principal.signing === undefined)
    throw usageError(
      `Cannot verify: principal "${opts.principal}" declares no signing keys (principals.${opts.principal}.signing)`,
    );
  return principal.signing.keys;
}

function readInput(file: string): string {
  if (!existsSync(file))
    throw usageError(`Cannot verify: file "${file}" does not exist; pass a file or - for stdin`);
  return readFileSync(file, "utf8");
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}
