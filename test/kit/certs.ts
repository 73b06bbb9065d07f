import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const openssl = (args: string[], cwd: string) => execFileSync("openssl", args, { cwd, stdio: "pipe" });

function issue(dir: string, name: string, subject: string, ca: string | undefined, ext?: string): void {
  openssl(
    [
      "req",
      "-new",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:P-256",
      "-nodes",
      "-keyout",
      `${name}.key`,
      "-out",
      `${name}.csr`,
      "-subj",
      subject,
    ],
    dir,
  );
  const sign =
    ca === undefined
      ? ["-signkey", `${name}.key`]
      : ["-CA", `${ca}.crt`, "-CAkey", `${ca}.key`, "-CAcreateserial"];
  const extArgs = ext === undefined ? [] : ["-extfile", `${name}.ext`];
  if (ext !== undefined) writeFileSync(join(dir, `${name}.ext`), ext);
  openssl(
    ["x509", "-req", "-in", `${name}.csr`, "-days", "2", "-out", `${name}.crt`, ...sign, ...extArgs],
    dir,
  );
}

/** Writes a CA, a server certificate for 127.0.0.1, a client certificate it signed and a rogue one. */
export function makeCertificates(dir: string): {
  ca: string;
  clientCert: string;
  clientKey: string;
  rogueCert: string;
  rogueKey: string;
} {
  issue(
    dir,
    "ca",
    "/CN=Palisade Test CA",
    undefined,
    "basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign\n",
  );
  issue(dir, "server", "/CN=127.0.0.1", "ca", "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n");
  issue(dir, "client", "/CN=storefront/O=Shop", "ca", "extendedKeyUsage=clientAuth\n");
  issue(dir, "rogue", "/CN=storefront/O=Shop", undefined, "extendedKeyUsage=clientAuth\n");
  const read = (f: string) => readFileSync(join(dir, f), "utf8");
  return {
    ca: read("ca.crt"),
    clientCert: read("client.crt"),
    clientKey: read("client.key"),
    rogueCert: read("rogue.crt"),
    rogueKey: read("rogue.key"),
  };
}
