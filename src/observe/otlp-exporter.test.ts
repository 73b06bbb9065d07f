import assert from "node:assert/strict";
import { test } from "node:test";
import { otlpProtocolFromEnv } from "./otlp-exporter.ts";

const ENDPOINT = { OTEL_EXPORTER_OTLP_ENDPOINT: "http://127.0.0.1:4318" };

test("the OTLP protocol defaults to http/protobuf and the traces variable wins over the general one", () => {
  assert.equal(otlpProtocolFromEnv({}), undefined, "no endpoint: nothing is exported");
  assert.equal(otlpProtocolFromEnv(ENDPOINT), "http/protobuf");
  assert.equal(otlpProtocolFromEnv({ ...ENDPOINT, OTEL_EXPORTER_OTLP_PROTOCOL: "http/json" }), "http/json");
  assert.equal(
    otlpProtocolFromEnv({
      OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: "http://127.0.0.1:4318/v1/traces",
      OTEL_EXPORTER_OTLP_PROTOCOL: "grpc",
      OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: "http/json",
    }),
    "http/json",
  );
});

test("grpc and unknown protocols are refused naming the variable and the supported values", () => {
  assert.throws(
    () => otlpProtocolFromEnv({ ...ENDPOINT, OTEL_EXPORTER_OTLP_PROTOCOL: "grpc" }),
    (err: { code?: string; message?: string }) =>
      err.code === "PAL_OBSERVE_OTEL_ENV" &&
      /OTEL_EXPORTER_OTLP_PROTOCOL is "grpc"/.test(err.message ?? "") &&
      /"http\/protobuf" \(the default\) or "http\/json"/.test(err.message ?? ""),
  );
  assert.throws(
    () => otlpProtocolFromEnv({ ...ENDPOINT, OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: "http/xml" }),
    /OTEL_EXPORTER_OTLP_TRACES_PROTOCOL is "http\/xml": it is not an OTLP protocol Palisade supports/,
  );
});
