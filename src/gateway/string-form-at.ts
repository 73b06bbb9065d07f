import type { IncomingHttpHeaders } from "node:http";
import { type ContentMode, contentMode } from "../events/index.ts";
import type { GatewayOptions } from "./gateway-options.ts";
import type { StringFormCheck } from "./parse-json-body.ts";

/**
 * For a refused number at a pointer into a request body, finds the event type and data it belongs
 * to, by the request's content mode: in binary mode the body is the data of type `ce-type`; in
 * structured and short form it is under `/data` of the envelope; in batch under `/<i>/data`. A
 * webhook passes its one type (`fixedType`): its body is the data.
 */
export function stringFormAt(
  acceptsString: GatewayOptions["acceptsString"],
  headers: IncomingHttpHeaders,
  fixedType?: string,
): StringFormCheck {
  const mode: ContentMode | "webhook" | undefined =
    fixedType === undefined ? contentMode(headers) : "webhook";
  return (document, pointer) => {
    if (acceptsString === undefined || mode === undefined) return undefined;
    const target = locate(mode, headers, document, pointer, fixedType);
    if (target === undefined) return undefined;
    const accepts = acceptsString(target.type, target.data, target.pointer);
    return accepts === undefined ? undefined : { type: target.type, accepts };
  };
}

function locate(
  mode: ContentMode | "webhook",
  headers: IncomingHttpHeaders,
  document: unknown,
  pointer: string,
  fixedType: string | undefined,
): { type: string; data: unknown; pointer: string } | undefined {
  if (mode === "webhook")
    return fixedType === undefined ? undefined : { type: fixedType, data: document, pointer };
  if (mode === "binary") {
    const type = headers["ce-type"];
    return typeof type === "string" ? { type, data: document, pointer } : undefined;
  }
  let envelope = document;
  let rest = pointer;
  if (mode === "batch") {
    const match = /^\/(\d+)(\/.*)$/.exec(pointer);
    if (!match || !Array.isArray(document)) return undefined;
    envelope = document[Number(match[1])];
    rest = match[2] ?? "";
  }
  if (typeof envelope !== "object" || envelope === null) return undefined;
  if (rest !== "/data" && !rest.startsWith("/data/")) return undefined;
  const { type, data } = envelope as { type?: unknown; data?: unknown };
  return typeof type === "string" ? { type, data, pointer: rest.slice("/data".length) } : undefined;
}
