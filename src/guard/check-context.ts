import { relative, sep } from "node:path";
import {
  type AppModel,
  formatPath,
  type LocatedDocument,
  type ManifestPath,
  readLocated,
} from "../manifest/index.ts";
import type { Location } from "./finding.ts";
import { buildFlowGraph, type FlowGraph } from "./flow-graph.ts";
import { type AuditOutcome, type AuditRunner, auditDependencies } from "./npm-audit.ts";
import { type SecretRead, scanSecretReads } from "./scan-secret-reads.ts";

/** How `palisade check` is run. */
export interface CheckOptions {
  /** Address the gateway will listen on. @default "127.0.0.1" */
  readonly host?: string;
  /** TLS is configured outside the manifest (start's --tls-cert and --tls-key). @default false */
  readonly tls?: boolean;
  /** Plain HTTP off loopback is accepted because a proxy in front terminates TLS (start's --insecure-http). @default false */
  readonly insecureHttp?: boolean;
  /** Do not run the dependency audit (its rules report skipped). @default false */
  readonly offline?: boolean;
  /** Runs npm audit. @default runNpmAudit */
  readonly audit?: AuditRunner;
  /** The current time, for waiver expiry. @default new Date() */
  readonly now?: Date;
}

/** Everything a rule may look at, computed once per run. */
export interface CheckContext {
  readonly app: AppModel;
  /** palisade.yaml as plain values (the raw manifest, before defaults). */
  readonly manifest: Record<string, unknown>;
  readonly graph: FlowGraph;
  readonly audit: AuditOutcome;
  /** Per function, the `secrets.get` calls its code makes. */
  readonly secretReads: ReadonlyMap<string, readonly SecretRead[]>;
  readonly listen: { readonly host: string; readonly tls: boolean; readonly insecureHttp: boolean };
  /** Today in UTC, as YYYY-MM-DD. */
  readonly today: string;
  /** A location in palisade.yaml. */
  at(path: ManifestPath): Location;
  /** A location in another file of the app (absolute path), optionally at a path inside it (JSON, YAML). */
  inFile(file: string, inside?: ManifestPath): Location;
  /** A line of another file of the app whose fix is at `path` in palisade.yaml. */
  inSource(file: string, line: number, path: ManifestPath): Location;
}

/** Reads what the rules need: the manifest with positions, the flow graph and the dependency audit. */
export async function createCheckContext(app: AppModel, options: CheckOptions = {}): Promise<CheckContext> {
  const audit: AuditOutcome = options.offline
    ? { status: "skipped", reason: "offline: the dependency audit was not run" }
    : await auditDependencies(app.dir, options.audit);
  const docs = new Map<string, LocatedDocument | undefined>();
  const doc = (file: string) => {
    if (!docs.has(file)) docs.set(file, readLocated(file));
    return docs.get(file);
  };
  const rel = (file: string) => relative(app.dir, file).split(sep).join("/");
  const manifestValue = doc(app.manifestPath)?.value;
  return {
    app,
    manifest: isRecord(manifestValue) ? manifestValue : {},
    graph: buildFlowGraph(app),
    audit,
    secretReads: new Map(
      [...app.functions.values()].map((f) => [f.name, scanSecretReads(f.handlerPath, app.dir)]),
    ),
    listen: {
      host: options.host ?? "127.0.0.1",
      tls: options.tls === true || app.tls !== undefined,
      insecureHttp: options.insecureHttp === true,
    },
    today: (options.now ?? new Date()).toISOString().slice(0, 10),
    at: (path) =>
      withLine({ file: rel(app.manifestPath), path: formatPath(path) }, doc(app.manifestPath)?.line(path)),
    inFile: (file, inside) => {
      const path =
        inside === undefined || inside.length === 0 ? rel(file) : `${rel(file)}#${pointer(inside)}`;
      return withLine({ file: rel(file), path }, inside && doc(file)?.line(inside));
    },
    inSource: (file, line, path) => ({ file: rel(file), line, path: formatPath(path) }),
  };
}

function withLine(location: Location, line: number | undefined): Location {
  return line === undefined ? location : { ...location, line };
}

// RFC 6901: "~" is "~0" and "/" is "~1" inside a token.
function pointer(path: ManifestPath): string {
  return path.map((s) => `/${String(s).replaceAll("~", "~0").replaceAll("/", "~1")}`).join("");
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
