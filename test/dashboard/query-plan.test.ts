/**
 * The dashboard's list must stay fast on 100k jobs: check the plans, not the clock. A
 * state filter walks `jobs_state (state, seq)`, and no search shape sorts the table.
 */

import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import type { SqliteStore } from "../../src/store/sqlite/backend.ts";
import { DEPENDENCY_LINK_SQL, searchJobsSql } from "../../src/store/sqlite/job-search.ts";
import type { JobSearchParams } from "../../src/store/store.ts";
import { type TempHome, tempHome } from "../helpers/cli.ts";
import { enqueue, openTestStore } from "./fixtures.ts";

// Real processes on a busy two-core machine: generous, not the 5 s default.
setDefaultTimeout(60_000);

let home: TempHome;
let store: SqliteStore;

function plan(params: JobSearchParams): string {
  const { sql, values } = searchJobsSql(params);
  const rows = store.database.query(`EXPLAIN QUERY PLAN ${sql}`).all(...values) as { detail: string }[];
  return rows.map((row) => row.detail).join("\n");
}

beforeAll(async () => {
  home = tempHome();
  store = openTestStore(home.home);
  for (let i = 0; i < 50; i++)
    await enqueue(store, { id: `job-${i}`, command: "true", tags: ["t"] }, Date.now());
  store.database.run("ANALYZE");
});

afterAll(async () => {
  await store.close();
  home.cleanup();
});

describe("job search query plans", () => {
  test("a state filter uses the jobs_state index", () => {
    expect(plan({ state: "dead", limit: 26, offset: 0 })).toContain("USING INDEX jobs_state (state=?)");
    expect(plan({ state: "pending", tag: "t", idContains: "1", limit: 26, offset: 0 })).toContain(
      "USING INDEX jobs_state (state=?)",
    );
  });

  test("no search shape sorts: newest first is a walk of the primary key or the index", () => {
    const shapes: JobSearchParams[] = [
      { limit: 26, offset: 0 },
      { tag: "t", limit: 26, offset: 0 },
      { tag: ["t", "u"], limit: 26, offset: 0 },
      { idContains: "job", limit: 26, offset: 100 },
      { state: "completed", limit: 26, offset: 0 },
    ];
    for (const shape of shapes) expect(plan(shape)).not.toContain("TEMP B-TREE");
  });

  test("dependency links search an index of job_deps both ways, never scan it", () => {
    const explain = (sql: string) =>
      (
        store.database
          .query(`EXPLAIN QUERY PLAN ${sql}`)
          .all(...(sql.includes("?2") ? ["x", 100] : ["x"])) as { detail: string }[]
      )
        .map((row) => row.detail)
        .join("\n");
    expect(explain(DEPENDENCY_LINK_SQL.upstream)).toContain(
      "SEARCH d USING COVERING INDEX sqlite_autoindex_job_deps_1 (job_id=?)",
    );
    expect(explain(DEPENDENCY_LINK_SQL.downstream)).toContain(
      "SEARCH d USING INDEX job_deps_depends_on (depends_on=?)",
    );
    expect(explain(DEPENDENCY_LINK_SQL.downstreamTotal)).toContain("job_deps_depends_on (depends_on=?)");
  });

  test("the search runs with every filter at once", async () => {
    const found = await store.jobSearch({
      state: "pending",
      tag: "t",
      idContains: "JOB-4",
      limit: 3,
      offset: 1,
    });
    expect(found.map((job) => job.id)).toEqual(["job-48", "job-47", "job-46"]);
  });
});
