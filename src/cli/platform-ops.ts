import type { InvokeReport } from "../invoke-once.ts";
import type { AppModel, TlsSpec } from "../manifest/index.ts";
import type { Logger, Metrics } from "../observe/index.ts";
import type { PreparedApp } from "../prepare-app.ts";
import type { BuiltFunction } from "../supply/index.ts";

/** Which parts of the platform a process runs (DESIGN §6): all, ingress only, or dispatch only. */
export type Role = "all" | "gateway" | "worker";

/**
 * The NATS flags as given (`--nats`, `--nats-creds`, `--nats-ca`, `--nats-monitor`, `--replicas`,
 * `--accept-lazy-fsync`; `PALISADE_NATS_URL`): the platform parses and checks them.
 */
export interface NatsFlags {
  nats?: string;
  natsCreds?: string;
  natsCa?: string;
  natsMonitor?: string;
  replicas?: number;
  acceptLazyFsync?: boolean;
}

/** What `dev`, `start`, `gateway` and `worker` ask of a platform they start. */
export interface ServeRequest {
  /** @default "all" */
  role?: Role;
  /** `dev` warns where `start` refuses (an unreplicated, lazily synced stream). @default "dev" */
  mode?: "dev" | "start";
  /** Run on NATS JetStream instead of the embedded store when `nats` (or PALISADE_NATS_URL) is set. */
  nats?: NatsFlags;
  appDir: string;
  logger: Logger;
  /** 0 picks a free port. */
  port: number;
  host: string;
  allowBreaking?: boolean;
  /** TLS files from `--tls-cert`, `--tls-key`, `--tls-client-ca`; override the manifest's `tls:`. */
  tls?: TlsSpec;
  /** Create the master key if the app has none (dev); `start` refuses instead. */
  createKeys?: boolean;
  /** Create the audit key if missing though the audit log has signed checkpoints. @default createKeys */
  createAuditKey?: boolean;
  /** Metrics kept across restarts in one process (`dev` reloads), so counters go on. @default a new set */
  metrics?: Metrics;
}

/** A platform running in this process, as the CLI sees it. */
export interface RunningPlatform {
  readonly url: string;
  close(): Promise<void>;
}

/**
 * The platform operations the commands call. The composition root (`src/main.ts`) builds them and
 * passes them to `main`; the CLI itself never starts a gateway or a sandbox.
 */
export interface PlatformOps {
  /** Manifest, schema changes and verified bundles: `dev` builds and signs, `prebuilt` takes `dist/`. */
  prepareApp(
    appDir: string,
    allowBreaking?: boolean,
    prebuilt?: boolean,
    allowDowngrade?: boolean,
    onBuilt?: (done: number, total: number, fn: string) => void,
  ): Promise<PreparedApp>;
  /** Gateway, dispatcher and sandboxes in this process (preparing the app first unless given). */
  startPlatform(options: ServeRequest, prepared?: PreparedApp): Promise<RunningPlatform>;
  /** Bundles and signs every function of `app` into `outDir/<function>/`. */
  buildSigned(app: AppModel, outDir: string): Promise<readonly BuiltFunction[]>;
  /** One function, once, in its sandbox with its grants; emits recorded, not published. */
  invokeOnce(appDir: string, fn: string, type: string | undefined, data: unknown): Promise<InvokeReport>;
}
