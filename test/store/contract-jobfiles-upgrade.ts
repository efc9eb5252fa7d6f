/**
 * Contract: a store written before schema version 3 (no owners, no completion dates, no
 * attempt revisions) migrates in place and reconciles as before: its history still decides,
 * and the folder that holds a job's file owns it.
 */

import { expect, test } from "bun:test";
import type { StoreBackend } from "./contract-helpers.ts";
import { newJob, schemaAtVersion, T0 } from "./contract-helpers.ts";

export function jobfileUpgradeContract(backend: StoreBackend): void {
  test("a version 2 store migrates to 3 in place and keeps deciding from its history", async () => {
    const location = await backend.create();
    const flag = backend.name === "postgres" ? "TRUE" : "1";
    await location.exec(`
      ${schemaAtVersion(backend, 2)}
      INSERT INTO jobs (id, spec, revision, state, attempts, max_retries, created_at, updated_at, next_run_at,
                        finished_at, token, source, declared)
      VALUES ('a', '{"id":"a","command":"echo a v1"}', 'a@1', 'completed', 1, 3, ${T0}, ${T0}, ${T0},
              ${T0 + 5}, 1, '/old/jobs/a.yaml', ${flag});
      INSERT INTO completed_revisions (job_id, revision) VALUES ('a', 'a@1');
      INSERT INTO attempts (job_id, token, attempt, worker_id, host, started_at, finished_at, exit_code)
      VALUES ('a', 1, 1, 'w', 'h', ${T0 + 1}, ${T0 + 5}, 0);
    `);
    const store = await location.open();
    try {
      const [facts] = await store.jobDeclarations({ ids: ["a"] });
      expect(facts).toMatchObject({ owner: null, completed: [{ revision: "a@1", at: T0 + 5 }] });
      expect((await store.attemptList({ jobId: "a" }))[0]?.revision).toBeNull();
      const declaration = (version: number) => ({
        ...newJob("a", { source: "/old/jobs/a.yaml" }),
        spec: { id: "a", command: `echo a v${version}` },
        revision: `a@${version}`,
        source: "/old/jobs/a.yaml",
        owner: "/old/jobs",
        adoptFrom: null,
      });
      // The folder holding the file owns the row, so the first sync only records it.
      const first = await store.jobfileApply({
        changes: { declarations: [declaration(1)], removals: [] },
        now: T0 + 9,
      });
      expect(first.redeclare).toEqual(["a"]);
      expect(await store.declaredList()).toMatchObject([{ id: "a", owner: "/old/jobs" }]);
      await store.jobfileApply({ changes: { declarations: [declaration(2)], removals: [] }, now: T0 + 10 });
      const back = await store.jobfileApply({
        changes: { declarations: [declaration(1)], removals: [] },
        now: T0 + 11,
      });
      expect(back.showCompleted).toEqual(["a"]);
      expect(await store.jobClaim({ workerId: "w", host: "h", now: T0 + 99_999, leaseMs: 1000 })).toBeNull();
    } finally {
      await store.close();
    }
  });
}
