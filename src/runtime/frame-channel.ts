/**
 * The host's end of the channel to a sandbox process: an extra stdio pipe (fd 3) carrying frames of
 * a 4-byte big-endian length followed by that many bytes of `v8.serialize(message)`. Node's built-in
 * IPC channel buffers each message whole before anyone can look at it (a function sent 96 MB at
 * once); here the length is read first, and a frame over the bound is refused before its body is
 * buffered: the channel stops reading and the caller kills the process.
 */
import type { Duplex } from "node:stream";
import { deserialize, serialize } from "node:v8";
import type { HostMessage } from "./guest/protocol.ts";

/** Bytes of the length prefix of each frame. */
export const FRAME_HEADER_BYTES = 4;

export interface FrameChannelHandlers {
  /** A whole frame arrived and was deserialized: a claim to check (checkMessage), never a fact. */
  onMessage(raw: unknown): void;
  /** A frame announced `bytes`, over the bound; nothing more is read. */
  onTooLarge(bytes: number): void;
  /** A frame could not be deserialized; nothing more is read. */
  onMalformed(): void;
  /** The process closed its end (or died): it can no longer answer. */
  onClosed(): void;
}

export interface FrameChannel {
  send(msg: HostMessage): void;
  /** Bytes held now while waiting for the rest of a frame (never more than the bound plus a chunk). */
  buffered(): number;
  close(): void;
}

/** Opens a framed channel on `socket`, refusing any frame larger than `maxBytes`. */
export function openFrameChannel(
  socket: Duplex,
  maxBytes: number,
  handlers: FrameChannelHandlers,
): FrameChannel {
  let chunks: Buffer[] = [];
  let held = 0;
  /** Body length of the frame being read, once its header is in. */
  let expected: number | undefined;
  let stopped = false;

  const stop = (): void => {
    stopped = true;
    chunks = [];
    held = 0;
    socket.destroy();
  };
  const take = (n: number): Buffer => {
    const all = chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, held);
    chunks = all.length > n ? [all.subarray(n)] : [];
    held -= n;
    return all.subarray(0, n);
  };

  function readFrames(): void {
    while (!stopped) {
      if (expected === undefined) {
        if (held < FRAME_HEADER_BYTES) return;
        expected = take(FRAME_HEADER_BYTES).readUInt32BE(0);
        if (expected > maxBytes) {
          const bytes = expected;
          stop();
          handlers.onTooLarge(bytes);
          return;
        }
      }
      if (held < expected) return;
      const body = take(expected);
      expected = undefined;
      let raw: unknown;
      try {
        raw = deserialize(body);
      } catch {
        stop();
        handlers.onMalformed();
        return;
      }
      handlers.onMessage(raw);
    }
  }

  socket.on("data", (chunk: Buffer) => {
    if (stopped) return;
    chunks.push(chunk);
    held += chunk.length;
    readFrames();
  });
  // A broken pipe ends in "close" too; the process's exit is handled by the caller.
  socket.on("error", () => undefined);
  let ended = false;
  const closed = (): void => {
    if (stopped || ended) return;
    ended = true;
    handlers.onClosed();
  };
  socket.on("end", closed);
  socket.on("close", closed);

  return {
    send(msg) {
      if (stopped || socket.destroyed || !socket.writable) return;
      const body = serialize(msg);
      const header = Buffer.alloc(FRAME_HEADER_BYTES);
      header.writeUInt32BE(body.length, 0);
      socket.write(Buffer.concat([header, body]));
    },
    buffered: () => held,
    close() {
      if (!stopped) stop();
    },
  };
}
