import { cpSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TestContext } from "node:test";
import { fileURLToPath } from "node:url";
import { TEST_KEY } from "./http.ts";
import { setSecret } from "./temp-app.ts";

/** A private copy of examples/shop, so each test has its own .palisade/ data dir. */
export function copyShop(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), "palisade-shop-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const source = fileURLToPath(new URL("../../examples/shop", import.meta.url));
  cpSync(source, dir, { recursive: true, filter: (src) => !src.includes(".palisade") });
  setSecret(dir, "STOREFRONT_KEY", TEST_KEY);
  return dir;
}

export const ORDER = { orderId: "o-1", amount: 42.5, currency: "EUR" };
