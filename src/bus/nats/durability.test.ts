import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { NATS_CAS_UNSAFE, NATS_NOT_DURABLE, NATS_REPLICAS_INVALID } from "./connect-errors.ts";
import {
  assertCasSafe,
  assertDurable,
  compareVersions,
  durabilityOf,
  formatDuration,
  parseVersion,
  resolveReplicas,
  slowPendingWarning,
} from "./durability.ts";

const code = (c: string) => (err: unknown) => (err as { code?: string }).code === c;

describe("NATS version policy", () => {
  test("versions compare by number, not as text", () => {
    assert.deepEqual(parseVersion("v2.10.27"), [2, 10, 27]);
    assert.deepEqual(parseVersion("2.9.10-beta.1"), [2, 9, 10]);
    assert.ok(compareVersions("2.9.10", "2.9.21") < 0);
    assert.ok(compareVersions("2.10.0", "2.9.21") > 0);
    assert.equal(compareVersions("2.9.21", "2.9.21"), 0);
  });

  test("replicated compare-and-set is refused on nats-server before 2.9.21, with the fix", () => {
    assert.throws(
      () => assertCasSafe("2.9.10", 3),
      (err: Error & { code?: string }) =>
        err.code === NATS_CAS_UNSAFE &&
        err.message.includes("2.9.10") &&
        err.message.includes("2.9.21") &&
        err.message.includes("--replicas 1"),
    );
    assert.throws(() => assertCasSafe("2.9.20", 2), code(NATS_CAS_UNSAFE));
  });

  test("R1 on an old server, and any replicas on 2.9.21 or later, are allowed", () => {
    assertCasSafe("2.9.10", 1);
    assertCasSafe("2.9.21", 3);
    assertCasSafe("2.10.27", 5);
  });

  test("nats-server before 2.10 is warned about (pending counts walk every subject), later ones not", () => {
    assert.match(slowPendingWarning("2.9.10") ?? "", /2\.9\.10.*upgrade nats-server to 2\.10\.0 or later/);
    assert.equal(slowPendingWarning("2.10.0"), undefined);
    assert.equal(slowPendingWarning("2.11.3"), undefined);
  });
});

describe("NATS replicas", () => {
  const lone = { cluster: undefined, size: 1, sizeFrom: "info" } as const;
  const cluster = { cluster: "c1", size: 3, sizeFrom: "monitor" } as const;

  test("default is 1 on a lone server and 3 in a cluster; the flag overrides", () => {
    assert.equal(resolveReplicas(undefined, lone), 1);
    assert.equal(resolveReplicas(undefined, cluster), 3);
    assert.equal(resolveReplicas(1, cluster), 1);
  });

  test("more replicas than servers is refused with the fix", () => {
    assert.throws(
      () => resolveReplicas(3, lone),
      (err: Error & { code?: string }) =>
        err.code === NATS_REPLICAS_INVALID && err.message.includes("--replicas 1"),
    );
    assert.throws(
      () => resolveReplicas(5, cluster),
      (err: Error & { code?: string }) =>
        err.code === NATS_REPLICAS_INVALID && err.message.includes('"c1" of 3 servers'),
    );
  });

  test("a count INFO cannot vouch for (servers down at start) is not refused", () => {
    assert.equal(resolveReplicas(3, { cluster: "c1", size: 2, sizeFrom: "info" }), 3);
  });

  test("counts outside 1..5 are refused", () => {
    assert.throws(() => resolveReplicas(0, cluster), code(NATS_REPLICAS_INVALID));
    assert.throws(() => resolveReplicas(6, cluster), code(NATS_REPLICAS_INVALID));
    assert.throws(() => resolveReplicas(1.5, cluster), code(NATS_REPLICAS_INVALID));
  });
});

describe("NATS durability statement", () => {
  test("R3 is safe whatever the sync policy, and says so", () => {
    const d = durabilityOf({ version: "2.10.27", replicas: 3, syncAlways: false, syncIntervalMs: 120_000 });
    assert.equal(d.backend, "nats");
    assert.equal(d.safe, true);
    assert.match(d.summary, /R3/);
    assert.match(d.summary, /every 2m0s/);
    assert.match(d.summary, /2\.10\.27/);
  });

  test("R1 on a server that syncs every write is safe", () => {
    const d = durabilityOf({ version: "2.10.27", replicas: 1, syncAlways: true, syncIntervalMs: 120_000 });
    assert.equal(d.safe, true);
    assert.match(d.summary, /syncs every write/);
  });

  test("R1 with an unknown sync policy is assumed lazy, and says how to learn it", () => {
    const d = durabilityOf({ version: "2.10.27", replicas: 1 });
    assert.equal(d.safe, false);
    assert.match(d.summary, /sync policy unknown \(assumed lazy/);
    assert.match(d.summary, /--nats-monitor/);
  });

  test("R1 on nats-server 2.9 is lazy without asking: it cannot sync every write", () => {
    const d = durabilityOf({ version: "2.9.10", replicas: 1 });
    assert.equal(d.safe, false);
    assert.match(d.summary, /before 2\.10 it cannot sync every write/);
  });

  test("R1 with a sync timer names the timer and the risk", () => {
    const d = durabilityOf({ version: "2.10.27", replicas: 1, syncAlways: false, syncIntervalMs: 10_000 });
    assert.equal(d.safe, false);
    assert.match(d.summary, /every 10s/);
    assert.match(d.summary, /lost if that machine crashes/);
  });

  test("durations read as nats-server writes them", () => {
    assert.equal(formatDuration(120_000), "2m0s");
    assert.equal(formatDuration(1_500), "1.5s");
    assert.equal(formatDuration(250), "250ms");
    assert.equal(formatDuration(3_600_000), "1h0m0s");
  });
});

describe("NATS durability policy", () => {
  const unsafe = durabilityOf({ version: "2.10.27", replicas: 1 });
  const safe = durabilityOf({ version: "2.10.27", replicas: 3 });

  for (const mode of ["start", "worker", "gateway"] as const) {
    test(`${mode} refuses an unsafe deployment, naming the flags that fix it`, () => {
      assert.throws(
        () => assertDurable(unsafe, { acceptLazyFsync: false, mode }),
        (err: Error & { code?: string }) =>
          err.code === NATS_NOT_DURABLE &&
          err.message.includes("--accept-lazy-fsync") &&
          err.message.includes("--replicas 3") &&
          err.message.includes("sync_interval: always") &&
          err.message.includes("--nats-monitor"),
      );
    });

    test(`${mode} runs unsafe with --accept-lazy-fsync, with a warning`, () => {
      const warning = assertDurable(unsafe, { acceptLazyFsync: true, mode });
      assert.match(warning ?? "", /Accepted with --accept-lazy-fsync/);
    });
  }

  test("dev warns instead of refusing", () => {
    const warning = assertDurable(unsafe, { acceptLazyFsync: false, mode: "dev" });
    assert.match(warning ?? "", /assumed lazy/);
  });

  test("a safe deployment starts in every mode without a warning", () => {
    for (const mode of ["start", "worker", "gateway", "dev"] as const)
      assert.equal(assertDurable(safe, { acceptLazyFsync: false, mode }), undefined);
  });
});
