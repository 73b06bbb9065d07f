import type { IncomingMessage } from "node:http";

export interface RawReply {
  status: number;
  body: any;
  headers: IncomingMessage["headers"];
}

/** Collects a node:http(s) response: status, body (parsed as JSON when it is JSON) and headers. */
export function readReply(res: IncomingMessage): Promise<RawReply> {
  return new Promise((resolve, reject) => {
    let text = "";
    res.setEncoding("utf8");
    res.on("data", (chunk: string) => {
      text += chunk;
    });
    res.on("error", reject);
    res.on("end", () => {
      let body: unknown = text;
      try {
        body = JSON.parse(text);
      } catch {
        // not JSON: keep the text
      }
      resolve({ status: res.statusCode ?? 0, body, headers: res.headers });
    });
  });
}
