/**
 * `palisade send --sign-key` and `palisade verify-event` against a running `palisade dev`: a signed
 * send is accepted and stored verified under the key id the principal declares; a key id it does
 * not declare is refused with the reason; verify-event checks a file with given keys.
 */
import assert from "node:assert/strict";
import { generateKeyPairSync } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { signEvent } from "../src/verifiable/index.ts";
import { startDev, stop } from "./kit/cli-process.ts";
import { palisade, palisadeJson } from "./kit/cli-run.ts";
import { TEST_KEY } from "./kit/http.ts";
import { setSecret, tempApp } from "./kit/temp-app.ts";

const { publicKey, privateKey } = generateKeyPairSync("ed25519");

test("send --sign-key signs what it sends; the gateway stores it verified, and refuses a key id it does not know", async (t) => {
  const dir = tempApp(t, {
    "palisade.yaml": `name: signed-cli
events:
  order.placed: { schema: schemas/order.json }
principals:
  tester:
    apiKey: { secret: TEST_KEY }
    publish: [order.placed]
    signing: { keys: [{ keyid: shop-ed, publicKey: keys/shop-ed.pem }] }
functions: {}
`,
    "schemas/order.json": {
      type: "object",
      required: ["orderId"],
      properties: { orderId: { type: "string" } },
    },
    "keys/shop-ed.pem": publicKey.export({ type: "spki", format: "pem" }) as string,
    "keys/shop-ed.key": privateKey.export({ type: "pkcs8", format: "pem" }) as string,
  });
  setSecret(dir, "TEST_KEY", TEST_KEY);
  const dev = await startDev(dir);
  t.after(() => stop(dev.child));
  const key = join(dir, "keys/shop-ed.key");

  const unsigned = await palisade(["send", "order.placed", '{"orderId":"o-0"}', "--app", dir]);
  assert.equal(unsigned.status, 1);
  assert.match(unsigned.stderr, /403 PAL_GATEWAY_UNSIGNED/);

  const sent = (await palisadeJson([
    "send",
    "order.placed",
    '{"orderId":"o-1"}',
    "--app",
    dir,
    "--sign-key",
    key,
  ])) as {
    ids: string[];
  };
  const shown = (await palisadeJson(["events", "show", sent.ids[0] as string, "--app", dir])) as {
    copies: { event: { verified?: string; source: string } }[];
  };
  const event = shown.copies[0]?.event;
  assert.equal(event?.verified, "shop-ed", JSON.stringify(shown));
  assert.equal(event?.source, "urn:palisade:send");

  const stranger = await palisade([
    "send",
    "order.placed",
    '{"orderId":"o-2"}',
    "--app",
    dir,
    "--sign-key",
    key,
    "--key-id",
    "other",
  ]);
  assert.equal(stranger.status, 1);
  assert.match(stranger.stderr, /403 PAL_GATEWAY_UNVERIFIED/);
  assert.match(stranger.stderr, /other/);

  const missing = await palisade([
    "send",
    "order.placed",
    "{}",
    "--app",
    dir,
    "--sign-key",
    join(dir, "nope.key"),
  ]);
  assert.equal(missing.status, 2);
  assert.match(missing.stderr, /nope\.key/);
});

test("verify-event prints a verified event in strict mode, or the reason it must be discarded", async (t) => {
  const dir = tempApp(t, { "shop-ed.pem": publicKey.export({ type: "spki", format: "pem" }) as string });
  const attributes = {
    specversion: "1.0",
    id: "e-1",
    source: "https://shop.example",
    type: "order.placed",
    datacontenttype: "application/json",
    tenant: "acme",
    note: "not signed",
  };
  const data = '{"orderId":"o-1"}';
  const dssematerial = signEvent({ attributes, data: Buffer.from(data) }, { keyid: "shop-ed", privateKey }, [
    "tenant",
  ]);
  const file = join(dir, "event.json");
  writeFileSync(file, `${JSON.stringify({ ...attributes, dssematerial }).slice(0, -1)},"data":${data}}`);
  const ok = (await palisadeJson(["verify-event", file, "--key", `shop-ed=${join(dir, "shop-ed.pem")}`])) as {
    verified: boolean;
    keyid: string;
    event: Record<string, unknown>;
  };
  assert.equal(ok.verified, true);
  assert.equal(ok.keyid, "shop-ed");
  assert.equal(ok.event.tenant, "acme");
  assert.equal("note" in ok.event, false, "an unsigned extension is not returned");

  writeFileSync(
    file,
    `${JSON.stringify({ ...attributes, dssematerial }).slice(0, -1)},"data":{"orderId":"o-2"}}`,
  );
  const bad = await palisade(["verify-event", file, "--key", `shop-ed=${join(dir, "shop-ed.pem")}`]);
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, /must be discarded \(core-mismatch\)/);
  const nokeys = await palisade(["verify-event", file, "--app", dir]);
  assert.equal(nokeys.status, 2);
  assert.match(nokeys.stderr, /--key <keyid>=<pem>/);
});
