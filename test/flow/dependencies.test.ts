import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { UserError } from "../../src/core/errors.ts";
import { enqueue, forEachBackend, runNext, stateOf } from "./helpers.ts";

// Real processes on a busy two-core machine: generous, not the 5 s default.
setDefaultTimeout(60_000);

forEachBackend((backend) => {
  describe("dependencies (after)", () => {
    test("a chain runs in order, whatever order it was enqueued in", async () => {
      const store = await backend.store();
      await enqueue(store, [
        { id: "deploy", command: "true", after: ["test"] },
        { id: "test", command: "true", after: ["build"] },
        { id: "build", command: "true" },
      ]);
      const order: (string | null)[] = [];
      for (let i = 0; i < 4; i++) order.push(await runNext(store));
      expect(order).toEqual(["build", "test", "deploy", null]);
    });

    test("fan-in waits for every dependency", async () => {
      const store = await backend.store();
      await enqueue(store, [
        { id: "a", command: "true" },
        { id: "b", command: "true" },
        { id: "merge", command: "true", after: ["a", "b"], priority: 100 },
      ]);
      expect(await runNext(store)).toBe("a");
      // merge has the highest priority but b is still unfinished.
      expect(await runNext(store)).toBe("b");
      expect(await runNext(store)).toBe("merge");
    });

    test("a dead dependency cancels its dependents, transitively, with the reason", async () => {
      const store = await backend.store();
      await enqueue(store, [
        { id: "build", command: "false" },
        { id: "test", command: "true", after: ["build"] },
        { id: "deploy", command: "true", after: ["test"] },
      ]);
      expect(await runNext(store, "dead")).toBe("build");
      expect(await stateOf(store, "test")).toBe("canceled");
      expect(await stateOf(store, "deploy")).toBe("canceled");
      expect((await store.jobGet({ id: "deploy" }))?.last_error).toContain("build");
      expect(await runNext(store)).toBeNull();
    });

    test("a DLQ retry of the dependency re-arms its dependents", async () => {
      const store = await backend.store();
      await enqueue(store, [
        { id: "build", command: "false" },
        { id: "test", command: "true", after: ["build"] },
        { id: "deploy", command: "true", after: ["test"] },
      ]);
      await runNext(store, "dead");
      await store.jobTransition({
        id: "build",
        from: ["dead"],
        to: "pending",
        resetAttempts: true,
        now: Date.now(),
      });
      expect(await stateOf(store, "test")).toBe("pending");
      expect(await stateOf(store, "deploy")).toBe("pending");
      // Re-armed jobs still wait: only build is claimable.
      expect(await runNext(store)).toBe("build");
      expect(await runNext(store)).toBe("test");
      expect(await runNext(store)).toBe("deploy");
    });

    test("canceling a dependency cancels its dependents", async () => {
      const store = await backend.store();
      await enqueue(store, [
        { id: "a", command: "true" },
        { id: "b", command: "true", after: ["a"] },
      ]);
      await store.jobTransition({
        id: "a",
        from: ["pending"],
        to: "canceled",
        resetAttempts: false,
        now: Date.now(),
      });
      expect(await stateOf(store, "b")).toBe("canceled");
    });

    test("a dependency that already completed does not block", async () => {
      const store = await backend.store();
      await enqueue(store, [{ id: "a", command: "true" }]);
      await runNext(store);
      await enqueue(store, [{ id: "b", command: "true", after: ["a"] }]);
      expect(await runNext(store)).toBe("b");
    });

    test("cycles are refused, naming the cycle, and nothing is enqueued", async () => {
      const store = await backend.store();
      const attempt = enqueue(store, [
        { id: "a", command: "true", after: ["c"] },
        { id: "b", command: "true", after: ["a"] },
        { id: "c", command: "true", after: ["b"] },
      ]);
      await expect(attempt).rejects.toThrow(/cycle: (a → c → b → a|b → a → c → b|c → b → a → c)/);
      expect((await store.jobCounts()).total).toBe(0);
    });

    test("unknown ids are refused, and the whole batch is rolled back", async () => {
      const store = await backend.store();
      const attempt = enqueue(store, [
        { id: "ok", command: "true" },
        { id: "b", command: "true", after: ["missing"] },
      ]);
      await expect(attempt).rejects.toBeInstanceOf(UserError);
      await expect(attempt).rejects.toThrow(/missing/);
      expect((await store.jobCounts()).total).toBe(0);
    });
  });

  describe("a dependency that already ended", () => {
    test("a job enqueued after its dependency died is canceled at once, and a retry re-arms it", async () => {
      const store = await backend.store();
      await enqueue(store, [{ id: "base", command: "false" }]);
      await runNext(store, "dead");
      await enqueue(store, [{ id: "late", command: "true", after: ["base"] }]);
      const late = await store.jobGet({ id: "late" });
      expect(late?.state).toBe("canceled");
      expect(late?.last_error).toContain("base");
      await store.jobTransition({
        id: "base",
        from: ["dead"],
        to: "pending",
        resetAttempts: true,
        now: Date.now(),
      });
      expect(await stateOf(store, "late")).toBe("pending");
      expect(await runNext(store)).toBe("base");
      expect(await runNext(store)).toBe("late");
    });
  });
});
