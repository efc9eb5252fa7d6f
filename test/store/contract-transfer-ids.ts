/**
 * Contract: which ids an import may take. An id is a job's or a schedule's, never both, and
 * an occurrence id (`<schedule id>@<instant>`) of a schedule the store has is that
 * schedule's, as every other door already refuses it (core/occurrence-id.ts).
 */

import { expect, test } from "bun:test";
import { newJob, T0, type WithStore } from "./contract-helpers.ts";
import { exportAll, record } from "./contract-transfer.ts";

const AT = "2026-01-01T04:00:00.000Z";

function scheduleSettings(id: string) {
  const spec = { id, command: "echo s", schedule: "0 4 * * *" };
  const schedule = {
    id,
    spec,
    revision: "r",
    source: null,
    next_at: T0 + 10,
    last_at: null,
    created_at: T0,
    updated_at: T0,
  };
  return { config: {}, queues: [], schedules: [schedule] };
}

export function transferIdsContract(withStore: WithStore): void {
  test(
    "an id is a job's or a schedule's: import refuses, and --merge skips, one the store has as the other",
    withStore(async ({ store }) => {
      const spec = { id: "pend", command: "echo s", schedule: "0 4 * * *" };
      await store.scheduleUpsert({ id: "pend", spec, revision: "r", source: null, nextAt: T0 + 10, now: T0 });
      await store.jobInsertMany({ jobs: [newJob("sch")], now: T0 });
      const settings = scheduleSettings;
      await expect(store.jobImportMany({ jobs: [record("pend")] })).rejects.toThrow(
        'job id "pend" already exists',
      );
      await expect(store.jobImportMany({ jobs: [], settings: settings("sch") })).rejects.toThrow(
        'schedule id "sch" already exists',
      );
      const merged = await store.jobImportMany({
        jobs: [record("pend"), record("new")],
        settings: settings("sch"),
        merge: true,
      });
      expect([
        merged.jobsImported,
        merged.jobsSkipped,
        merged.schedulesImported,
        merged.schedulesSkipped,
      ]).toEqual([1, 1, 0, 1]);
      expect((await store.jobGet({ id: "pend" })) ?? null).toBeNull();
      expect((await store.scheduleGet({ id: "sch" })) ?? null).toBeNull();
      expect((await store.jobGet({ id: "new" }))?.state).toBe("pending");
    }),
  );

  test(
    "an occurrence id of a schedule the store has is refused, and --merge skips it, unless the job is that occurrence",
    withStore(async ({ store }) => {
      const spec = { id: "nightly", command: "echo real", schedule: "0 4 * * *" };
      await store.scheduleUpsert({
        id: "nightly",
        spec,
        revision: "r",
        source: null,
        nextAt: T0 + 10,
        now: T0,
      });
      const impostor = record(`nightly@${AT}`, { spec: { id: `nightly@${AT}`, command: "echo impostor" } });
      await expect(store.jobImportMany({ jobs: [record("ok"), impostor] })).rejects.toThrow(
        `job id "nightly@${AT}" is the id of an occurrence of schedule "nightly" in the target store`,
      );
      expect((await store.jobGet({ id: "ok" })) ?? null).toBeNull();
      const merged = await store.jobImportMany({ jobs: [impostor, record("ok")], merge: true });
      // Skipped as the occurrence it would be, which the summary tells apart from a job the store has.
      expect([merged.jobsImported, merged.jobsSkipped, merged.jobsSkippedAsOccurrences]).toEqual([1, 1, 1]);
      expect((await store.jobGet({ id: `nightly@${AT}` })) ?? null).toBeNull();
      // Another store's schedule of the same id (its export merged here): a pending run of
      // another command may not take this schedule's instant.
      const theirs = { ...impostor, schedule_id: "nightly", revision: "theirs" };
      await expect(store.jobImportMany({ jobs: [theirs] })).rejects.toThrow("is the id of an occurrence");
      // One that ended keeps its id: it can never run again.
      const ended = record(`nightly@${AT}`, {
        schedule_id: "nightly",
        revision: "theirs",
        state: "completed",
      });
      expect((await store.jobImportMany({ jobs: [ended] })).jobsImported).toBe(1);
      // The schedule's own occurrence, as an export of this store writes it, keeps its id.
      const AT2 = "2026-01-02T04:00:00.000Z";
      const occurrence = record(`nightly@${AT2}`, { schedule_id: "nightly", revision: "r" });
      expect((await store.jobImportMany({ jobs: [occurrence] })).jobsImported).toBe(1);
      const exported = await exportAll(store, 100);
      expect(exported.find((job) => job.id === `nightly@${AT2}`)?.schedule_id).toBe("nightly");
      // A schedule that arrives with the input claims nothing: the input is a store as it was.
      const restored = await store.jobImportMany({
        jobs: [record(`daily@${AT}`)],
        settings: scheduleSettings("daily"),
      });
      expect([restored.jobsImported, restored.schedulesImported]).toEqual([1, 1]);
    }),
  );
}
