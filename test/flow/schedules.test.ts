import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { dueOccurrences, nextOccurrence, occurrenceId } from "../../src/core/schedule.ts";
import { normalizeSpec } from "../../src/core/spec.ts";
import { tickSchedules } from "../../src/flow/tick.ts";
import type { Store } from "../../src/store/store.ts";
import { enqueue, forEachBackend, OK, runNext } from "./helpers.ts";

// Real processes on a busy two-core machine: generous, not the 5 s default.
setDefaultTimeout(60_000);

const T0 = Date.parse("2026-06-01T12:00:30Z");
const MINUTE = 60_000;

async function ids(store: Store) {
  return (await store.jobList({})).map((job) => job.id);
}

describe("schedule arithmetic (pure, fixed clock)", () => {
  const every5 = normalizeSpec({ id: "s", command: "true", schedule: "*/5 * * * *" });

  test("next occurrence and deterministic occurrence ids", () => {
    expect(new Date(nextOccurrence(every5, T0) ?? 0).toISOString()).toBe("2026-06-01T12:05:00.000Z");
    expect(occurrenceId("s", Date.parse("2026-06-01T12:05:00Z"))).toBe("s@2026-06-01T12:05:00.000Z");
  });

  test("catchup latest (default) runs only the most recent missed occurrence", () => {
    const first = Date.parse("2026-06-01T12:05:00Z");
    const due = dueOccurrences(every5, first, first + 21 * MINUTE);
    expect(due.runAt.map((t) => new Date(t).toISOString())).toEqual(["2026-06-01T12:25:00.000Z"]);
    expect(due.skipped).toBe(4);
    expect(new Date(due.nextAt ?? 0).toISOString()).toBe("2026-06-01T12:30:00.000Z");
  });

  test("a schedule a year behind owes the same tail, found without a step per missed minute", () => {
    const now = Date.parse("2026-06-01T12:34:56Z");
    const yearAgo = now - 365 * 24 * 60 * MINUTE;
    const minute = (at: number) => new Date(at).toISOString();
    const latest = normalizeSpec({
      id: "m",
      command: "true",
      schedule: "* * * * *",
      timezone: "Europe/Berlin",
    });
    const due = dueOccurrences(latest, yearAgo, now);
    expect(due.runAt.map(minute)).toEqual(["2026-06-01T12:34:00.000Z"]);
    expect(minute(due.nextAt ?? 0)).toBe("2026-06-01T12:35:00.000Z");
    const all = normalizeSpec({ id: "m", command: "true", schedule: "* * * * *", catchup: "all" });
    const owed = dueOccurrences(all, yearAgo, now).runAt;
    expect(owed).toHaveLength(100);
    expect(owed.map(minute).at(0)).toBe("2026-06-01T10:55:00.000Z");
    expect(owed.every((at, i) => i === 0 || at - (owed[i - 1] ?? 0) === MINUTE)).toBe(true);
    // Weekday office hours, last fired on a Friday: the tail reaches back over the weekend.
    const office = normalizeSpec({ id: "o", command: "true", schedule: "0 9-17 * * 1-5" });
    const monday = Date.parse("2026-06-01T08:00:00Z");
    expect(dueOccurrences(office, monday - 400 * 24 * 60 * MINUTE, monday).runAt.map(minute)).toEqual([
      "2026-05-29T17:00:00.000Z",
    ]);
  });

  test("catchup all owes the last 100 however far behind, also just past the 200 stepped through", () => {
    const all = normalizeSpec({ id: "m", command: "true", schedule: "* * * * *", catchup: "all" });
    const now = Date.parse("2026-06-01T12:34:56Z");
    const lastMinute = Date.parse("2026-06-01T12:34:00Z");
    for (const missed of [150, 201, 202, 210, 250, 300, 301, 5_000]) {
      const due = dueOccurrences(all, lastMinute - (missed - 1) * MINUTE, now);
      expect([missed, due.runAt.length, due.runAt.at(-1)]).toEqual([missed, 100, lastMinute]);
      expect(due.runAt.every((at, i) => i === 0 || at - (due.runAt[i - 1] ?? 0) === MINUTE)).toBe(true);
      if (missed <= 301) expect([missed, due.skipped]).toEqual([missed, missed - 100]);
    }
  });

  test("catchup all runs each missed occurrence; none drops late ones", () => {
    const first = Date.parse("2026-06-01T12:05:00Z");
    const all = normalizeSpec({ id: "s", command: "true", schedule: "*/5 * * * *", catchup: "all" });
    expect(dueOccurrences(all, first, first + 21 * MINUTE).runAt).toHaveLength(5);
    const none = normalizeSpec({ id: "s", command: "true", schedule: "*/5 * * * *", catchup: "none" });
    expect(dueOccurrences(none, first, first + 23 * MINUTE).runAt).toEqual([]);
    expect(dueOccurrences(none, first, first + 10_000).runAt).toEqual([first]);
  });

  test("DST: a daily 02:30 in Europe/Berlin on the spring-forward and fall-back days", () => {
    const spec = normalizeSpec({
      id: "d",
      command: "true",
      schedule: "30 2 * * *",
      timezone: "Europe/Berlin",
    });
    const runs: string[] = [];
    let cursor = Date.parse("2026-03-27T12:00:00Z");
    for (let i = 0; i < 4; i++) {
      cursor = nextOccurrence(spec, cursor) ?? 0;
      runs.push(new Date(cursor).toISOString());
    }
    // 02:30 does not exist on 29 March (clocks jump 02:00 → 03:00): it runs once, at 03:00 local.
    expect(runs).toEqual([
      "2026-03-28T01:30:00.000Z",
      "2026-03-29T01:00:00.000Z",
      "2026-03-30T00:30:00.000Z",
      "2026-03-31T00:30:00.000Z",
    ]);
    // 02:30 happens twice on 25 October (03:00 → 02:00): it must run once, not twice.
    const autumn: number[] = [];
    cursor = Date.parse("2026-10-24T12:00:00Z");
    for (let i = 0; i < 3; i++) {
      cursor = nextOccurrence(spec, cursor) ?? 0;
      autumn.push(cursor);
    }
    const onTheDay = autumn.filter((t) => new Date(t).toISOString().startsWith("2026-10-25"));
    expect(onTheDay).toHaveLength(1);
  });
});

forEachBackend((backend) => {
  describe("schedules in the store", () => {
    test("an occurrence becomes a job once, and ticking again adds nothing", async () => {
      const store = await backend.store();
      await enqueue(store, [{ id: "tick", command: "true", schedule: "* * * * *" }], T0);
      expect(await ids(store)).toEqual([]);
      await tickSchedules(store, T0 + MINUTE);
      await tickSchedules(store, T0 + MINUTE);
      expect(await ids(store)).toEqual(["tick@2026-06-01T12:01:00.000Z"]);
      expect((await store.scheduleGet({ id: "tick" }))?.next_at).toBe(Date.parse("2026-06-01T12:02:00Z"));
    });

    test("two tickers on one database (two watchers, two hosts) never enqueue an occurrence twice", async () => {
      const store = await backend.store();
      const other = await backend.another();
      await enqueue(store, [{ id: "both", command: "true", schedule: "* * * * *", overlap: "allow" }], T0);
      for (let minute = 1; minute <= 10; minute++) {
        const now = T0 + minute * MINUTE;
        await Promise.all([tickSchedules(store, now), tickSchedules(other, now), tickSchedules(store, now)]);
      }
      const all = await ids(store);
      expect(all).toHaveLength(10);
      expect(new Set(all).size).toBe(10);
    });

    test("overlap skip (default): no new occurrence while the previous one is still running", async () => {
      const store = await backend.store();
      await enqueue(store, [{ id: "slow", command: "sleep 100", schedule: "* * * * *" }], T0);
      await tickSchedules(store, T0 + MINUTE);
      const running = await store.jobClaim({ workerId: "w", host: "h", now: T0 + MINUTE, leaseMs: 600_000 });
      expect(running?.id).toBe("slow@2026-06-01T12:01:00.000Z");
      const result = await tickSchedules(store, T0 + 2 * MINUTE);
      expect(result.skipped).toEqual(["slow@2026-06-01T12:02:00.000Z"]);
      expect(await ids(store)).toEqual(["slow@2026-06-01T12:01:00.000Z"]);
    });

    test("overlap allow runs occurrences side by side", async () => {
      const store = await backend.store();
      await enqueue(store, [{ id: "par", command: "true", schedule: "* * * * *", overlap: "allow" }], T0);
      await tickSchedules(store, T0 + MINUTE);
      await store.jobClaim({ workerId: "w", host: "h", now: T0 + MINUTE, leaseMs: 600_000 });
      await tickSchedules(store, T0 + 2 * MINUTE);
      expect(await ids(store)).toHaveLength(2);
    });

    test("overlap replace cancels the running occurrence and fences out its result", async () => {
      const store = await backend.store();
      await enqueue(store, [{ id: "rep", command: "true", schedule: "* * * * *", overlap: "replace" }], T0);
      await tickSchedules(store, T0 + MINUTE);
      const old = await store.jobClaim({ workerId: "w", host: "h", now: T0 + MINUTE, leaseMs: 600_000 });
      if (!old) throw new Error("expected a claim");
      const result = await tickSchedules(store, T0 + 2 * MINUTE);
      expect(result.replaced).toEqual([old.id]);
      expect((await store.jobGet({ id: old.id }))?.state).toBe("canceled");
      // The old worker's lease renewal fails, so it stops the process; its late result is refused.
      expect(await store.jobLeaseExtend({ id: old.id, token: old.token, leaseUntil: T0 + 10 * MINUTE })).toBe(
        false,
      );
      expect(
        await store.jobComplete({ id: old.id, token: old.token, now: T0 + 2 * MINUTE, result: OK }),
      ).toBe(false);
      expect((await store.jobGet({ id: "rep@2026-06-01T12:02:00.000Z" }))?.state).toBe("pending");
    });

    test("catch-up after downtime: latest enqueues one, all with overlap allow enqueues each", async () => {
      const store = await backend.store();
      await enqueue(
        store,
        [
          { id: "latest", command: "true", schedule: "*/10 * * * *" },
          { id: "every", command: "true", schedule: "*/10 * * * *", catchup: "all", overlap: "allow" },
        ],
        T0,
      );
      await tickSchedules(store, T0 + 60 * MINUTE);
      const all = await ids(store);
      expect(all.filter((id) => id.startsWith("latest@"))).toEqual(["latest@2026-06-01T13:00:00.000Z"]);
      expect(all.filter((id) => id.startsWith("every@"))).toHaveLength(6);
    });

    // Three owed occurrences: 12:10, 12:20 and 12:30, ticked once at 12:31.
    const owedThree = async (overlap: "skip" | "replace", earlier?: "running") => {
      const store = await backend.store();
      await enqueue(
        store,
        [{ id: "c", command: "true", schedule: "*/10 * * * *", catchup: "all", overlap }],
        T0,
      );
      let running: string | null = null;
      if (earlier === "running") {
        await tickSchedules(store, T0 + 10 * MINUTE);
        running =
          (await store.jobClaim({ workerId: "w", host: "h", now: T0 + 10 * MINUTE, leaseMs: 3_600_000 }))
            ?.id ?? null;
        expect(running).toBe("c@2026-06-01T12:10:00.000Z");
      }
      const result = await tickSchedules(store, T0 + 31 * MINUTE);
      const states = Object.fromEntries((await store.jobList({})).map((job) => [job.id, job.state]));
      return { store, result, states, running };
    };

    test("catch-up with overlap skip queues the oldest owed occurrence only", async () => {
      const { result, states } = await owedThree("skip");
      expect(result).toEqual({
        enqueued: ["c@2026-06-01T12:10:00.000Z"],
        skipped: ["c@2026-06-01T12:20:00.000Z", "c@2026-06-01T12:30:00.000Z"],
        replaced: [],
      });
      expect(states).toEqual({ "c@2026-06-01T12:10:00.000Z": "pending" });
    });

    test("catch-up with overlap skip queues nothing while an earlier occurrence runs", async () => {
      const { result, states, running } = await owedThree("skip", "running");
      expect(result.enqueued).toEqual([]);
      expect(result.skipped).toEqual(["c@2026-06-01T12:20:00.000Z", "c@2026-06-01T12:30:00.000Z"]);
      expect(states).toEqual({ [running ?? ""]: "processing" });
    });

    test("catch-up with overlap replace queues the newest owed occurrence only, canceling none of its own", async () => {
      const { result, states } = await owedThree("replace");
      expect(result).toEqual({
        enqueued: ["c@2026-06-01T12:30:00.000Z"],
        skipped: ["c@2026-06-01T12:10:00.000Z", "c@2026-06-01T12:20:00.000Z"],
        replaced: [],
      });
      expect(states).toEqual({ "c@2026-06-01T12:30:00.000Z": "pending" });
    });

    test("catch-up with overlap replace cancels the running earlier occurrence once and queues the newest", async () => {
      const { store, result, states, running } = await owedThree("replace", "running");
      expect(result).toEqual({
        enqueued: ["c@2026-06-01T12:30:00.000Z"],
        skipped: ["c@2026-06-01T12:20:00.000Z"],
        replaced: [running ?? ""],
      });
      expect(states).toEqual({ [running ?? ""]: "canceled", "c@2026-06-01T12:30:00.000Z": "pending" });
      expect((await store.jobGet({ id: running ?? "" }))?.last_error).toBe("replaced by a newer occurrence");
    });

    test("removing a schedule stops future occurrences; queued ones stay", async () => {
      const store = await backend.store();
      await enqueue(store, [{ id: "gone", command: "true", schedule: "* * * * *" }], T0);
      await tickSchedules(store, T0 + MINUTE);
      expect(await store.scheduleRemove({ id: "gone" })).toBe(true);
      await tickSchedules(store, T0 + 5 * MINUTE);
      expect(await ids(store)).toEqual(["gone@2026-06-01T12:01:00.000Z"]);
      expect(await runNext(store, "complete", T0 + 5 * MINUTE)).toBe("gone@2026-06-01T12:01:00.000Z");
    });
  });
});
