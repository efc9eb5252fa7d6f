/**
 * Jobfile `after` lists against jobs already in the queue, on every backend: an edit that
 * would close a cycle through a job queued by hand, by another folder, or one this sync
 * would re-arm is refused at its `after` line; a job queued after a dependency that had
 * already ended is reported canceled at once.
 */

import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { syncJson } from "../../src/render/sync.ts";
import {
  type BackendTest,
  claimAll,
  claimIds,
  completeAll,
  completeClaimed,
  FAILURE,
  forEachBackend,
  jobOf,
  queueByHand,
  SUCCESS,
  sync,
} from "./helpers.ts";

setDefaultTimeout(60_000);

forEachBackend("after against the queue", suite);

function suite(t: BackendTest): void {
  describe("dependencies on stored jobs", () => {
    test("a cycle through a job queued by hand is an error, and the queue stays as it was", async () => {
      await t.setUp();
      t.fixture.write("a.yaml", "command: echo a\n");
      await sync(t.store, t.fixture.dir);
      const spec = { id: "by-hand", command: "echo by hand", after: ["a"] };
      await queueByHand(t.store, spec);
      t.fixture.write("a.yaml", "command: echo a2\nafter: [by-hand]\n");
      const outcome = await sync(t.store, t.fixture.dir);
      expect(outcome.plan.errors.map((e) => [e.file, e.line, e.field])).toEqual([["a.yaml", 2, "after"]]);
      expect(outcome.plan.errors[0]?.message).toMatch(/cycle: (a → by-hand → a|by-hand → a → by-hand)/);
      expect(outcome.plan.errors[0]?.message).toContain('"by-hand" not from this folder');
      expect((await jobOf(t.store, "a")).spec.command).toBe("echo a");
      // The job that waits can still run once its dependency has.
      expect(await claimIds(t.store)).toEqual(["a"]);
      await completeClaimed(t.store, "a");
      expect(await claimIds(t.store)).toEqual(["by-hand"]);
    });

    test("a cycle through another folder's job is an error in the folder that would close it", async () => {
      await t.setUp();
      const other = join(t.fixture.home, "other");
      mkdirSync(other, { mode: 0o700 });
      t.fixture.write("a.yaml", "command: echo a\n");
      await sync(t.store, t.fixture.dir);
      writeFileSync(join(other, "b.yaml"), "command: echo b\nafter: [a]\n", { mode: 0o600 });
      expect((await sync(t.store, other)).applied?.create).toEqual(["b"]);
      t.fixture.write("a.yaml", "command: echo a\nafter: [b]\n");
      const outcome = await sync(t.store, t.fixture.dir);
      expect(outcome.plan.errors.map((e) => [e.file, e.field])).toEqual([["a.yaml", "after"]]);
      expect(outcome.plan.errors[0]?.message).toContain("cycle");
      expect(await claimIds(t.store)).toEqual(["a"]);
    });

    test("a cycle through a job this sync would re-arm is an error too", async () => {
      await t.setUp();
      t.fixture.write("a.yaml", "command: exit 1\nmax_retries: 0\n");
      await sync(t.store, t.fixture.dir);
      const spec = { id: "by-hand", command: "echo by hand", after: ["a"] };
      await queueByHand(t.store, spec);
      const [claimed] = await claimAll(t.store);
      const now = Date.now();
      await t.store.jobFail({
        id: "a",
        token: claimed?.token ?? 0,
        now,
        state: "dead",
        nextRunAt: now,
        result: FAILURE,
      });
      expect((await jobOf(t.store, "by-hand")).state).toBe("canceled");
      t.fixture.write("a.yaml", "command: echo fixed\nafter: [by-hand]\n");
      const outcome = await sync(t.store, t.fixture.dir);
      expect(outcome.plan.errors.map((e) => [e.file, e.field])).toEqual([["a.yaml", "after"]]);
      expect(outcome.plan.errors[0]?.message).toContain("cycle");
      expect((await jobOf(t.store, "a")).state).toBe("dead");
    });

    test("waiting on a job that already waited for this one and has run since is no cycle", async () => {
      await t.setUp();
      t.fixture.write("a.yaml", "command: echo a\n");
      await sync(t.store, t.fixture.dir);
      const spec = { id: "by-hand", command: "echo by hand", after: ["a"] };
      await queueByHand(t.store, spec);
      await completeAll(t.store);
      await completeAll(t.store);
      expect((await jobOf(t.store, "by-hand")).state).toBe("completed");
      t.fixture.write("a.yaml", "command: echo a2\nafter: [by-hand]\n");
      const outcome = await sync(t.store, t.fixture.dir);
      expect(outcome.plan.errors).toEqual([]);
      expect(outcome.applied?.replace).toEqual(["a"]);
    });

    test("a job queued after a dependency that ended dead is reported canceled at once, not queued", async () => {
      await t.setUp();
      t.fixture.write("a.yaml", "command: exit 1\nmax_retries: 0\n");
      await sync(t.store, t.fixture.dir);
      const [claimed] = await claimAll(t.store);
      await t.store.jobFail({
        id: "a",
        token: claimed?.token ?? 0,
        now: Date.now(),
        state: "dead",
        nextRunAt: Date.now(),
        result: FAILURE,
      });
      t.fixture.write("b.yaml", "command: echo b\nafter: [a]\n");
      t.fixture.write("c.yaml", "command: echo c\n");
      const outcome = await sync(t.store, t.fixture.dir);
      expect(outcome.applied?.create).toEqual(["b", "c"]);
      expect(outcome.canceledAtOnce.map((job) => [job.id, job.decision.root, job.rootState])).toEqual([
        ["b", "a", "dead"],
      ]);
      expect(syncJson(outcome).applied?.canceled_at_once).toEqual(["b"]);
      expect((await jobOf(t.store, "b")).state).toBe("canceled");
      expect((await sync(t.store, t.fixture.dir)).canceledAtOnce).toEqual([]);
    });

    test("a revision queued behind a running attempt waits for its new `after` once that run ends", async () => {
      await t.setUp();
      t.fixture.write("a.yaml", "command: echo a\n");
      t.fixture.write("b.yaml", "command: echo b\npriority: 10\n");
      await sync(t.store, t.fixture.dir);
      // b first (higher priority), as a worker would take it; a stays pending.
      const running = await t.store.jobClaim({ workerId: "w", host: "h", now: Date.now(), leaseMs: 600_000 });
      expect(running?.id).toBe("b");
      t.fixture.write("b.yaml", "command: echo b2\npriority: 10\nafter: [a]\n");
      expect((await sync(t.store, t.fixture.dir)).applied?.defer).toEqual(["b"]);
      await t.store.jobComplete({ id: "b", token: running?.token ?? 0, now: Date.now(), result: SUCCESS });
      // b's new revision is pending, but waits for a: only a can be claimed now.
      expect((await jobOf(t.store, "b")).spec.command).toBe("echo b2");
      expect(await claimIds(t.store)).toEqual(["a"]);
      await completeClaimed(t.store, "a");
      expect(await claimIds(t.store)).toEqual(["b"]);
    });
  });
}
