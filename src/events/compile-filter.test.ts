import assert from "node:assert/strict";
import { test } from "node:test";
import { compileFilter, type EventFilter, matchesTypePattern } from "./index.ts";

function filter(pattern: unknown): EventFilter {
  const f = compileFilter(pattern);
  if (Array.isArray(f)) assert.fail(JSON.stringify(f));
  return f;
}

const event = (data: unknown, extra: object = {}) => ({
  type: "order.created",
  source: "/shop/web",
  data,
  ...extra,
});

test("exact values: strings, numbers, booleans and null; any of the listed values matches", () => {
  const f = filter({ data: { currency: ["EUR", "USD"], gift: [true], note: [null], qty: [3] } });
  assert.ok(f(event({ currency: "USD", gift: true, note: null, qty: 3 })));
  assert.ok(!f(event({ currency: "GBP", gift: true, note: null, qty: 3 })));
  assert.ok(!f(event({ currency: "EUR", gift: "true", note: null, qty: 3 })), "no type coercion");
  assert.ok(!f(event({ currency: "EUR", gift: true, qty: 3 })), "null does not match a missing field");
});

test("prefix, suffix and equals-ignore-case", () => {
  assert.ok(filter({ source: [{ prefix: "/shop/" }] })(event({})));
  assert.ok(!filter({ source: [{ prefix: "/admin/" }] })(event({})));
  assert.ok(filter({ source: [{ suffix: "/web" }] })(event({})));
  assert.ok(filter({ data: { c: [{ "equals-ignore-case": "eur" }] } })(event({ c: "EuR" })));
  assert.ok(!filter({ data: { c: [{ prefix: "E" }] } })(event({ c: 5 })), "prefix matches strings only");
});

test("anything-but: a value, a list, or a prefix; never a missing field", () => {
  const f = filter({ data: { state: [{ "anything-but": ["cancelled", "void"] }] } });
  assert.ok(f(event({ state: "paid" })));
  assert.ok(!f(event({ state: "void" })));
  assert.ok(!f(event({})));
  assert.ok(filter({ data: { n: [{ "anything-but": 0 }] } })(event({ n: 1 })));
  const notTest = filter({ data: { sku: [{ "anything-but": { prefix: "test-" } }] } });
  assert.ok(notTest(event({ sku: "real-1" })));
  assert.ok(!notTest(event({ sku: "test-1" })));
});

test("numeric: single comparisons and ranges, numbers only", () => {
  const positive = filter({ data: { amount: [{ numeric: [">", 0] }] } });
  assert.ok(positive(event({ amount: 0.01 })));
  assert.ok(!positive(event({ amount: 0 })));
  assert.ok(!positive(event({ amount: "5" })));
  const range = filter({ data: { amount: [{ numeric: [">=", 10, "<", 20] }] } });
  assert.deepEqual(
    [9, 10, 19.9, 20].map((amount) => range(event({ amount }))),
    [false, true, true, false],
  );
  assert.ok(filter({ data: { n: [{ numeric: ["=", 3] }] } })(event({ n: 3 })));
  assert.ok(filter({ data: { n: [{ numeric: ["<=", 3] }] } })(event({ n: 3 })));
});

test("exists: true needs the field, false needs it absent", () => {
  assert.ok(filter({ data: { coupon: [{ exists: true }] } })(event({ coupon: null })));
  assert.ok(!filter({ data: { coupon: [{ exists: true }] } })(event({})));
  assert.ok(filter({ data: { coupon: [{ exists: false }] } })(event({})));
  assert.ok(!filter({ data: { coupon: [{ exists: false }] } })(event({ coupon: "X" })));
});

test("nested fields must all match; arrays in the event match if any element does", () => {
  const f = filter({ data: { customer: { tier: ["gold"], country: ["DE", "AT"] }, tags: ["rush"] } });
  assert.ok(f(event({ customer: { tier: "gold", country: "AT" }, tags: ["gift", "rush"] })));
  assert.ok(!f(event({ customer: { tier: "gold", country: "FR" }, tags: ["rush"] })));
  assert.ok(!f(event({ customer: { tier: "gold", country: "AT" }, tags: ["gift"] })));
  assert.ok(!f(event({ customer: "gold", tags: ["rush"] })));
  const items = filter({ data: { items: { sku: [{ prefix: "A-" }] } } });
  assert.ok(items(event({ items: [{ sku: "B-1" }, { sku: "A-2" }] })));
});

test("invalid patterns are refused with the path of each mistake", () => {
  assert.deepEqual(
    compileFilter({ data: { amount: [{ numeric: [">", "0"] }], state: [{ anythingBut: "x" }], x: [] } }),
    [
      {
        path: ["data", "amount", 0, "numeric"],
        message:
          'must be [op, number] or [op, number, op, number] with op one of =, <, <=, >, >= (e.g. [">", 0, "<=", 5])',
      },
      {
        path: ["data", "state", 0, "anythingBut"],
        message:
          'unknown matcher "anythingBut"; use prefix, suffix, equals-ignore-case, wildcard, anything-but, numeric, cidr or exists',
      },
      { path: ["data", "x"], message: "must list at least one value or matcher" },
    ],
  );
  assert.deepEqual(
    compileFilter({ data: { p: [{ prefix: 3 }], e: [{ exists: "yes" }], o: [{ a: 1, b: 2 }] } }),
    [
      { path: ["data", "p", 0, "prefix"], message: "must be a string" },
      { path: ["data", "e", 0, "exists"], message: "must be true or false" },
      { path: ["data", "o", 0], message: 'must be a value or one matcher such as { prefix: "x" }' },
    ],
  );
  assert.ok(Array.isArray(compileFilter({})));
  assert.ok(Array.isArray(compileFilter({ data: "x" })));
});

test("type subscriptions: exact names and prefix.*", () => {
  assert.ok(matchesTypePattern("order.*", "order.created"));
  assert.ok(!matchesTypePattern("order.*", "orders.created"));
  assert.ok(matchesTypePattern("order.created", "order.created"));
});

test("wildcard: * is any run of characters, escapes give a literal star; strings only", () => {
  const f = filter({ data: { host: [{ wildcard: "*.example.com" }], path: [{ wildcard: "/a/*/c*" }] } });
  assert.ok(f(event({ host: "api.example.com", path: "/a/b/c" })));
  assert.ok(f(event({ host: "x.y.example.com", path: "/a//cde" })), "* spans dots and matches nothing");
  assert.ok(!f(event({ host: "example.com", path: "/a/b/c" })), "the dot before example is literal");
  assert.ok(!f(event({ host: "api.example.com.evil", path: "/a/b/c" })), "anchored at both ends");
  assert.ok(!f(event({ host: "apiXexample.com", path: "/a/b/c" })), "a dot is not a regex dot");
  const star = filter({ data: { s: [{ wildcard: "a\\*b" }] } });
  assert.ok(star(event({ s: "a*b" })));
  assert.ok(!star(event({ s: "axxb" })));
  assert.ok(!filter({ data: { n: [{ wildcard: "*" }] } })(event({ n: 5 })), "numbers never match");
  const but = filter({ data: { host: [{ "anything-but": { wildcard: "*.internal" } }] } });
  assert.ok(but(event({ host: "a.example.com" })));
  assert.ok(!but(event({ host: "db.internal" })));
});

test("cidr: IPv4 and IPv6 addresses in a range; anything else never matches", () => {
  const f = filter({ data: { ip: [{ cidr: "10.0.0.0/24" }, { cidr: "2001:db8::/32" }] } });
  assert.ok(f(event({ ip: "10.0.0.42" })));
  assert.ok(f(event({ ip: "2001:db8:1::7" })));
  assert.ok(!f(event({ ip: "10.0.1.1" })));
  assert.ok(!f(event({ ip: "2001:db9::1" })));
  assert.ok(!f(event({ ip: "not an address" })));
  assert.ok(!f(event({ ip: 167772160 })), "a number is not an address string");
  assert.ok(!f(event({})), "a missing field does not match");
});

test("$or: any alternative matches, together with the level's other fields; nested too", () => {
  const f = filter({
    type: ["order.created"],
    data: {
      $or: [{ amount: [{ numeric: [">", 100] }] }, { vip: [true] }, { $or: [{ c: ["X"] }, { d: ["Y"] }] }],
    },
  });
  assert.ok(f(event({ amount: 500 })));
  assert.ok(f(event({ amount: 5, vip: true })));
  assert.ok(f(event({ amount: 5, d: "Y" })), "a nested $or");
  assert.ok(!f(event({ amount: 5, vip: false })));
  assert.ok(!f({ ...event({ amount: 500 }), type: "order.cancelled" }), "and the level's other fields");
});

test("wildcard, cidr and $or mistakes are refused with their path", () => {
  assert.deepEqual(
    compileFilter({
      data: {
        w: [{ wildcard: "a**b" }],
        e: [{ wildcard: "a\\b" }],
        c: [{ cidr: "10.0.0.0/33" }],
        n: [{ cidr: 10 }],
        $or: [{ x: [1] }],
      },
    }),
    [
      {
        path: ["data", "w", 0, "wildcard"],
        message: 'must not hold consecutive wildcards ("**"); one * matches any run',
      },
      {
        path: ["data", "e", 0, "wildcard"],
        message: "a backslash may only escape * or \\ (write \\* for a literal star, \\\\ for a backslash)",
      },
      {
        path: ["data", "c", 0, "cidr"],
        message: 'must be an IPv4 or IPv6 range in CIDR notation, like "10.0.0.0/24" or "2001:db8::/32"',
      },
      {
        path: ["data", "n", 0, "cidr"],
        message: 'must be an IPv4 or IPv6 range in CIDR notation, like "10.0.0.0/24" or "2001:db8::/32"',
      },
      { path: ["data", "$or"], message: "must list at least two patterns, any of which may match" },
    ],
  );
});

test("wildcard escapes: \\* is a literal star, \\\\ a literal backslash, next to real wildcards", () => {
  const f = filter({ data: { s: [{ wildcard: "\\**" }], b: [{ wildcard: "C:\\\\*" }] } });
  assert.ok(f(event({ s: "*rest", b: "C:\\dir" })));
  assert.ok(!f(event({ s: "rest", b: "C:\\dir" })), "the first star is literal");
  assert.ok(!f(event({ s: "*rest", b: "C:/dir" })), "the backslash is literal");
  assert.ok(filter({ data: { s: [{ wildcard: "" }] } })(event({ s: "" })), "no star: an exact match");
  assert.ok(
    !filter({ data: { s: [{ wildcard: "ab*ba" }] } })(event({ s: "aba" })),
    "prefix and suffix may not overlap",
  );
});

test("wildcard matching does not backtrack: many stars against a long value still answer", () => {
  // A regex built from the pattern (^.*a.*a…b$) takes polynomial time on this value; the test would
  // not finish within its timeout. The matcher takes the literal pieces in order instead.
  const f = filter({ data: { s: [{ wildcard: `${"*a".repeat(12)}*b` }] } });
  assert.ok(!f(event({ s: "a".repeat(100_000) })));
  assert.ok(f(event({ s: `${"a".repeat(100_000)}b` })));
});

test("anything-but takes one wildcard or a list of them", () => {
  const f = filter({ data: { path: [{ "anything-but": { wildcard: ["*/lib/*", "*/bin/*"] } }] } });
  assert.ok(f(event({ path: "/usr/share/x" })));
  assert.ok(!f(event({ path: "/usr/lib/x" })));
  assert.ok(!f(event({ path: "/usr/bin/x" })));
  assert.ok(!f(event({})), "never a missing field");
  assert.deepEqual(compileFilter({ data: { p: [{ "anything-but": { wildcard: ["ok*", "a**"] } }] } }), [
    {
      path: ["data", "p", 0, "anything-but", "wildcard", 1],
      message: 'must not hold consecutive wildcards ("**"); one * matches any run',
    },
  ]);
});

test("cidr reads addresses strictly: octal, short and integer spellings of an IPv4 address are no address", () => {
  const f = filter({ data: { ip: [{ cidr: "10.0.0.0/8" }] } });
  assert.ok(f(event({ ip: "10.200.3.4" })));
  for (const ip of ["012.0.0.1", "10.1", "167772161", "0xa.0.0.1", " 10.0.0.1", "10.0.0.1/32"])
    assert.ok(!f(event({ ip })), ip);
  assert.ok(!f(event({ ip: "::ffff:10.0.0.1" })), "an IPv4-mapped IPv6 address is IPv6");
  const v6 = filter({ data: { ip: [{ cidr: "2001:DB8::/32" }] } });
  assert.ok(v6(event({ ip: "2001:0db8:0000::1" })), "any IPv6 spelling of the same address");
  assert.ok(!v6(event({ ip: "2001:db8::1%eth0" })), "a zone is no address");
  const one = filter({ data: { ip: [{ cidr: "192.0.2.7/32" }, { cidr: "2001:db8::7/128" }] } });
  assert.ok(one(event({ ip: "192.0.2.7" })));
  assert.ok(one(event({ ip: "2001:db8::7" })));
  assert.ok(!one(event({ ip: "192.0.2.8" })));
  assert.ok(filter({ data: { ip: [{ cidr: "0.0.0.0/0" }] } })(event({ ip: "203.0.113.9" })));
});

test("a cidr range must be a network: bits past the prefix, odd spellings and bad masks are refused", () => {
  const problems = (cidr: unknown) => compileFilter({ ip: [{ cidr }] });
  assert.deepEqual(problems("10.0.0.5/24"), [
    { path: ["ip", 0, "cidr"], message: '"10.0.0.5/24" sets bits past its /24 prefix; write "10.0.0.0/24"' },
  ]);
  assert.deepEqual(problems("2001:db8::1/32"), [
    {
      path: ["ip", 0, "cidr"],
      message: '"2001:db8::1/32" sets bits past its /32 prefix; write "2001:db8::/32"',
    },
  ]);
  for (const bad of [
    "10.0.0.0",
    "010.0.0.0/8",
    "10.0/16",
    "10.0.0.0/33",
    "::/129",
    "10.0.0.0/8/8",
    "10.0.0.0/-1",
    "fe80::%1/64",
    "",
  ])
    assert.ok(Array.isArray(problems(bad)), bad);
});

test("$or: matcher names cannot be fields inside it, as EventBridge rules; elsewhere they are plain fields", () => {
  assert.deepEqual(compileFilter({ data: { $or: [{ numeric: [">", 1] }, { n: { prefix: ["a"] } }] } }), [
    {
      path: ["data", "$or", 0, "numeric"],
      message:
        '"numeric" is a matcher name and cannot be a field inside $or; put the matcher in its field\'s list, e.g. { amount: [{ numeric: [">", 0] }] }',
    },
    {
      path: ["data", "$or", 1, "n", "prefix"],
      message:
        '"prefix" is a matcher name and cannot be a field inside $or; put the matcher in its field\'s list, e.g. { amount: [{ numeric: [">", 0] }] }',
    },
  ]);
  assert.ok(filter({ data: { prefix: ["x"] } })(event({ prefix: "x" })), "a field named prefix outside $or");
  assert.deepEqual(compileFilter({ $or: [{ a: [1] }, "b"] }), [
    { path: ["$or", 1], message: "must be a non-empty mapping of field names to patterns" },
  ]);
  assert.deepEqual(compileFilter({ $or: { a: [1] } }), [
    { path: ["$or"], message: "must list at least two patterns, any of which may match" },
  ]);
});

test("$or at the top level, beside other $or levels: each level needs one of its alternatives", () => {
  const f = filter({
    $or: [{ source: [{ prefix: "/shop/" }] }, { type: [{ wildcard: "refund.*" }] }],
    data: { $or: [{ amount: [{ numeric: [">=", 100] }] }, { vip: [true] }] },
  });
  assert.ok(f(event({ amount: 100 })));
  assert.ok(f({ type: "refund.issued", source: "/bank", data: { vip: true } }));
  assert.ok(
    !f({ type: "order.created", source: "/bank", data: { amount: 500 } }),
    "no top-level alternative",
  );
  assert.ok(!f(event({ amount: 99 })), "no data alternative");
});
