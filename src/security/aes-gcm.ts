/**
 * AES-256-GCM as the key ring uses it: a fresh 96-bit random nonce per seal, associated data naming
 * the record, and `nonce | ciphertext | tag` in base64url.
 */
import { createCipheriv, createDecipheriv, randomFillSync } from "node:crypto";

// Nonces are drawn from the CSPRNG 1024 at a time (one call instead of one per seal); each is still
// 96 random bits, used once.
const nonces = Buffer.alloc(12 * 1024);
let nonceAt = nonces.length;
function nextNonce(): Buffer {
  if (nonceAt >= nonces.length) {
    randomFillSync(nonces);
    nonceAt = 0;
  }
  const nonce = Buffer.from(nonces.subarray(nonceAt, nonceAt + 12));
  nonceAt += 12;
  return nonce;
}

export function gcmSeal(key: Buffer, plaintext: Buffer, aad: string): string {
  const nonce = nextNonce();
  const cipher = createCipheriv("aes-256-gcm", key, nonce);
  cipher.setAAD(Buffer.from(aad, "utf8"));
  const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return Buffer.concat([nonce, body, cipher.getAuthTag()]).toString("base64url");
}

export function gcmOpen(key: Buffer, sealed: string, aad: string): Buffer {
  const raw = Buffer.from(sealed, "base64url");
  if (raw.length < 28) throw new Error("sealed text is too short");
  const decipher = createDecipheriv("aes-256-gcm", key, raw.subarray(0, 12));
  decipher.setAAD(Buffer.from(aad, "utf8"));
  decipher.setAuthTag(raw.subarray(raw.length - 16));
  return Buffer.concat([decipher.update(raw.subarray(12, raw.length - 16)), decipher.final()]);
}
