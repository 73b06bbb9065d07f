import assert from "node:assert/strict";
import { duplexPair } from "node:stream";
import { test } from "node:test";
import { deserialize, serialize } from "node:v8";
import { FRAME_HEADER_BYTES, openFrameChannel } from "./frame-channel.ts";

const MiB = 1024 * 1024;

function frame(body: Buffer): Buffer {
  const header = Buffer.alloc(FRAME_HEADER_BYTES);
  header.writeUInt32BE(body.length, 0);
  return Buffer.concat([header, body]);
}

function open(maxBytes: number) {
  const [host, sandbox] = duplexPair();
  const seen = { messages: [] as unknown[], tooLarge: [] as number[], malformed: 0, closed: 0 };
  const channel = openFrameChannel(host, maxBytes, {
    onMessage: (m) => seen.messages.push(m),
    onTooLarge: (bytes) => seen.tooLarge.push(bytes),
    onMalformed: () => seen.malformed++,
    onClosed: () => seen.closed++,
  });
  return { channel, host, sandbox, seen };
}

const tick = () => new Promise((r) => setImmediate(r));

test("a frame announcing more than the bound is refused from its header, before its body is buffered", async () => {
  const { channel, host, sandbox, seen } = open(8 * MiB);
  sandbox.write(frame(serialize({ t: "ready" })));
  const header = Buffer.alloc(FRAME_HEADER_BYTES);
  header.writeUInt32BE(96 * MiB, 0);
  sandbox.write(header);
  await tick();
  assert.deepEqual(seen.tooLarge, [96 * MiB]);
  assert.equal(host.destroyed, true, "the channel stopped reading");
  // The body the sandbox goes on writing is never held by the host.
  sandbox.write(Buffer.alloc(MiB));
  await tick();
  assert.equal(channel.buffered(), 0);
  assert.deepEqual(seen.messages, [{ t: "ready" }], "the message before it was delivered");
  assert.equal(seen.closed, 0, "a stop by the host is not reported as the process closing");
});

test("frames split across chunks, and several in one chunk, arrive whole and in order", async () => {
  const { channel, sandbox, seen } = open(8 * MiB);
  const big = frame(serialize({ t: "log", blob: new Uint8Array(3 * MiB).fill(7) }));
  for (let i = 0; i < big.length; i += 65536) sandbox.write(big.subarray(i, i + 65536));
  sandbox.write(Buffer.concat([frame(serialize({ n: 1 })), frame(serialize({ n: 2 })).subarray(0, 3)]));
  sandbox.write(frame(serialize({ n: 2 })).subarray(3));
  await tick();
  assert.equal(seen.messages.length, 3);
  const first = seen.messages[0] as { blob: Uint8Array };
  assert.equal(first.blob.length, 3 * MiB);
  assert.equal(first.blob[3 * MiB - 1], 7);
  assert.deepEqual(seen.messages.slice(1), [{ n: 1 }, { n: 2 }]);
  assert.equal(channel.buffered(), 0);
  assert.deepEqual(seen.tooLarge, []);
});

test("a frame at exactly the bound is accepted", async () => {
  const body = serialize("x".repeat(1000));
  const { sandbox, seen } = open(body.length);
  sandbox.write(frame(body));
  await tick();
  assert.deepEqual(seen.messages, ["x".repeat(1000)]);
  assert.deepEqual(seen.tooLarge, []);
});

test("a frame whose body is not a serialized value stops the channel", async () => {
  const { host, sandbox, seen } = open(8 * MiB);
  sandbox.write(frame(Buffer.from("not v8 at all")));
  sandbox.write(frame(serialize({ t: "ready" })));
  await tick();
  assert.equal(seen.malformed, 1);
  assert.deepEqual(seen.messages, [], "nothing after the bad frame is read");
  assert.equal(host.destroyed, true);
});

test("messages the host sends arrive as frames the runner can read", async () => {
  const { channel, sandbox } = open(8 * MiB);
  const got = new Promise<Buffer>((resolve) => sandbox.once("data", resolve));
  channel.send({ t: "reply", call: 1, ok: true, value: new Uint8Array([1, 2, 3]) });
  const data = await got;
  assert.equal(data.readUInt32BE(0), data.length - FRAME_HEADER_BYTES);
  assert.deepEqual(deserialize(data.subarray(FRAME_HEADER_BYTES)), {
    t: "reply",
    call: 1,
    ok: true,
    value: new Uint8Array([1, 2, 3]),
  });
});

test("the process closing its end is reported once", async () => {
  const { sandbox, seen } = open(8 * MiB);
  sandbox.end();
  sandbox.destroy();
  await tick();
  await tick();
  assert.equal(seen.closed, 1);
});
