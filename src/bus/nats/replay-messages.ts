/**
 * Replay messages: "deliver stored event `seq` to this target again", on
 * `palisade.<app>.rp.<target>` (a work-queue stream, so a taken replay leaves it). They carry the
 * replay's provenance (a requeue has none) and, with the platform's `mac`, an authentication code:
 * one without a valid code is refused at take, never invoked.
 */
import type { JetStreamClient, JsMsg } from "@nats-io/jetstream";
import { headers } from "@nats-io/transport-node";
import type { Replay } from "../event-log.ts";
import { encodeToken, type NatsNames } from "./names.ts";

const SEQ = "Pal-Seq";
const BY = "Pal-By";
const AT = "Pal-At";
const MAC = "Pal-Mac";

/** What a replay message asks for. */
export interface ReplayRequest {
  readonly seq: number;
  readonly replay?: Replay;
  /** False when the platform signs replays and this one's code is missing or wrong. */
  readonly authentic: boolean;
}

/** Publishes a replay of `seq` to `target`; `msgID` dedupes a repeated request. */
export async function publishReplay(
  js: JetStreamClient,
  names: NatsNames,
  mac: ((text: string) => string) | undefined,
  request: { seq: number; target: string; replay?: Replay; msgID?: string },
): Promise<void> {
  const h = headers();
  h.set(SEQ, String(request.seq));
  if (request.replay !== undefined) {
    h.set(BY, encodeURIComponent(request.replay.by));
    h.set(AT, String(request.replay.at));
  }
  if (mac !== undefined) h.set(MAC, mac(signed(request.target, request.seq, request.replay)));
  await js.publish(`${names.replays}.${encodeToken(request.target)}`, undefined, {
    headers: h,
    retries: 3,
    ...(request.msgID === undefined ? {} : { msgID: request.msgID }),
  });
}

/** Reads a replay message taken for `target`. */
export function replayOf(
  m: JsMsg,
  target: string,
  mac: ((text: string) => string) | undefined,
): ReplayRequest {
  const seq = Number(m.headers?.get(SEQ));
  const by = m.headers?.get(BY) ?? "";
  let replay: Replay | undefined;
  if (by !== "") {
    try {
      replay = { by: decodeURIComponent(by), at: Number(m.headers?.get(AT)) };
    } catch {
      replay = undefined;
    }
  }
  const code = m.headers?.get(MAC) ?? "";
  const authentic =
    Number.isSafeInteger(seq) && (mac === undefined || code === mac(signed(target, seq, replay)));
  return { seq: Number.isSafeInteger(seq) ? seq : 0, ...(replay === undefined ? {} : { replay }), authentic };
}

function signed(target: string, seq: number, replay: Replay | undefined): string {
  return `replay\n${target}\n${seq}\n${replay?.by ?? ""}\n${replay?.at ?? ""}`;
}
