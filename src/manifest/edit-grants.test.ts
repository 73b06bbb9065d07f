import assert from "node:assert/strict";
import { test } from "node:test";
import { parse } from "yaml";
import { editGrants, type GrantEdit, type GrantKind } from "./edit-grants.ts";
import { MANIFEST_EDIT_REFUSED } from "./errors.ts";

const MANIFEST = `# top comment
functions:
  a:
    handler: functions/a.ts   # the handler
    emit: [ t.a, "t.b" ,t.c ]   # flow, odd spacing
    secrets:
      # the live key
      - S1   # rotated monthly
      - S2
    egress:
    - "only.example:443"
    kv: { orders: "readwrite", prices: read }
    kv2:
      keep: read
  b: { handler: functions/b.ts, on: [t.in], secrets: [B1, B2], emit: [t.a] }
# bottom comment
`;

function change(fn: string, drop: [GrantKind, string][], narrow: string[] = []): GrantEdit {
  return {
    fn,
    drop: drop.map(([kind, grant]) => ({ kind, grant })),
    narrow: narrow.map((grant) => ({ grant })),
  };
}

test("editGrants removes only the grants named and keeps every other byte, comments included", () => {
  const out = editGrants(MANIFEST, [
    change(
      "a",
      [
        ["emit", "t.b"],
        ["emit", "t.c"],
        ["secret", "S2"],
        ["egress", "only.example:443"],
        ["kv", "prices"],
      ],
      ["orders"],
    ),
    change("b", [
      ["secret", "B1"],
      ["emit", "t.a"],
    ]),
  ]);
  assert.equal(
    out,
    `# top comment
functions:
  a:
    handler: functions/a.ts   # the handler
    emit: [ t.a ]   # flow, odd spacing
    secrets:
      # the live key
      - S1   # rotated monthly
    kv: { orders: "read" }
    kv2:
      keep: read
  b: { handler: functions/b.ts, on: [t.in], secrets: [B2] }
# bottom comment
`,
  );
});

test("editGrants removes a list's key with its last item, and the kv key with its last namespace", () => {
  const out = editGrants(MANIFEST, [
    change("a", [
      ["secret", "S1"],
      ["secret", "S2"],
      ["kv", "orders"],
      ["kv", "prices"],
    ]),
  ]);
  assert.equal(
    out,
    `# top comment
functions:
  a:
    handler: functions/a.ts   # the handler
    emit: [ t.a, "t.b" ,t.c ]   # flow, odd spacing
    egress:
    - "only.example:443"
    kv2:
      keep: read
  b: { handler: functions/b.ts, on: [t.in], secrets: [B1, B2], emit: [t.a] }
# bottom comment
`,
  );
});

test("editGrants falls back to the edited YAML document for a layout it cannot splice, comments kept", () => {
  const text = `functions:
  a:
    handler: a.ts
    emit: [t.a, # the one we use
      t.b]
    secrets: [S1]  # keep me
`;
  const out = editGrants(text, [change("a", [["emit", "t.b"]])]);
  assert.deepEqual(parse(out), { functions: { a: { handler: "a.ts", emit: ["t.a"], secrets: ["S1"] } } });
  assert.match(out, /# keep me/);
});

test("editGrants never adds: nothing to take away leaves the text as it was, an unknown grant is refused", () => {
  assert.equal(editGrants(MANIFEST, [change("a", [])]), MANIFEST);
  assert.throws(() => editGrants(MANIFEST, [change("a", [["secret", "NOT_THERE"]])]), {
    code: MANIFEST_EDIT_REFUSED,
  });
});

test("editGrants refuses to edit a list shared through a YAML anchor", () => {
  const shared = `functions:
  a: { handler: a.ts, secrets: &keys [K1, K2] }
  b: { handler: b.ts, secrets: *keys }
`;
  assert.throws(() => editGrants(shared, [change("a", [["secret", "K1"]])]), {
    code: MANIFEST_EDIT_REFUSED,
    message: /functions\.a\.secrets.*anchor or alias/,
  });
  assert.throws(() => editGrants(shared, [change("b", [["secret", "K1"]])]), { code: MANIFEST_EDIT_REFUSED });
});
