/**
 * Contract: schedules. Firing is a compare-and-set on `next_at` followed by the overlap
 * decision of core/schedule-tick.ts, so each backend must enqueue, skip and cancel exactly
 * the same occurrences, also when two tickers race.
 */

import { expect, test } from "bun:test";
import type { Store } from "../../src/store/store.ts";
import { newJob, T0, type WithStore } from "./contract-helpers.ts";

const SPEC = { id: "c", command: "echo c", schedule: "*/10 * * * *", catchup: "all" as const };

/** A schedule `c` due at T0 + 10 whose earlier occurrence `c@0` is queued, and claimed when `running`. */
async function scheduleWithEarlier(store: Store, running: boolean): Promise<void> {
  await store.scheduleUpsert({ id: "c", spec: SPEC, revision: "r", source: null, nextAt: T0, now: T0 });
  await store.scheduleFire({
    id: "c",
    expectedNextAt: T0,
    nextAt: T0 + 10,
    occurrences: [newJob("c@0")],
    overlap: "allow",
    now: T0,
  });
  if (running) await store.jobClaim({ workerId: "w", host: "h", now: T0, leaseMs: 60_000 });
}

const owed = () => [newJob("c@10"), newJob("c@20"), newJob("c@30")];

export function scheduleContract(withStore: WithStore): void {
  test(
    "a schedule fires each occurrence once, even when two tickers race",
    withStore(async ({ store, another }) => {
      const spec = { id: "nightly", command: "echo nightly", schedule: "0 3 * * *" };
      const upsert = (revision: string, nextAt: number) =>
        store.scheduleUpsert({ id: "nightly", spec, revision, source: null, nextAt, now: T0 });
      expect(await upsert("r1", T0 + 100)).toBe("created");
      expect(await upsert("r1", T0 + 100)).toBe("unchanged");
      expect(await upsert("r2", T0 + 200)).toBe("updated");
      expect(await store.scheduleDue({ now: T0 + 199 })).toEqual([]);
      expect((await store.scheduleDue({ now: T0 + 200 })).map((s) => [s.id, s.next_at, s.revision])).toEqual([
        ["nightly", T0 + 200, "r2"],
      ]);
      const fire = (ticker: Store) =>
        ticker.scheduleFire({
          id: "nightly",
          expectedNextAt: T0 + 200,
          nextAt: T0 + 300,
          occurrences: [newJob("nightly@200")],
          overlap: "skip",
          now: T0 + 200,
        });
      const results = await Promise.all([fire(store), fire(await another())]);
      expect(results.flatMap((r) => r.enqueued)).toEqual(["nightly@200"]);
      expect(await store.scheduleGet({ id: "nightly" })).toMatchObject({
        next_at: T0 + 300,
        last_at: T0 + 200,
      });

      const skipped = await store.scheduleFire({
        id: "nightly",
        expectedNextAt: T0 + 300,
        nextAt: T0 + 400,
        occurrences: [newJob("nightly@300")],
        overlap: "skip",
        now: T0 + 300,
      });
      expect(skipped).toEqual({ enqueued: [], skipped: ["nightly@300"], replaced: [] });
      expect((await store.scheduleList()).map((s) => s.id)).toEqual(["nightly"]);
      expect(await store.scheduleRemove({ id: "nightly" })).toBe(true);
      expect(await store.scheduleGet({ id: "nightly" })).toBeNull();
    }),
  );

  test(
    "catch-up of three owed occurrences: skip queues the oldest, replace the newest, allow all",
    withStore(async ({ store }) => {
      const fire = async (id: string, overlap: "allow" | "skip" | "replace") => {
        const spec = { ...SPEC, id };
        await store.scheduleUpsert({ id, spec, revision: "r", source: null, nextAt: T0, now: T0 });
        return store.scheduleFire({
          id,
          expectedNextAt: T0,
          nextAt: T0 + 40,
          occurrences: [newJob(`${id}@10`), newJob(`${id}@20`), newJob(`${id}@30`)],
          overlap,
          now: T0 + 31,
        });
      };
      expect(await fire("skip", "skip")).toEqual({
        enqueued: ["skip@10"],
        skipped: ["skip@20", "skip@30"],
        replaced: [],
      });
      expect(await fire("replace", "replace")).toEqual({
        enqueued: ["replace@30"],
        skipped: ["replace@10", "replace@20"],
        replaced: [],
      });
      expect(await fire("allow", "allow")).toEqual({
        enqueued: ["allow@10", "allow@20", "allow@30"],
        skipped: [],
        replaced: [],
      });
      expect((await store.jobList({})).map((job) => [job.id, job.state])).toEqual([
        ["skip@10", "pending"],
        ["replace@30", "pending"],
        ["allow@10", "pending"],
        ["allow@20", "pending"],
        ["allow@30", "pending"],
      ]);
    }),
  );

  test(
    "skip queues nothing while an earlier occurrence is running",
    withStore(async ({ store }) => {
      await scheduleWithEarlier(store, true);
      const fired = await store.scheduleFire({
        id: "c",
        expectedNextAt: T0 + 10,
        nextAt: T0 + 40,
        occurrences: owed(),
        overlap: "skip",
        now: T0 + 31,
      });
      expect(fired).toEqual({ enqueued: [], skipped: ["c@10", "c@20", "c@30"], replaced: [] });
      expect((await store.jobList({})).map((job) => job.id)).toEqual(["c@0"]);
    }),
  );

  test(
    "replace cancels the running earlier occurrence once, with its dependents, and queues only the newest",
    withStore(async ({ store, another }) => {
      await scheduleWithEarlier(store, true);
      await store.jobInsertMany({ jobs: [newJob("report", { after: ["c@0"] })], now: T0 });
      const fire = (ticker: Store) =>
        ticker.scheduleFire({
          id: "c",
          expectedNextAt: T0 + 10,
          nextAt: T0 + 40,
          occurrences: owed(),
          overlap: "replace",
          now: T0 + 31,
        });
      const results = await Promise.all([fire(store), fire(await another())]);
      const fired = results.find((result) => result.enqueued.length > 0);
      expect(fired).toEqual({ enqueued: ["c@30"], skipped: ["c@10", "c@20"], replaced: ["c@0"] });
      expect(results.filter((result) => result !== fired)).toEqual([
        { enqueued: [], skipped: [], replaced: [] },
      ]);
      expect(await store.jobGet({ id: "c@0" })).toMatchObject({
        state: "canceled",
        lease_until: null,
        last_error: "replaced by a newer occurrence",
      });
      expect(await store.jobGet({ id: "report" })).toMatchObject({ state: "canceled" });
      // Its attempt ends with it: the worker's late result is refused, so nothing else would end it.
      expect(await store.attemptList({ jobId: "c@0" })).toMatchObject([
        { token: 1, finished_at: T0 + 31, error: "replaced by a newer occurrence" },
      ]);
      expect(await store.jobLeaseExtend({ id: "c@0", token: 1, leaseUntil: T0 + 100 })).toBe(false);
      expect((await store.jobList({ state: "pending" })).map((job) => job.id)).toEqual(["c@30"]);
    }),
  );
}
