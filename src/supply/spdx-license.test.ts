import assert from "node:assert/strict";
import { test } from "node:test";
import { SPDX, Spec, Validation } from "@cyclonedx/cyclonedx-library";
import { createSbom } from "./create-sbom.ts";
import { npmPurl } from "./describe-packages.ts";
import { SPDX_EXCEPTION_IDS, SPDX_LICENSE_IDS } from "./spdx-ids.ts";
import { cycloneDxLicenses, spdxExpression } from "./spdx-license.ts";

const ids = (list: string) => list.trim().split(/\s+/);

test("every SPDX identifier Palisade accepts is one CycloneDX's schema lists", () => {
  const licenses = ids(SPDX_LICENSE_IDS);
  const exceptions = ids(SPDX_EXCEPTION_IDS);
  assert.ok(licenses.length > 700 && exceptions.length > 80, "the whole list, not a sample");
  const unknown = [...licenses, ...exceptions].filter((id) => !SPDX.isSupportedSpdxId(id));
  assert.deepEqual(unknown, []);
  assert.equal(new Set([...licenses, ...exceptions]).size, licenses.length + exceptions.length);
});

test("a package.json license becomes an SPDX id, an SPDX expression or a name", () => {
  const cases: [string[], unknown[]][] = [
    [["MIT"], [{ license: { id: "MIT" } }]],
    [["apache-2.0"], [{ license: { id: "Apache-2.0" } }]], // ids match case-insensitively
    [["0BSD"], [{ license: { id: "0BSD" } }]],
    [["(MIT OR Apache-2.0)"], [{ expression: "(MIT OR Apache-2.0)" }]],
    [["mit AND (isc OR BSD-2-Clause)"], [{ expression: "MIT AND (ISC OR BSD-2-Clause)" }]],
    [
      ["GPL-2.0-only WITH classpath-exception-2.0"],
      [{ expression: "GPL-2.0-only WITH Classpath-exception-2.0" }],
    ],
    [["Apache-2.0+"], [{ expression: "Apache-2.0+" }]], // "or any later version"
    [["LGPL-2.1+"], [{ license: { id: "LGPL-2.1+" } }]], // a (deprecated) id of its own
    [["LicenseRef-acme-eula"], [{ expression: "LicenseRef-acme-eula" }]],
    [["SEE LICENSE IN LICENSE.md"], [{ license: { name: "SEE LICENSE IN LICENSE.md" } }]],
    [["UNLICENSED"], [{ license: { name: "UNLICENSED" } }]],
    [["Acme-1.0"], [{ license: { name: "Acme-1.0" } }]], // not on the SPDX list
    [["MIT OR"], [{ license: { name: "MIT OR" } }]],
    [["(MIT"], [{ license: { name: "(MIT" } }]],
    [["MIT WITH MIT"], [{ license: { name: "MIT WITH MIT" } }]], // MIT is no exception
    [["MIT or ISC"], [{ license: { name: "MIT or ISC" } }]], // operators are upper case
    // The legacy `licenses` list, entry by entry: an expression may not stand beside others.
    [
      ["MIT", "(ISC OR GPL-3.0-only)", "Apache-2.0"],
      [
        { license: { id: "MIT" } },
        { license: { name: "(ISC OR GPL-3.0-only)" } },
        { license: { id: "Apache-2.0" } },
      ],
    ],
  ];
  for (const [texts, expected] of cases) assert.deepEqual(cycloneDxLicenses(texts), expected, texts.join());
  assert.equal(spdxExpression("MIT AND"), undefined);
  assert.equal(spdxExpression("()"), undefined);
  assert.equal(
    spdxExpression("DocumentRef-spdx-tool-1.2:LicenseRef-MIT-Style-2"),
    "DocumentRef-spdx-tool-1.2:LicenseRef-MIT-Style-2",
  );
});

test("an SBOM with every kind of license passes the CycloneDX 1.5 schema, strictly", async () => {
  const licenses = [
    ["MIT"],
    ["(MIT OR Apache-2.0)"],
    ["GPL-3.0-or-later WITH GCC-exception-3.1"],
    ["SEE LICENSE IN LICENSE.md"],
    ["BSD-3-Clause", "Acme-1.0"],
  ];
  const packages = licenses.map((l, i) => ({
    name: `p${i}`,
    version: "1.0.0",
    purl: npmPurl(`p${i}`, "1.0.0"),
    licenses: l,
    dependsOn: [],
  }));
  const sbom = createSbom("fn", "a".repeat(64), packages, {
    appName: "app",
    palisadeVersion: "0.1.0",
    esbuildVersion: "0.28.2",
    direct: packages.map((p) => p.purl),
    now: new Date(0),
  });
  const validator = new Validation.JsonStrictValidator(Spec.Version.v1dot5);
  assert.equal(await validator.validate(JSON.stringify(sbom)), null);
  // The schema does check licenses: an id off the SPDX list, or an expression beside a license, fails.
  const withLicenses = (licenses: unknown[]) => {
    const changed = structuredClone(sbom) as { components: { licenses?: unknown[] }[] };
    (changed.components[0] as { licenses?: unknown[] }).licenses = licenses;
    return JSON.stringify(changed);
  };
  assert.equal(await validator.validate(withLicenses([{ license: { id: "MIT" } }])), null);
  assert.notEqual(await validator.validate(withLicenses([{ license: { id: "Acme-1.0" } }])), null);
  assert.notEqual(
    await validator.validate(withLicenses([{ expression: "MIT" }, { license: { id: "MIT" } }])),
    null,
  );
});
