import { hkdfSync, randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { PalisadeError } from "../errors.ts";
import { gcmOpen, gcmSeal } from "./aes-gcm.ts";
import { SECURITY_KEY_MISSING } from "./errors.ts";
import type { MasterKeyProvider } from "./key-ring.ts";

const MASTER_ENV = "PALISADE_MASTER_KEY";

/** The master key from PALISADE_MASTER_KEY (base64 of 32 bytes) or from `file`, created if asked. */
export function localMasterKey(file: string, options: { create: boolean }): MasterKeyProvider {
  const fromEnv = process.env[MASTER_ENV];
  let key: Buffer;
  if (fromEnv !== undefined && fromEnv !== "") {
    key = Buffer.from(fromEnv, "base64");
    if (key.length !== 32)
      throw new PalisadeError(SECURITY_KEY_MISSING, `${MASTER_ENV} must be the base64 of 32 random bytes`);
  } else if (existsSync(file)) {
    key = Buffer.from(readFileSync(file, "utf8").trim(), "base64");
    if (key.length !== 32)
      throw new PalisadeError(SECURITY_KEY_MISSING, `${file} must hold the base64 of 32 random bytes`);
  } else if (options.create) {
    key = randomBytes(32);
    mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
    writeFileSync(file, `${key.toString("base64")}\n`, { mode: 0o600, flag: "wx" });
  } else {
    throw new PalisadeError(
      SECURITY_KEY_MISSING,
      `No master key: set ${MASTER_ENV} (base64 of 32 random bytes) or create ${file} (palisade init does)`,
    );
  }
  return {
    name: fromEnv ? "environment" : "file",
    wrap: (dataKey, version) => gcmSeal(key, dataKey, `datakey:${version}`),
    unwrap: (wrapped, version) => gcmOpen(key, wrapped, `datakey:${version}`),
    deriveKey: (purpose) => Buffer.from(hkdfSync("sha256", key, Buffer.alloc(0), purpose, 32)),
  };
}
