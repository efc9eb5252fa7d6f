import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { existsSync } from "node:fs";
import type { Store } from "../../src/store/store.ts";
import { runCli, tempHome } from "../helpers/cli.ts";
import { enqueue, forEachBackend, OK, runNext, stateOf } from "./helpers.ts";

// Real processes on a busy two-core machine: generous, not the 5 s default.
setDefaultTimeout(60_000);

const claim = (store: Store, queues?: string[]) =>
  store.jobClaim({ workerId: "w", host: "h", now: Date.now(), leaseMs: 60_000, queues });

forEachBackend((backend) => {
  describe("named queues", () => {
    test("a concurrency limit holds in the claim itself", async () => {
      const store = await backend.store();
      await enqueue(
        store,
        [1, 2, 3, 4].map((n) => ({ id: `mail-${n}`, command: "true", queue: "emails" })),
      );
      await enqueue(store, [{ id: "other", command: "true" }]);
      await store.queueSet({ name: "emails", concurrency: 2 });
      const first = await claim(store);
      const second = await claim(store);
      expect([first?.id, second?.id]).toEqual(["mail-1", "mail-2"]);
      // emails is full: the next claim skips to another queue, then finds nothing.
      expect((await claim(store))?.id).toBe("other");
      expect(await claim(store)).toBeNull();
      await store.jobComplete({
        id: "mail-1",
        token: first?.token ?? 0,
        now: Date.now(),
        result: OK,
      });
      expect((await claim(store))?.id).toBe("mail-3");
    });

    test("pause stops claims, resume starts them again", async () => {
      const store = await backend.store();
      await enqueue(store, [{ id: "p1", command: "true", queue: "batch" }]);
      await store.queueSet({ name: "batch", paused: true });
      expect(await claim(store)).toBeNull();
      await store.queueSet({ name: "batch", paused: false });
      expect((await claim(store))?.id).toBe("p1");
    });

    test("workers restricted to queues claim only from them", async () => {
      const store = await backend.store();
      await enqueue(store, [
        { id: "a1", command: "true", queue: "a" },
        { id: "b1", command: "true", queue: "b" },
      ]);
      expect((await claim(store, ["b"]))?.id).toBe("b1");
      expect(await claim(store, ["b"])).toBeNull();
    });

    test("queue list counts jobs per queue", async () => {
      const store = await backend.store();
      await enqueue(store, [
        { id: "a1", command: "true", queue: "a" },
        { id: "d1", command: "true" },
      ]);
      await store.queueSet({ name: "a", concurrency: 3 });
      const list = await store.queueList();
      expect(list.map((q) => [q.name, q.concurrency, q.counts.pending])).toEqual([
        ["a", 3, 1],
        ["default", null, 1],
      ]);
    });
  });

  describe("purge", () => {
    test("removes old finished jobs and never live ones", async () => {
      const store = await backend.store();
      await enqueue(store, [
        { id: "done", command: "true" },
        { id: "dead", command: "false" },
        { id: "waiting", command: "true" },
      ]);
      await runNext(store, "complete");
      await runNext(store, "dead");
      const running = await claim(store);
      expect(running?.id).toBe("waiting");
      const later = Date.now() + 60_000;
      expect(
        (
          await store.jobPurge({
            states: ["completed", "dead", "canceled"],
            finishedBefore: later,
            dryRun: true,
          })
        ).sort(),
      ).toEqual(["dead", "done"]);
      expect(await stateOf(store, "done")).toBe("completed");
      const purged = await store.jobPurge({
        states: ["completed", "dead", "canceled", "pending", "processing"],
        finishedBefore: later,
        dryRun: false,
      });
      expect(purged.sort()).toEqual(["dead", "done"]);
      expect(await stateOf(store, "done")).toBeUndefined();
      expect(await stateOf(store, "waiting")).toBe("processing");
      expect(await store.attemptList({ jobId: "done" })).toEqual([]);
    });

    test("keeps jobs finished more recently than the cut-off", async () => {
      const store = await backend.store();
      await enqueue(store, [{ id: "fresh", command: "true" }]);
      await runNext(store);
      expect(
        await store.jobPurge({ states: ["completed"], finishedBefore: Date.now() - 60_000, dryRun: false }),
      ).toEqual([]);
    });
  });
});

describe("purge and show from the CLI", () => {
  test("the CLI refuses live states and purges with --older-than", async () => {
    const home = tempHome();
    try {
      const live = await runCli(["purge", "--state", "processing"], { env: home.env });
      expect(live.exitCode).toBe(2);
      expect(live.stderr).toContain("live jobs are never purged");
      // States are named as `list` takes them: any case, and an unknown one is named as such.
      const cased = await runCli(["purge", "--state", "Completed", "--dry-run", "--json"], { env: home.env });
      expect(cased.exitCode).toBe(0);
      const unknown = await runCli(["purge", "--state", "complete"], { env: home.env });
      expect(unknown.exitCode).toBe(2);
      expect(unknown.stderr).toContain('unknown state "complete"');
      const emptyItem = await runCli(["purge", "--state", "completed,"], { env: home.env });
      expect(emptyItem.stderr).toContain("e.g. --state completed,dead");
      await runCli(["enqueue", '{"id":"x","command":"true"}'], { env: home.env });
      const result = await runCli(["purge", "--older-than", "1s", "--json"], { env: home.env });
      expect(result.exitCode).toBe(0);
      expect(JSON.parse(result.stdout)).toEqual({ dry_run: false, purged: [] });
    } finally {
      home.cleanup();
    }
  });

  // /dev/full opens like any file and fails every write with ENOSPC.
  test.skipIf(!existsSync("/dev/full"))(
    "an archive that is a device (here /dev/full) is named, exit 2, and nothing is purged",
    async () => {
      const home = tempHome();
      try {
        await runCli(["enqueue", '{"id":"p1","command":"true"}'], { env: home.env });
        expect((await runCli(["worker", "run", "--drain"], { env: home.env })).exitCode).toBe(0);
        const result = await runCli(["purge", "--older-than", "0s", "--archive", "/dev/full"], {
          env: home.env,
        });
        expect(result.exitCode).toBe(2);
        // Refused before anything is written: a device or a FIFO could block the purge.
        expect(result.stderr).toStartWith(
          "error: purge --archive /dev/full: cannot write it (not a regular file) — ",
        );
        expect(result.stderr.trimEnd().split("\n")).toHaveLength(1);
        const listed = await runCli(["list", "--json"], { env: home.env });
        expect(
          JSON.parse(listed.stdout).map((job: { id: string; state: string }) => [job.id, job.state]),
        ).toEqual([["p1", "completed"]]);
      } finally {
        home.cleanup();
      }
    },
  );

  test("unfinished dependencies and a paused queue are listed under 'Waiting for'", async () => {
    const home = tempHome();
    try {
      await runCli(
        [
          "enqueue",
          '{"jobs":[{"id":"p","command":"true"},{"id":"c","command":"true","after":["p"],"queue":"q"}]}',
        ],
        {
          env: home.env,
        },
      );
      await runCli(["queue", "pause", "q"], { env: home.env });
      const shown = await runCli(["show", "c"], { env: home.env });
      expect(shown.stdout).toContain("Waiting for:\n  job p (pending)\n  queue q is paused");
    } finally {
      home.cleanup();
    }
  });
});
