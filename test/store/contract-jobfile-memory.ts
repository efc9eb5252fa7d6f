/**
 * Contract: what a jobfile apply remembers beyond the job's row. A revision the id completed
 * is never queued again by a sync, even after a purge deleted the row while its file was
 * away; and a job shown completed again shows that revision's own run.
 */

import { expect, test } from "bun:test";
import { historyById } from "../../src/core/reconcile.ts";
import { T0, type WithStore } from "./contract-helpers.ts";
import { declared, done, none, runToEnd } from "./contract-jobfiles.ts";
import { exportAll } from "./contract-transfer.ts";

const removed = (id: string) => ({ ...none, removals: [{ id, owner: "jobs" }] });

export function jobfileMemoryContract(withStore: WithStore): void {
  test(
    "a completed job purged while its file was away comes back completed, not queued; a new revision runs",
    withStore(async ({ store }) => {
      await store.jobfileApply({ changes: { ...none, declarations: [declared("a", 1)] }, now: T0 });
      await runToEnd(store, "a", T0 + 1);
      expect(done(await store.jobfileApply({ changes: removed("a"), now: T0 + 2 }))).toEqual(["a forget"]);
      const purged = await store.jobPurge({ states: ["completed"], finishedBefore: T0 + 3, dryRun: false });
      expect(purged).toEqual(["a"]);
      expect(await store.jobGet({ id: "a" })).toBeNull();
      expect(await store.completedRevisionList({ ids: ["a", "b"] })).toEqual([
        { id: "a", revision: "a@1", at: T0 + 1 },
      ]);

      const back = await store.jobfileApply({
        changes: { ...none, declarations: [declared("a", 1)] },
        now: T0 + 4,
      });
      expect(done(back)).toEqual(["a showCompleted"]);
      expect(await store.jobGet({ id: "a" })).toMatchObject({
        state: "completed",
        revision: "a@1",
        source: "jobs/a.yaml",
        finished_at: T0 + 1,
      });
      expect(await store.jobClaim({ workerId: "w", host: "h", now: T0 + 5, leaseMs: 1000 })).toBeNull();
      // Applied again, nothing changes: the row is back.
      const again = await store.jobfileApply({
        changes: { ...none, declarations: [declared("a", 1)] },
        now: T0 + 6,
      });
      expect(done(again)).toEqual([]);

      // Purged again, then a revision it never completed: created and queued as any new id.
      await store.jobfileApply({ changes: removed("a"), now: T0 + 7 });
      await store.jobPurge({ states: ["completed"], finishedBefore: T0 + 8, dryRun: false });
      const next = await store.jobfileApply({
        changes: { ...none, declarations: [declared("a", 2)] },
        now: T0 + 9,
      });
      expect(done(next)).toEqual(["a create"]);
      expect((await store.jobGet({ id: "a" }))?.state).toBe("pending");
    }),
  );

  test(
    "a job shown completed again has the times of the run that completed that revision",
    withStore(async ({ store }) => {
      await store.jobfileApply({ changes: { ...none, declarations: [declared("a", 1)] }, now: T0 });
      await runToEnd(store, "a", T0 + 10);
      const first = await store.jobGet({ id: "a" });
      await store.jobfileApply({ changes: { ...none, declarations: [declared("a", 2)] }, now: T0 + 20 });
      await runToEnd(store, "a", T0 + 30);
      const back = await store.jobfileApply({
        changes: { ...none, declarations: [declared("a", 1)] },
        now: T0 + 40,
      });
      expect(done(back)).toEqual(["a showCompleted"]);
      const shown = await store.jobGet({ id: "a" });
      expect(shown).toMatchObject({ state: "completed", revision: "a@1", finished_at: T0 + 10 });
      // Never the start of the second revision's run, which came after this finish.
      expect(shown?.started_at).toBe(first?.started_at ?? null);
      expect(shown?.started_at ?? 0).toBeLessThanOrEqual(T0 + 10);
    }),
  );

  test(
    "the revisions of purged ids, exported and imported into a fresh store, are not run again there",
    withStore(async ({ store, fresh }) => {
      const both = [declared("a", 1), declared("b", 1, "jobs/b.yaml")];
      await store.jobfileApply({ changes: { ...none, declarations: both }, now: T0 });
      await runToEnd(store, "a", T0 + 1);
      await runToEnd(store, "b", T0 + 2);
      await store.jobfileApply({ changes: { ...none, declarations: [declared("a", 2)] }, now: T0 + 3 });
      await runToEnd(store, "a", T0 + 4);
      await store.jobfileApply({ changes: removed("a"), now: T0 + 5 });
      expect(await store.jobPurge({ states: ["completed"], finishedBefore: T0 + 6, dryRun: false })).toEqual([
        "a",
      ]);
      // b still has its row, which carries its completed revisions itself.
      const remembered = await store.purgedRevisionList();
      expect(remembered).toEqual([
        { id: "a", revision: "a@1", at: T0 + 1 },
        { id: "a", revision: "a@2", at: T0 + 4 },
      ]);

      const target = await fresh();
      const purged = [...historyById(remembered)].map(([id, revisions]) => ({ id, revisions }));
      const settings = { config: {}, queues: [], schedules: [], purged };
      await target.jobImportMany({ jobs: await exportAll(store), settings });
      expect(await target.purgedRevisionList()).toEqual(remembered);
      // Memory the target has already is kept as it is, with or without --merge, never refused.
      const older = { id: "c", revisions: [{ revision: "c@1", at: null }] };
      await target.jobImportMany({ jobs: [], settings: { ...settings, purged: [...purged, older] } });
      await target.jobImportMany({ jobs: [], settings: { ...settings, purged: [older] }, merge: true });
      expect(await target.purgedRevisionList()).toEqual([
        ...remembered,
        { id: "c", revision: "c@1", at: null },
      ]);

      for (const [id, version] of [
        ["a", 1],
        ["a", 2],
        ["c", 1],
      ] as const) {
        const back = await target.jobfileApply({
          changes: { ...none, declarations: [declared(id, version, `jobs/${id}.yaml`)] },
          now: T0 + 10,
        });
        expect(done(back)).toEqual([`${id} showCompleted`]);
      }
      expect(await target.jobClaim({ workerId: "w", host: "h", now: T0 + 11, leaseMs: 1000 })).toBeNull();
    }),
  );
}
