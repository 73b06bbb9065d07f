import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import {
  createServer,
  type IncomingMessage,
  type RequestListener,
  type Server,
  type ServerResponse,
} from "node:http";
import { createServer as createHttpsServer, type Server as HttpsServer } from "node:https";
import { isIP } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type TestContext, test } from "node:test";
import { makeCertificates } from "../../test/kit/certs.ts";
import { type EgressRule, parseEgressGrant } from "../manifest/index.ts";
import { type EgressOptions, egressFetch, type LookupAll, resolveEgressTarget } from "./egress.ts";

// Every server here listens on 127.0.0.1. DNS names are answered by an injected lookup; names that
// resolve to non-loopback addresses are only ever checked (resolveEgressTarget), never connected to.

const DENIED = "PAL_RUNTIME_DENIED";
const BAD_CALL = "PAL_RUNTIME_BAD_CALL";
const FAILED = "PAL_RUNTIME_EGRESS_FAILED";

function grants(...entries: string[]): EgressRule[] {
  return entries.map((entry) => {
    const rule = parseEgressGrant(entry);
    if (typeof rule === "string") assert.fail(rule);
    return rule;
  });
}

/** A fake DNS: answers from `table`, and records every name asked. */
function fakeDns(table: Record<string, string[]> = {}): LookupAll & { asked: string[] } {
  const asked: string[] = [];
  const lookup = async (name: string) => {
    asked.push(name);
    const answers = table[name];
    if (answers === undefined) throw Object.assign(new Error(`no ${name}`), { code: "ENOTFOUND" });
    return answers.map((address) => ({ address, family: isIP(address) }));
  };
  return Object.assign(lookup, { asked });
}

interface Served {
  port: number;
  url: (path?: string) => string;
  requests: { method: string; url: string; headers: IncomingMessage["headers"]; body: string }[];
}

async function listen(t: TestContext, server: Server | HttpsServer, scheme: string) {
  await new Promise<void>((ok) => server.listen(0, "127.0.0.1", ok));
  t.after(() => {
    server.closeAllConnections();
    server.close();
  });
  const { port } = server.address() as { port: number };
  return { port, url: (path = "/") => `${scheme}://127.0.0.1:${port}${path}` };
}

/** An http server on 127.0.0.1 that records each request (with its body) before `handler` answers. */
async function serve(
  t: TestContext,
  handler: (req: IncomingMessage, res: ServerResponse) => void,
  make: (l: RequestListener) => Server | HttpsServer = createServer,
  scheme = "http",
): Promise<Served> {
  const requests: Served["requests"] = [];
  const server = make((req, res) => {
    let body = "";
    req.setEncoding("utf8");
    req.on("data", (c: string) => {
      body += c;
    });
    req.on("end", () => {
      requests.push({ method: req.method ?? "", url: req.url ?? "", headers: req.headers, body });
      handler(req, res);
    });
  });
  return { ...(await listen(t, server, scheme)), requests };
}

const echo = (_req: IncomingMessage, res: ServerResponse) => {
  res.setHeader("x-seen", ["a", "b"]);
  res.end("hello");
};
const options = (rules: EgressRule[], extra: Partial<EgressOptions> = {}): EgressOptions => ({
  fn: "charge",
  rules,
  lookup: fakeDns(),
  ...extra,
});

test("a host that is not granted is denied with the grant that would allow it, before any DNS lookup", async () => {
  const dns = fakeDns({ "evil.example": ["93.184.216.34"] });
  await assert.rejects(
    egressFetch("https://evil.example/x", undefined, options(grants("api.example:443"), { lookup: dns })),
    {
      code: DENIED,
      message:
        'Function "charge" may not fetch https://evil.example:443; add "evil.example:443" to functions.charge.egress in palisade.yaml',
    },
  );
  assert.deepEqual(dns.asked, []);
});

test("a granted host on another port is denied", async () => {
  await assert.rejects(
    egressFetch("https://api.example:8443/", undefined, options(grants("api.example:443"))),
    { code: DENIED, message: /may not fetch https:\/\/api\.example:8443; add "api\.example:8443"/ },
  );
});

test("plain http is not implied by a host:port grant", async (t) => {
  const server = await serve(t, echo);
  await assert.rejects(egressFetch(server.url(), undefined, options(grants(`127.0.0.1:${server.port}`))), {
    code: DENIED,
    message: new RegExp(`add "http://127\\.0\\.0\\.1:${server.port}"`),
  });
  await assert.rejects(
    egressFetch("http://api.example:443/", undefined, options(grants("api.example:443"))),
    {
      code: DENIED,
      message: /add "http:\/\/api\.example:443"/,
    },
  );
  assert.equal(server.requests.length, 0);
});

test("an http:// grant does not allow https", async (t) => {
  const server = await serve(t, echo);
  const rules = grants(`http://127.0.0.1:${server.port}`);
  await assert.rejects(egressFetch(`https://127.0.0.1:${server.port}/`, undefined, options(rules)), {
    code: DENIED,
    message: new RegExp(`add "127\\.0\\.0\\.1:${server.port}"`),
  });
  assert.equal(server.requests.length, 0);
});

test("an exact IP grant reaches a loopback server, with the method, headers and body sent", async (t) => {
  const server = await serve(t, echo);
  const dns = fakeDns();
  const result = await egressFetch(
    server.url("/pay?x=1#frag"),
    {
      method: "post",
      headers: [
        ["X-Key", "k1"],
        ["x-key", "k2"],
        ["content-type", "text/plain"],
      ],
      body: "hi",
    },
    options(grants(`http://127.0.0.1:${server.port}`), { lookup: dns }),
  );
  assert.equal(result.url, server.url("/pay?x=1"));
  assert.equal(result.status, 200);
  assert.equal(result.statusText, "OK");
  assert.equal(result.redirected, false);
  assert.ok(result.body instanceof Uint8Array);
  assert.equal(Buffer.from(result.body).toString(), "hello");
  assert.deepEqual(
    result.headers.filter(([n]) => n === "x-seen"),
    [
      ["x-seen", "a"],
      ["x-seen", "b"],
    ],
  );
  const [req] = server.requests;
  assert.equal(req?.method, "POST");
  assert.equal(req?.url, "/pay?x=1");
  assert.equal(req?.headers["x-key"], "k1, k2");
  assert.equal(req?.headers["content-length"], "2");
  assert.equal(req?.body, "hi");
  assert.deepEqual(dns.asked, [], "an IP literal is not looked up");
});

test("a granted name that resolves to loopback is denied (localhost), and the server is not reached", async (t) => {
  const server = await serve(t, echo);
  // The real resolver: localhost comes from the hosts file, no network.
  const { lookup: _, ...realDns } = options(grants(`http://localhost:${server.port}`));
  await assert.rejects(egressFetch(`http://localhost:${server.port}/`, undefined, realDns), {
    code: DENIED,
    message: new RegExp(
      `may not fetch http://localhost:${server.port}: "localhost" resolves to (127\\.0\\.0\\.1|::1), a loopback address; only public addresses are reachable unless the exact address is granted \\(e\\.g\\. "http://(127\\.0\\.0\\.1|\\[::1\\]):${server.port}"\\)`,
    ),
  });
  assert.equal(server.requests.length, 0);
});

test("a name granted together with the exact address it resolves to is reached under its own name", async (t) => {
  const server = await serve(t, echo);
  const rules = grants(`http://app.test:${server.port}`, `http://127.0.0.1:${server.port}`);
  const dns = fakeDns({ "app.test": ["127.0.0.1"] });
  const result = await egressFetch(
    `http://app.test:${server.port}/`,
    undefined,
    options(rules, { lookup: dns }),
  );
  assert.equal(result.status, 200);
  assert.equal(server.requests[0]?.headers.host, `app.test:${server.port}`);
});

const INTERNAL: Record<string, RegExp> = {
  "127.0.0.1": /a loopback address/,
  "10.0.0.1": /a private \(RFC 1918\) address/,
  "172.16.0.1": /a private/,
  "192.168.1.1": /a private/,
  "169.254.169.254": /a link-local address/,
  "100.100.100.200": /a carrier-grade NAT address/,
  "0.0.0.0": /the unspecified address/,
  "255.255.255.255": /the broadcast address/,
  "224.0.0.1": /a multicast address/,
  "192.0.2.1": /a reserved address/,
  "::1": /a loopback address/,
  "::": /the unspecified address/,
  "fd00:ec2::254": /a unique-local address/,
  "fe80::1": /a link-local address/,
  "ff02::1": /a multicast address/,
  "::ffff:127.0.0.1": /a loopback address/,
  "::ffff:169.254.169.254": /a link-local address/,
  "::ffff:10.0.0.1": /a private/,
  "64:ff9b::a9fe:a9fe": /special-purpose address \(rfc6052\)/,
  "2002:a9fe:a9fe::1": /special-purpose address \(6to4\)/,
  "2001::1": /special-purpose address \(teredo\)/,
  "::a9fe:a9fe": /outside IPv6 global unicast/,
  "2001:db8::1": /a reserved address/,
};

for (const [address, reason] of Object.entries(INTERNAL)) {
  test(`a granted name resolving to ${address} is denied`, async () => {
    const dns = fakeDns({ "api.example": [address] });
    await assert.rejects(
      resolveEgressTarget(
        new URL("https://api.example/"),
        options(grants("api.example:443"), { lookup: dns }),
      ),
      (err: Error & { code?: string }) => {
        assert.equal(err.code, DENIED);
        assert.ok(err.message.includes(`"api.example" resolves to ${address}, `), err.message);
        assert.match(err.message, reason);
        return true;
      },
    );
  });
}

test("loopback reached through a name is denied end to end, for IPv4, IPv6 and IPv4-mapped answers", async (t) => {
  const server = await serve(t, echo);
  for (const address of ["127.0.0.1", "::1", "::ffff:127.0.0.1"]) {
    const dns = fakeDns({ "api.example": [address] });
    const rules = grants(`http://api.example:${server.port}`);
    await assert.rejects(
      egressFetch(`http://api.example:${server.port}/`, {}, options(rules, { lookup: dns })),
      {
        code: DENIED,
        message: /a loopback address/,
      },
    );
  }
  assert.equal(server.requests.length, 0);
});

test("public addresses are allowed by policy (checked, not connected to)", async () => {
  const dns = fakeDns({ "api.example": ["93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946"] });
  const target = await resolveEgressTarget(
    new URL("https://api.example/"),
    options(grants("api.example:443"), { lookup: dns }),
  );
  assert.deepEqual(
    target.addresses.map((a) => a.address),
    ["93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946"],
  );
});

test("one internal address among public ones denies the request", async () => {
  const dns = fakeDns({ "api.example": ["93.184.216.34", "10.0.0.1"] });
  await assert.rejects(
    resolveEgressTarget(new URL("https://api.example/"), options(grants("api.example:443"), { lookup: dns })),
    { code: DENIED, message: /resolves to 10\.0\.0\.1, a private/ },
  );
});

test("an exact IP grant allows only that address, scheme and port", async () => {
  const rules = grants("http://[::1]:8080", "10.0.0.1:443");
  const v6 = await resolveEgressTarget(new URL("http://[::1]:8080/"), options(rules));
  assert.deepEqual(v6.addresses, [{ address: "::1", family: 6 }]);
  await resolveEgressTarget(new URL("https://10.0.0.1/"), options(rules));
  await assert.rejects(resolveEgressTarget(new URL("http://10.0.0.1:443/"), options(rules)), {
    code: DENIED,
  });
  await assert.rejects(resolveEgressTarget(new URL("https://10.0.0.2/"), options(rules)), { code: DENIED });
  // A name that resolves to a granted address on another port is still internal.
  const dns = fakeDns({ "db.test": ["10.0.0.1"] });
  await assert.rejects(
    resolveEgressTarget(
      new URL("https://db.test:5432/"),
      options(grants("db.test:5432", "10.0.0.1:443"), { lookup: dns }),
    ),
    { code: DENIED, message: /a private/ },
  );
});

test("a redirect to a host that is not granted is denied, and the other host is not reached", async (t) => {
  const other = await serve(t, echo);
  let to = "";
  const server = await serve(t, (_req, res) => res.writeHead(302, { location: to }).end());
  const dns = fakeDns({ "evil.example": ["93.184.216.34"] });
  const opts = options(grants(`http://127.0.0.1:${server.port}`), { lookup: dns });
  to = other.url("/steal");
  await assert.rejects(egressFetch(server.url(), undefined, opts), {
    code: DENIED,
    message: new RegExp(
      `may not fetch http://127\\.0\\.0\\.1:${other.port}; add "http://127\\.0\\.0\\.1:${other.port}"`,
    ),
  });
  to = "http://evil.example/";
  await assert.rejects(egressFetch(server.url(), undefined, opts), {
    code: DENIED,
    message: /evil\.example:80/,
  });
  to = "file:///etc/passwd";
  await assert.rejects(egressFetch(server.url(), undefined, opts), {
    code: DENIED,
    message: /only https and http/,
  });
  assert.equal(other.requests.length, 0);
  assert.deepEqual(dns.asked, []);
});

test("redirects within the grants are followed as fetch does", async (t) => {
  const other = await serve(t, echo);
  const server = await serve(t, (req, res) => {
    const [, status, rest] = /^\/(\d{3})(\/.*)?$/.exec(req.url ?? "") ?? [];
    if (status) res.writeHead(Number(status), { location: rest ?? "/end" }).end();
    else if (req.url === "/away") res.writeHead(307, { location: other.url("/there") }).end();
    else echo(req, res);
  });
  const opts = options(grants(`http://127.0.0.1:${server.port}`, `http://127.0.0.1:${other.port}`));
  const post = {
    method: "POST",
    headers: { "content-type": "text/plain", authorization: "Bearer s" },
    body: "b",
  };

  const moved = await egressFetch(server.url("/302/301/end"), undefined, opts);
  assert.deepEqual([moved.url, moved.status, moved.redirected], [server.url("/end"), 200, true]);

  for (const [status, method, body] of [
    ["303", "GET", ""],
    ["301", "GET", ""],
    ["302", "GET", ""],
    ["307", "POST", "b"],
    ["308", "POST", "b"],
  ] as const) {
    server.requests.length = 0;
    await egressFetch(server.url(`/${status}`), post, opts);
    const end = server.requests[1];
    assert.deepEqual([end?.method, end?.body], [method, body], `after ${status}`);
    assert.equal(
      end?.headers["content-type"],
      method === "GET" ? undefined : "text/plain",
      `after ${status}`,
    );
    assert.equal(end?.headers.authorization, "Bearer s", "same origin keeps credentials");
  }

  await egressFetch(server.url("/away"), post, opts);
  assert.equal(other.requests[0]?.method, "POST");
  assert.equal(
    other.requests[0]?.headers.authorization,
    undefined,
    "credentials do not follow to another origin",
  );
});

test("a chain of more redirects than allowed fails", async (t) => {
  const server = await serve(t, (_req, res) => res.writeHead(302, { location: "/again" }).end());
  await assert.rejects(
    egressFetch(
      server.url(),
      undefined,
      options(grants(`http://127.0.0.1:${server.port}`), { maxRedirects: 3 }),
    ),
    { code: FAILED, message: /more than 3 redirects/ },
  );
  assert.equal(server.requests.length, 4);
});

test("a response body over the limit fails, whether declared or streamed without end", async (t) => {
  const declared = await serve(t, (_req, res) => res.end(Buffer.alloc(2048)));
  const endless = await serve(t, (_req, res) => {
    const chunk = Buffer.alloc(16 * 1024, 120);
    const pump = () => {
      while (!res.destroyed && res.write(chunk));
      if (!res.destroyed) res.once("drain", pump);
    };
    pump();
  });
  const rules = grants(`http://127.0.0.1:${declared.port}`, `http://127.0.0.1:${endless.port}`);
  await assert.rejects(egressFetch(declared.url(), undefined, options(rules, { maxResponseBytes: 1024 })), {
    code: FAILED,
    message: /the response body is over the limit of 1024 bytes/,
  });
  await assert.rejects(
    egressFetch(endless.url(), undefined, options(rules, { maxResponseBytes: 256 * 1024 })),
    {
      code: FAILED,
      message: /over the limit of 262144 bytes/,
    },
  );
  const fits = await egressFetch(declared.url(), undefined, options(rules, { maxResponseBytes: 2048 }));
  assert.equal(fits.body.length, 2048);
});

test("a server that does not answer, or stalls mid-body, hits the time limit", async (t) => {
  const silent = await serve(t, () => {});
  const stalls = await serve(t, (_req, res) => res.writeHead(200, { "content-length": "10" }).write("12345"));
  const rules = grants(`http://127.0.0.1:${silent.port}`, `http://127.0.0.1:${stalls.port}`);
  for (const server of [silent, stalls]) {
    await assert.rejects(egressFetch(server.url(), undefined, options(rules, { timeoutMs: 200 })), {
      code: FAILED,
      retryable: true,
      message: new RegExp(
        `Cannot fetch ${server.url().replaceAll(".", "\\.")}: no complete response within 200 ms`,
      ),
    });
  }
});

test("a DNS lookup that does not answer hits the time limit", async () => {
  const hang: LookupAll = () => new Promise(() => {});
  await assert.rejects(
    egressFetch(
      "https://slow.example/",
      undefined,
      options(grants("slow.example:443"), { lookup: hang, timeoutMs: 100 }),
    ),
    { code: FAILED, retryable: true, message: /no complete response within 100 ms/ },
  );
});

test("connection-control headers are denied and nothing is sent", async (t) => {
  const server = await serve(t, echo);
  const opts = options(grants(`http://127.0.0.1:${server.port}`));
  for (const name of [
    "Host",
    "connection",
    "transfer-encoding",
    "content-length",
    "proxy-authorization",
    "upgrade",
    "te",
  ]) {
    await assert.rejects(egressFetch(server.url(), { headers: { [name]: "x" } }, opts), {
      code: DENIED,
      message: `Function "charge" may not set the "${name.toLowerCase()}" header; the platform controls it`,
    });
  }
  for (const method of ["CONNECT", "trace"]) {
    await assert.rejects(egressFetch(server.url(), { method }, opts), {
      code: DENIED,
      message: /may not send/,
    });
  }
  assert.equal(server.requests.length, 0);
  assert.equal((await egressFetch(server.url(), { headers: { "x-ok": "1" } }, opts)).status, 200);
});

test("malformed url and init are refused with a message saying what is wrong", async (t) => {
  const server = await serve(t, echo);
  const opts = options(grants(`http://127.0.0.1:${server.port}`), { maxRequestBytes: 8 });
  const url = server.url();
  const cases: [unknown, unknown, string, RegExp][] = [
    [42, undefined, BAD_CALL, /url must be a string/],
    ["not a url", undefined, BAD_CALL, /"not a url" is not an absolute URL/],
    ["x".repeat(9000), undefined, BAD_CALL, /at most 8192 characters/],
    ["ftp://127.0.0.1/", undefined, DENIED, /only https and http URLs/],
    [`http://u:p@127.0.0.1:${server.port}/`, undefined, BAD_CALL, /must not contain credentials/],
    [url, "x", BAD_CALL, /init must be an object/],
    [
      url,
      { redirect: "manual" },
      BAD_CALL,
      /init option "redirect" is not supported; use method, headers, body/,
    ],
    [url, { method: 5 }, BAD_CALL, /method "5" is not an HTTP method/],
    [url, { method: "GE T" }, BAD_CALL, /is not an HTTP method/],
    [url, { headers: "a: b" }, BAD_CALL, /headers must be an object/],
    [url, { headers: [["a"]] }, BAD_CALL, /\[name, value\] pair of strings/],
    [url, { headers: { a: 1 } }, BAD_CALL, /\[name, value\] pair of strings/],
    [url, { headers: { "x-a": "1\r\nHost: evil" } }, BAD_CALL, /header "x-a" has an invalid name or value/],
    [url, { headers: { "bad name": "1" } }, BAD_CALL, /invalid name or value/],
    [url, { body: { a: 1 } }, BAD_CALL, /body must be a string or a Uint8Array/],
    [url, { body: "x" }, BAD_CALL, /a GET request cannot have a body/],
    [
      url,
      { method: "POST", body: "123456789" },
      "PAL_RUNTIME_OUTPUT_TOO_LARGE",
      /9 bytes, over the limit of 8/,
    ],
  ];
  for (const [u, init, code, message] of cases) {
    await assert.rejects(
      egressFetch(u, init, opts),
      { code, message },
      `${String(u).slice(0, 30)} ${JSON.stringify(init)}`,
    );
  }
  assert.equal(server.requests.length, 0);
  const ok = await egressFetch(url, { method: "PUT", body: new Uint8Array([104, 105]) }, opts);
  assert.equal(ok.status, 200);
  assert.equal(server.requests[0]?.body, "hi");
});

test("a DNS failure is a retryable failure, not a denial", async () => {
  await assert.rejects(egressFetch("https://gone.example/", undefined, options(grants("gone.example:443"))), {
    code: FAILED,
    retryable: true,
    message: /DNS lookup of "gone\.example" failed \(ENOTFOUND\)/,
  });
});

test("https to a granted address verifies the certificate against the trusted CAs and the host name", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "palisade-egress-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const certs = makeCertificates(dir);
  const tls = { key: readFileSync(join(dir, "server.key")), cert: readFileSync(join(dir, "server.crt")) };
  const secure = await serve(t, echo, (l) => createHttpsServer(tls, l), "https");
  const plain = await serve(t, echo);
  const rules = grants(`127.0.0.1:${secure.port}`, `app.test:${secure.port}`, `127.0.0.1:${plain.port}`);
  const dns = fakeDns({ "app.test": ["127.0.0.1"] });
  const opts = options(rules, { ca: certs.ca, lookup: dns });

  const ok = await egressFetch(secure.url(), undefined, opts);
  assert.equal(Buffer.from(ok.body).toString(), "hello");
  const { ca: _, ...defaultCas } = opts;
  await assert.rejects(egressFetch(secure.url(), undefined, defaultCas), {
    code: FAILED,
    message: /unable to verify the first certificate|self-signed certificate|local issuer/,
  });
  // The certificate is for 127.0.0.1, not app.test: connecting to the checked address must not
  // change which name TLS verifies.
  await assert.rejects(egressFetch(`https://app.test:${secure.port}/`, undefined, opts), {
    code: FAILED,
    message: /does not match certificate's altnames/,
  });

  // https -> http needs its own http:// grant; the https grant for the same address is not one.
  const hop = await serve(
    t,
    (_req, res) => res.writeHead(302, { location: plain.url() }).end(),
    (l) => createHttpsServer(tls, l),
    "https",
  );
  const hopRules = [...rules, ...grants(`127.0.0.1:${hop.port}`)];
  await assert.rejects(egressFetch(hop.url(), undefined, { ...opts, rules: hopRules }), {
    code: DENIED,
    message: new RegExp(`add "http://127\\.0\\.0\\.1:${plain.port}"`),
  });
  assert.equal(plain.requests.length, 0);
  const allowed = [...hopRules, ...grants(`http://127.0.0.1:${plain.port}`)];
  const followed = await egressFetch(hop.url(), undefined, { ...opts, rules: allowed });
  assert.deepEqual([followed.url, followed.redirected], [plain.url(), true]);
});
