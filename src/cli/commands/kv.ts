import { auditCommand, openAppKv } from "../../app-files.ts";
import { AUDIT_KIND } from "../../audit/index.ts";
import { PalisadeError } from "../../errors.ts";
import { type AppModel, loadApp } from "../../manifest/index.ts";
import { EXIT_OK } from "../exit-codes.ts";
import { usageError } from "../usage-error.ts";

/** Flags of `palisade kv list`. */
export interface KvListOptions {
  app: string;
  function?: string;
  namespace?: string;
  prefix?: string;
  limit: number;
  json?: boolean;
}

/** Flags of `palisade kv get`. */
export interface KvGetOptions {
  app: string;
  namespace?: string;
  json?: boolean;
}

/** A key `kv get` did not find: exit 1. */
export const KV_KEY_NOT_FOUND = "PAL_CLI_KV_KEY_NOT_FOUND";

/** One namespace as `kv list` prints it. */
export interface KvNamespaceKeys {
  readonly namespace: string;
  /** Function → `read` or `readwrite`, as palisade.yaml grants it. */
  readonly grants: Readonly<Record<string, string>>;
  readonly keys: readonly string[];
  /** Present when more keys follow: the last key shown. */
  readonly next?: string;
}

/** Keys one read of the store returns (the store's own most per list call). */
const PAGE = 1000;

/**
 * `palisade kv list`: the keys of each kv namespace the manifest grants (or those of `--function`),
 * with who may use it, read from this machine's `.palisade/kv.db` beside a running app or not.
 * Values are not printed: `kv get` reads one, audited.
 */
export async function runKvList(opts: KvListOptions): Promise<number> {
  const app = loadApp(opts.app);
  const namespaces = namespacesOf(app, opts);
  const kv = openAppKv(app);
  const rows: KvNamespaceKeys[] = [];
  try {
    for (const namespace of namespaces) {
      const { keys, next } = kv === undefined ? { keys: [] } : await keysOf(kv, namespace, opts);
      rows.push({
        namespace,
        grants: grantsOf(app, namespace),
        keys,
        ...(next === undefined ? {} : { next }),
      });
    }
  } finally {
    await kv?.close();
  }
  if (opts.json) process.stdout.write(`${JSON.stringify(rows)}\n`);
  else printNamespaces(rows, opts.function);
  return EXIT_OK;
}

/**
 * `palisade kv get <function> <key>`: one value of the function's namespace (its only one, or
 * `--namespace`), decrypted with the app's key ring as ctx.kv.get reads it. Printing a value is
 * audited as `kv.read` (subject: the namespace; the key and function in its details).
 */
export async function runKvGet(fn: string, key: string, opts: KvGetOptions): Promise<number> {
  const app = loadApp(opts.app);
  const namespace = namespaceOf(app, fn, opts.namespace);
  const kv = openAppKv(app);
  let value: unknown;
  try {
    value = await kv?.get(namespace, key);
  } finally {
    await kv?.close();
  }
  if (value === undefined)
    throw new PalisadeError(
      KV_KEY_NOT_FOUND,
      `No key "${key}" in kv namespace "${namespace}" (function "${fn}"); palisade kv list --function ${fn} lists its keys`,
      { status: 404 },
    );
  auditCommand(opts.app, {
    kind: AUDIT_KIND.kvRead,
    subject: namespace,
    outcome: "allowed",
    details: { key, function: fn },
  });
  process.stdout.write(
    opts.json
      ? `${JSON.stringify({ function: fn, namespace, key, value })}\n`
      : `${JSON.stringify(value, null, 2)}\n`,
  );
  return EXIT_OK;
}

type OpenKv = NonNullable<ReturnType<typeof openAppKv>>;

async function keysOf(
  kv: OpenKv,
  namespace: string,
  opts: KvListOptions,
): Promise<{ keys: string[]; next?: string }> {
  const keys: string[] = [];
  let after: string | undefined;
  while (keys.length < opts.limit) {
    const page = await kv.list(namespace, {
      limit: Math.min(PAGE, opts.limit - keys.length),
      ...(opts.prefix === undefined ? {} : { prefix: opts.prefix }),
      ...(after === undefined ? {} : { after }),
    });
    keys.push(...page.keys);
    if (page.next === undefined) return { keys };
    after = page.next;
  }
  return { keys, ...(after === undefined ? {} : { next: after }) };
}

/** The namespaces to list: `--namespace`, else those `--function` is granted, else every granted one. */
function namespacesOf(app: AppModel, opts: KvListOptions): string[] {
  const granted =
    opts.function === undefined
      ? [...app.functions.values()].flatMap((f) => Object.keys(f.kv))
      : Object.keys(functionOf(app, opts.function).kv);
  const all = [...new Set(granted)].sort();
  if (opts.namespace === undefined) return all;
  if (opts.function !== undefined && !all.includes(opts.namespace))
    throw usageError(
      `Function "${opts.function}" is not granted kv namespace "${opts.namespace}"; its namespaces: ${quoted(all)}`,
    );
  return [opts.namespace];
}

/** The namespace `kv get` reads: `--namespace` if the function is granted it, else its only one. */
function namespaceOf(app: AppModel, fn: string, namespace: string | undefined): string {
  const granted = Object.keys(functionOf(app, fn).kv).sort();
  if (granted.length === 0)
    throw usageError(`Function "${fn}" is granted no kv namespace (kv: in palisade.yaml)`);
  if (namespace === undefined) {
    if (granted.length === 1) return granted[0] as string;
    throw usageError(`Function "${fn}" uses kv namespaces ${quoted(granted)}: pass --namespace <ns>`);
  }
  if (!granted.includes(namespace))
    throw usageError(
      `Function "${fn}" is not granted kv namespace "${namespace}"; its namespaces: ${quoted(granted)}`,
    );
  return namespace;
}

function functionOf(app: AppModel, name: string) {
  const fn = app.functions.get(name);
  if (fn !== undefined) return fn;
  throw usageError(`No function "${name}" in palisade.yaml; functions: ${quoted([...app.functions.keys()])}`);
}

function grantsOf(app: AppModel, namespace: string): Record<string, string> {
  return Object.fromEntries(
    [...app.functions.values()].flatMap((f) =>
      Object.hasOwn(f.kv, namespace) ? [[f.name, String(f.kv[namespace])]] : [],
    ),
  );
}

function printNamespaces(rows: readonly KvNamespaceKeys[], fn: string | undefined): void {
  if (rows.length === 0)
    process.stdout.write(
      fn === undefined
        ? "no function is granted a kv namespace\n"
        : `function "${fn}" is granted no kv namespace\n`,
    );
  for (const r of rows) {
    const who = Object.entries(r.grants)
      .map(([f, mode]) => `${f}: ${mode}`)
      .join(", ");
    process.stdout.write(`${r.namespace}  (${who === "" ? "no function granted" : who})\n`);
    if (r.keys.length === 0) process.stdout.write("  (no keys)\n");
    for (const key of r.keys) process.stdout.write(`  ${key}\n`);
    if (r.next !== undefined)
      process.stdout.write("  … more keys (raise --limit, or narrow with --prefix)\n");
  }
}

function quoted(names: readonly string[]): string {
  return names.length === 0 ? "none" : names.map((n) => `"${n}"`).join(", ");
}
