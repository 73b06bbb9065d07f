import { createPublicKey } from "node:crypto";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import ipaddr from "ipaddr.js";
import type { CheckContext } from "../check-context.ts";
import type { Hit, RuleOutcome } from "../finding.ts";

/** PAL070–PAL072: transport, code signing and audit settings of the platform. */
export const PLATFORM_RULES = {
  PAL070: (ctx: CheckContext): RuleOutcome => {
    const { host, tls, insecureHttp } = ctx.listen;
    if (tls || isLoopback(host)) return [];
    if (insecureHttp)
      return {
        hits: [],
        note: `plain HTTP on ${host} accepted: --insecure-http says a proxy in front terminates TLS`,
      };
    return [
      {
        message: `The gateway would listen on ${host} over plain HTTP: API keys, tokens and events cross the network in clear`,
        fix: "add tls: { cert, key } to palisade.yaml (or pass --tls-cert and --tls-key), or listen on 127.0.0.1 behind a TLS proxy",
        location: ctx.at(["tls"]),
      },
    ];
  },

  PAL071: (ctx: CheckContext): RuleOutcome => {
    const dir = join(ctx.app.dir, "keys");
    const names = listKeys(dir);
    const pubs = names.filter((n) => n.endsWith(".pub"));
    const hits: Hit[] = pubs.flatMap((name) => badPublicKey(ctx, join(dir, name)));
    const signing = join(dir, "signing.key");
    if (names.includes("signing.key")) {
      if (pubs.length === 0)
        hits.push({
          message:
            "keys/signing.key signs bundles but no keys/*.pub trusts its public half: start would refuse every function",
          fix: "put the signing key's public half (SPKI PEM) in keys/signing.pub",
          location: ctx.inFile(signing),
        });
      if ((statSync(signing).mode & 0o077) !== 0)
        hits.push({
          message: "keys/signing.key can be read by other users, who could sign code the runtime would run",
          fix: "chmod 600 keys/signing.key (and rotate the key if others may have read it)",
          location: ctx.inFile(signing),
        });
    }
    if (hits.length > 0 || pubs.length > 0) return hits;
    return { hits, note: "no keys yet: palisade build and dev create the signing key pair" };
  },

  PAL072: (ctx: CheckContext): Hit[] => {
    const audit = ctx.manifest.audit as { enabled?: unknown } | undefined;
    if (audit?.enabled !== false) return [];
    return [
      {
        message:
          "The manifest switches the audit log off: security decisions would leave no tamper-evident record",
        fix: "remove audit.enabled: false",
        location: ctx.at(["audit", "enabled"]),
      },
    ];
  },
};

function isLoopback(host: string): boolean {
  if (host === "localhost") return true;
  return ipaddr.isValid(host) && ipaddr.process(host).range() === "loopback";
}

function listKeys(dir: string): string[] {
  try {
    return readdirSync(dir).sort();
  } catch {
    return [];
  }
}

function badPublicKey(ctx: CheckContext, file: string): Hit[] {
  const pem = readFileSync(file, "utf8");
  const location = ctx.inFile(file);
  if (pem.includes("PRIVATE KEY"))
    return [
      {
        message: `${location.file} holds a private key, not a public one`,
        fix: `replace ${location.file} with the public half (SPKI PEM) and rotate the key: it may have been shared`,
        location,
      },
    ];
  try {
    const type = createPublicKey(pem).asymmetricKeyType;
    if (type === "ed25519") return [];
    return [
      {
        message: `${location.file} is a ${type ?? "non-Ed25519"} key; bundles are verified with Ed25519 keys only`,
        fix: `replace ${location.file} with an Ed25519 public key (SPKI PEM)`,
        location,
      },
    ];
  } catch {
    return [
      {
        message: `${location.file} is not a PEM public key, so nothing it should verify can run`,
        fix: `replace ${location.file} with an Ed25519 public key (SPKI PEM), or remove it`,
        location,
      },
    ];
  }
}
