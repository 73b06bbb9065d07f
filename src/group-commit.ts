/**
 * Group commit for SQLite stores (the event log in bus/sqlite/, kv/): writes issued together share one
 * transaction and one fsync, and each still succeeds or fails on its own.
 */
import type { DatabaseSync } from "node:sqlite";

/** Counters a caller can read to see how much batching happened. */
export interface GroupCommitStats {
  commits: number;
  writes: number;
}

/** Runs write operations in shared transactions: one commit (one fsync) for every batch. */
export interface GroupCommit {
  run<T>(op: () => T): Promise<T>;
  readonly stats: GroupCommitStats;
}

interface Pending {
  op: () => unknown;
  resolve: (value: unknown) => void;
  reject: (reason: unknown) => void;
}

/**
 * Creates a group committer on `db`. Writes issued while a batch is being committed wait for the
 * next one, so N concurrent requests share one fsync instead of paying N. Each write runs in its own
 * savepoint: one failing write is rolled back and rejected alone, the rest of the batch commits.
 */
export function createGroupCommit(db: DatabaseSync): GroupCommit {
  let queue: Pending[] = [];
  let scheduled = false;
  const stats: GroupCommitStats = { commits: 0, writes: 0 };

  function flush(): void {
    scheduled = false;
    const batch = queue;
    queue = [];
    const results: unknown[] = [];
    try {
      db.exec("BEGIN IMMEDIATE");
      for (const item of batch) results.push(runOne(item));
      db.exec("COMMIT");
    } catch (err) {
      if (db.isTransaction) db.exec("ROLLBACK");
      for (const item of batch) item.reject(err);
      return;
    }
    stats.commits += 1;
    stats.writes += batch.length;
    batch.forEach((item, i) => {
      const result = results[i];
      if (result instanceof Failed) item.reject(result.error);
      else item.resolve(result);
    });
  }

  function runOne(item: Pending): unknown {
    db.exec("SAVEPOINT w");
    try {
      const result = item.op();
      db.exec("RELEASE w");
      return result;
    } catch (error) {
      db.exec("ROLLBACK TO w");
      db.exec("RELEASE w");
      return new Failed(error);
    }
  }

  return {
    stats,
    run<T>(op: () => T): Promise<T> {
      return new Promise<T>((resolve, reject) => {
        queue.push({ op, resolve: resolve as (value: unknown) => void, reject });
        if (!scheduled) {
          scheduled = true;
          // setImmediate lets every request already read from sockets join this batch.
          setImmediate(flush);
        }
      });
    },
  };
}

class Failed {
  readonly error: unknown;
  constructor(error: unknown) {
    this.error = error;
  }
}
