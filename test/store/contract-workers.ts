/** Contract: what workers on every host share through the store: registry, config, wake-ups. */

import { expect, test } from "bun:test";
import { waitFor } from "../helpers/cli.ts";
import { newJob, runResult, T0, type WithStore } from "./contract-helpers.ts";

export function workersContract(withStore: WithStore): void {
  test(
    "config values are stored, overwritten and seen by another connection",
    withStore(async ({ store, another }) => {
      expect(await store.configGetAll()).toEqual({});
      await store.configSet({ key: "max-retries", value: "5" });
      await store.configSet({ key: "lease", value: "2" });
      await store.configSet({ key: "max-retries", value: "7" });
      expect(await (await another()).configGetAll()).toEqual({ "max-retries": "7", lease: "2" });
    }),
  );

  test(
    "the worker registry lists by host, carries stop requests per host or for all, and forgets removed workers",
    withStore(async ({ store }) => {
      await store.workerRegister({ id: "b1", host: "host-b", pid: 11, now: T0 + 1, queues: null });
      await store.workerRegister({ id: "a2", host: "host-a", pid: 12, now: T0 + 2, queues: ["emails", "x"] });
      await store.workerRegister({ id: "a1", host: "host-a", pid: 13, now: T0, queues: null });
      expect((await store.workerList()).map((w) => w.id)).toEqual(["a1", "a2", "b1"]);
      // Heartbeats are on the store's clock: the worker's `now` on SQLite, the server's on PostgreSQL.
      const onStoreClock = store.backend === "sqlite";
      expect((await store.workerList())[1]).toEqual({
        id: "a2",
        host: "host-a",
        pid: 12,
        started_at: T0 + 2,
        heartbeat_at: onStoreClock ? T0 + 2 : expect.any(Number),
        stop_requested: false,
        queues: ["emails", "x"],
      });

      expect(await store.workerHeartbeat({ id: "a1", now: T0 + 50 })).toEqual({ stopRequested: false });
      if (onStoreClock) expect((await store.workerList())[0]?.heartbeat_at).toBe(T0 + 50);
      expect(await store.workerRequestStop({ host: "host-a" })).toBe(2);
      expect(await store.workerHeartbeat({ id: "a1", now: T0 + 60 })).toEqual({ stopRequested: true });
      expect(await store.workerHeartbeat({ id: "b1", now: T0 + 60 })).toEqual({ stopRequested: false });
      expect(await store.workerRequestStop({})).toBe(3);
      expect(await store.workerHeartbeat({ id: "b1", now: T0 + 70 })).toEqual({ stopRequested: true });
      expect(await store.workerHeartbeat({ id: "nobody", now: T0 + 70 })).toEqual({ stopRequested: false });

      // Registering again (a restarted worker reusing its id) starts with no stop request.
      await store.workerRegister({ id: "b1", host: "host-b", pid: 21, now: T0 + 80, queues: null });
      expect((await store.workerList()).find((w) => w.id === "b1")).toMatchObject({
        pid: 21,
        stop_requested: false,
      });
      await store.workerRemove({ id: "a1" });
      expect((await store.workerList()).map((w) => w.id)).toEqual(["a2", "b1"]);

      // A worker's own beat carries its registration: a row another host removed comes back
      // (no stop request, started now), and an existing row keeps its stop request.
      const registration = { host: "host-a", pid: 13, queues: ["emails"] };
      expect(await store.workerHeartbeat({ id: "a1", now: T0 + 90, registration })).toEqual({
        stopRequested: false,
      });
      expect((await store.workerList()).find((w) => w.id === "a1")).toMatchObject({
        host: "host-a",
        pid: 13,
        stop_requested: false,
        queues: ["emails"],
      });
      expect(await store.workerHeartbeat({ id: "b1", now: T0 + 95, registration })).toEqual({
        stopRequested: false,
      });
      await store.workerRequestStop({ host: "host-b" });
      expect(await store.workerHeartbeat({ id: "b1", now: T0 + 99, registration })).toEqual({
        stopRequested: true,
      });
      expect((await store.workerList()).find((w) => w.id === "b1")).toMatchObject({
        host: "host-b",
        pid: 21,
      });
    }),
  );

  // Alone, even where the contract runs concurrently: a wake-up has a deadline to meet.
  test.serial(
    "waitForChange returns at its timeout when nothing happens, and at once when aborted",
    withStore(async ({ store }) => {
      const controller = new AbortController();
      let aborted = false;
      const waiting = store.waitForChange({ timeoutMs: 60_000, signal: controller.signal }).then(() => {
        aborted = true;
      });
      controller.abort();
      await waitFor(() => aborted, { timeoutMs: 5000, what: "the aborted wait to return" });
      await waiting;
      let timedOut = false;
      await store.waitForChange({ timeoutMs: 30 }).then(() => {
        timedOut = true;
      });
      expect(timedOut).toBe(true);
    }),
  );

  // Alone, even where the contract runs concurrently: a wake-up has a deadline to meet.
  test.serial(
    "an idle waiter wakes when another connection enqueues, finishes or requests a stop",
    withStore(async ({ store, another }) => {
      const writer = await another();
      const wakesOn = async (what: string, write: () => Promise<unknown>) => {
        const before = await store.changeMarker();
        let woke = false;
        // Far longer than the deadline below: only a real wake-up can pass.
        const waiting = store.waitForChange({ timeoutMs: 30_000 }).then(() => {
          woke = true;
        });
        await write();
        await waitFor(() => woke, { timeoutMs: 5000, what: `a wake-up after ${what}` });
        await waiting;
        expect(await store.changeMarker()).not.toBe(before);
      };
      await wakesOn("an enqueue", () => writer.jobInsertMany({ jobs: [newJob("a")], now: T0 }));
      const job = await writer.jobClaim({ workerId: "w", host: "h", now: T0, leaseMs: 100 });
      await wakesOn("a completion", () =>
        writer.jobComplete({ id: "a", token: job?.token ?? 0, now: T0 + 1, result: runResult(0) }),
      );
      await store.workerRegister({ id: "idle", host: "h", pid: 1, now: T0, queues: null });
      await wakesOn("a stop request", () => writer.workerRequestStop({}));
      await wakesOn("a config change", () => writer.configSet({ key: "poll-interval", value: "5" }));
    }),
  );

  test.serial(
    "a commit between reading the marker and starting the wait is not slept through",
    withStore(async ({ store, another }) => {
      const writer = await another();
      // The worker reads the marker, finds nothing to claim, and only then waits.
      await store.changeMarker();
      const since = await store.changeMarker();
      await writer.jobInsertMany({ jobs: [newJob("late")], now: T0 });
      // On PostgreSQL the NOTIFY arrives asynchronously: wait until the marker has moved.
      await waitFor(async () => (await store.changeMarker()) !== since, {
        timeoutMs: 5000,
        what: "the marker",
      });
      let woke = false;
      const waiting = store.waitForChange({ timeoutMs: 30_000, since }).then(() => {
        woke = true;
      });
      await waitFor(() => woke, { timeoutMs: 5000, what: "the wait to see the earlier commit" });
      await waiting;
    }),
  );
}
