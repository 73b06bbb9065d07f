import assert from "node:assert/strict";
import { test } from "node:test";
import { unifiedDiff } from "./unified-diff.ts";

const lines = (n: number) => `${Array.from({ length: n }, (_, i) => `line ${i + 1}`).join("\n")}\n`;
const names = { from: "x.yaml", to: "x.yaml (suggested)" };

test("unifiedDiff shows each change with three lines of context in its own hunk", () => {
  const before = lines(20);
  const after = before.replace("line 2\n", "").replace("line 15\n", "line fifteen\n");
  assert.equal(unifiedDiff(before, before, names), "");
  assert.equal(
    unifiedDiff(before, after, names),
    `--- x.yaml
+++ x.yaml (suggested)
@@ -1,5 +1,4 @@
 line 1
-line 2
 line 3
 line 4
 line 5
@@ -12,7 +11,7 @@
 line 12
 line 13
 line 14
-line 15
+line fifteen
 line 16
 line 17
 line 18
`,
  );
});

test("unifiedDiff joins changes whose context overlaps into one hunk, as diff -U1 does", () => {
  const before = lines(12);
  const after = before
    .replace("line 3\n", "line three\n")
    .replace("line 5\n", "line five\n")
    .replace("line 10\n", "");
  assert.equal(
    unifiedDiff(before, after, { from: "b.txt", to: "a.txt", context: 1 }),
    `--- b.txt
+++ a.txt
@@ -2,5 +2,5 @@
 line 2
-line 3
+line three
 line 4
-line 5
+line five
 line 6
@@ -9,3 +9,2 @@
 line 9
-line 10
 line 11
`,
  );
});
