import { readFileSync } from "node:fs";
import {
  defaultResource,
  detectResources,
  envDetector,
  type Resource,
  resourceFromAttributes,
} from "@opentelemetry/resources";
import {
  ATTR_SERVICE_NAME,
  ATTR_SERVICE_NAMESPACE,
  ATTR_SERVICE_VERSION,
} from "@opentelemetry/semantic-conventions";
import { PalisadeError } from "../errors.ts";
import { OBSERVE_OTEL_ENV } from "./errors.ts";

/** `service.name` of Palisade's spans unless OTEL_SERVICE_NAME or OTEL_RESOURCE_ATTRIBUTES names another. */
export const DEFAULT_SERVICE_NAME = "palisade";

/**
 * The resource of Palisade's spans, the last source winning: the SDK's defaults (telemetry.sdk.*),
 * then `service.name` "palisade", `service.version` (Palisade's) and `service.namespace` (the app's
 * name, when given), then OTEL_RESOURCE_ATTRIBUTES and OTEL_SERVICE_NAME (the resource SDK spec's
 * order). A malformed OTEL_RESOURCE_ATTRIBUTES is refused: the SDK alone would drop it silently.
 */
export function tracingResource(app: string | undefined): Resource {
  checkResourceEnv();
  return defaultResource()
    .merge(
      resourceFromAttributes({
        [ATTR_SERVICE_NAME]: DEFAULT_SERVICE_NAME,
        [ATTR_SERVICE_VERSION]: palisadeVersion(),
        ...(app === undefined ? {} : { [ATTR_SERVICE_NAMESPACE]: app }),
      }),
    )
    .merge(detectResources({ detectors: [envDetector] }));
}

/** Refuses an OTEL_RESOURCE_ATTRIBUTES the resource SDK would drop, naming the entry at fault. */
export function checkResourceEnv(): void {
  const raw = process.env.OTEL_RESOURCE_ATTRIBUTES;
  const problem = raw === undefined ? undefined : resourceAttributesProblem(raw);
  if (problem !== undefined)
    throw new PalisadeError(
      OBSERVE_OTEL_ENV,
      `Cannot read OTEL_RESOURCE_ATTRIBUTES: ${problem}; write it as key=value pairs separated by commas, with "," and "=" inside keys and values percent-encoded (service.namespace=shop,deployment.environment.name=staging)`,
      { status: 400 },
    );
}

// What the resource SDK spec asks of OTEL_RESOURCE_ATTRIBUTES (and the env detector checks, dropping
// the whole value on any failure): key=value list members, keys not empty, values percent-decodable.
function resourceAttributesProblem(raw: string): string | undefined {
  for (const member of raw.split(",")) {
    if (member.trim() === "") continue;
    const [key, value, extra] = member.split("=");
    const quoted = `"${member.trim().slice(0, 64)}"`;
    if (value === undefined || extra !== undefined) return `${quoted} is not one key=value pair`;
    if (key?.trim() === "") return `${quoted} has an empty key`;
    try {
      if (decodeURIComponent(key ?? "").length > 255 || decodeURIComponent(value).length > 255)
        return `${quoted} has a key or value longer than 255 characters`;
    } catch {
      return `${quoted} is not valid percent-encoding`;
    }
  }
  return undefined;
}

/** Palisade's own version, from its package.json (read once per tracing, at start). */
function palisadeVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as {
    version?: unknown;
  };
  return typeof pkg.version === "string" ? pkg.version : "unknown";
}
