/**
 * `list` must answer fast on 100k jobs: check the SQLite plans, not the clock. The page
 * never sorts the table (newest first walks the primary key), and a state filter's count
 * is answered from the jobs_state index without reading rows.
 */

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SqliteStore } from "../../src/store/sqlite/backend.ts";
import { jobPageSql } from "../../src/store/sqlite/job-reads.ts";
import type { JobPageParams } from "../../src/store/store.ts";
import { newJob, T0 } from "./contract-helpers.ts";

const root = mkdtempSync(join(tmpdir(), "queuectl-list-plan-"));
let store: SqliteStore;

function plans(params: JobPageParams): { page: string; count: string } {
  const { page, count, values } = jobPageSql(params);
  const explain = (sql: string, extra: (string | number)[]) =>
    (store.database.query(`EXPLAIN QUERY PLAN ${sql}`).all(...values, ...extra) as { detail: string }[])
      .map((row) => row.detail)
      .join("\n");
  return { page: explain(page, [50]), count: explain(count, []) };
}

beforeAll(async () => {
  store = new SqliteStore(join(root, "jobs.db"));
  const jobs = Array.from({ length: 200 }, (_, i) =>
    newJob(`job-${i}`, i % 2 ? { queue: "q", tags: ["t"] } : {}),
  );
  await store.jobInsertMany({ jobs, now: T0 });
  store.database.run("ANALYZE");
});

afterAll(async () => {
  await store.close();
  rmSync(root, { recursive: true, force: true });
});

describe("list query plans", () => {
  test("no filter shape sorts the table", () => {
    const shapes: JobPageParams[] = [
      { limit: 50 },
      { states: ["pending"], limit: 50 },
      { states: ["pending", "failed"], limit: 50 },
      { tag: "t", limit: 50 },
    ];
    for (const shape of shapes) expect(plans(shape).page).not.toContain("TEMP B-TREE");
  });

  test("counts read an index, never the table's rows", () => {
    expect(plans({ states: ["dead"], limit: 50 }).count).toContain("COVERING INDEX jobs_state");
    expect(plans({ states: ["dead", "failed"], limit: 50 }).count).toContain("COVERING INDEX jobs_state");
    expect(plans({ limit: 50 }).count).toContain("COVERING INDEX");
  });

  // Since schema 9 no index leads with queue (it cost every claim and completion an entry):
  // a queue filter's count reads the table once, and still never sorts it.
  test("a queue filter's count is one pass over the table", () => {
    const count = plans({ queue: "q", limit: 50 }).count;
    expect(count).toContain("SCAN jobs");
    expect(count).not.toContain("TEMP B-TREE");
  });
});

describe("moving one job by hand", () => {
  // A kill or cancel of thousands of ids moves them one by one: each statement must find its
  // job by id, or every move walks the jobs in the states it moves from.
  test("finds its job, and the jobs downstream of it, by id: no statement walks jobs by state", async () => {
    // Without ANALYZE, as a store is used: the statistics above hid the walk.
    const store = new SqliteStore(join(root, "moves.db"));
    await store.jobInsertMany({ jobs: Array.from({ length: 50 }, (_, i) => newJob(`job-${i}`)), now: T0 });
    const statements: string[] = [];
    const query = store.database.query.bind(store.database);
    store.database.query = ((sql: string) => {
      statements.push(sql);
      return query(sql);
    }) as typeof store.database.query;
    try {
      await store.jobTransition({
        id: "job-7",
        from: ["pending"],
        to: "canceled",
        resetAttempts: false,
        now: T0,
      });
    } finally {
      store.database.query = query;
    }
    const moves = statements.filter((sql) => /^\s*(WITH[\s\S]*)?UPDATE jobs\b/.test(sql));
    expect(moves.length).toBeGreaterThanOrEqual(2);
    for (const sql of moves) {
      const bound = (sql.match(/\?\d/g) ?? []).reduce(
        (most, name) => Math.max(most, Number(name.slice(1))),
        0,
      );
      const plan = (
        store.database.query(`EXPLAIN QUERY PLAN ${sql}`).all(...Array(bound).fill("job-7")) as {
          detail: string;
        }[]
      )
        .map((row) => row.detail)
        .join("\n");
      expect({ sql, plan }).toEqual({
        sql,
        plan: expect.stringContaining("SEARCH jobs USING INDEX sqlite_autoindex_jobs_1 (id=?)"),
      });
      expect(plan).not.toContain("jobs_state");
    }
    await store.close();
  });
});
