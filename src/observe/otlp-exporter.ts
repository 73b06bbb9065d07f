import { OTLPTraceExporter as OtlpJsonExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { OTLPTraceExporter as OtlpProtobufExporter } from "@opentelemetry/exporter-trace-otlp-proto";
import type { SpanExporter } from "@opentelemetry/sdk-trace-base";
import { PalisadeError } from "../errors.ts";
import { OBSERVE_OTEL_ENV } from "./errors.ts";

/** The OTLP transports Palisade exports spans with; `http/protobuf` is the OTLP exporter spec's default. */
export const OTLP_PROTOCOLS = ["http/protobuf", "http/json"] as const;

export type OtlpProtocol = (typeof OTLP_PROTOCOLS)[number];

type Env = Readonly<Record<string, string | undefined>>;

/**
 * The OTLP span exporter the standard variables ask for: none unless OTEL_EXPORTER_OTLP_ENDPOINT or
 * OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is set; the protocol from OTEL_EXPORTER_OTLP_TRACES_PROTOCOL,
 * else OTEL_EXPORTER_OTLP_PROTOCOL, else `http/protobuf`. `grpc` and anything else are refused (the
 * exporter itself reads the endpoint, headers, timeout and compression variables).
 */
export function otlpExporterFromEnv(env: Env = process.env): SpanExporter | undefined {
  const protocol = otlpProtocolFromEnv(env);
  if (protocol === undefined) return undefined;
  return protocol === "http/json" ? new OtlpJsonExporter() : new OtlpProtobufExporter();
}

/**
 * The OTLP protocol spans are exported with, undefined when no endpoint is set (nothing exported);
 * throws when the protocol variable names one Palisade does not support.
 */
export function otlpProtocolFromEnv(env: Env = process.env): OtlpProtocol | undefined {
  if (!env.OTEL_EXPORTER_OTLP_ENDPOINT && !env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) return undefined;
  return otlpProtocol(env);
}

// The signal's own variable first, then the general one (OTLP exporter spec, "Configuration").
function otlpProtocol(env: Env): OtlpProtocol {
  const variable = env.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL
    ? "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"
    : env.OTEL_EXPORTER_OTLP_PROTOCOL
      ? "OTEL_EXPORTER_OTLP_PROTOCOL"
      : undefined;
  if (variable === undefined) return "http/protobuf";
  const value = (env[variable] ?? "").trim();
  if ((OTLP_PROTOCOLS as readonly string[]).includes(value)) return value as OtlpProtocol;
  const why =
    value === "grpc"
      ? "Palisade does not export spans over gRPC; point it at the collector's OTLP/HTTP port (4318) and"
      : "it is not an OTLP protocol Palisade supports;";
  throw new PalisadeError(
    OBSERVE_OTEL_ENV,
    `Cannot export spans: ${variable} is "${value.slice(0, 64)}": ${why} set it to "http/protobuf" (the default) or "http/json"`,
    { status: 400 },
  );
}
