/**
 * DESIGN.md's reconciliation table, one describe block per row, on every backend (a real
 * SQLite file, a real PostgreSQL schema). Jobs are "run" through the store (claim, then
 * complete or fail) as a worker would.
 */

import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { renameSync } from "node:fs";
import { join } from "node:path";
import { UserError } from "../../src/core/errors.ts";
import type { JobState } from "../../src/core/job.ts";
import { specRevision } from "../../src/core/spec.ts";
import {
  type BackendTest,
  claimAll,
  completeAll,
  FAILURE,
  forEachBackend,
  jobOf,
  NOTHING_APPLIED,
  SUCCESS,
  sync,
} from "./helpers.ts";

// Real processes on a busy two-core machine: generous, not the 5 s default.
setDefaultTimeout(60_000);

/** The plan's decided changes as "id action". */
function actions(outcome: Awaited<ReturnType<typeof sync>>): string[] {
  return outcome.plan.changes.map((change) => `${change.id} ${change.action}`);
}

/** Puts job `a` (declared by a.yaml, command `echo one`) into `state`. */
async function jobInState(t: BackendTest, state: JobState): Promise<void> {
  t.fixture.write("a.yaml", "command: echo one\nmax_retries: 1\n");
  await sync(t.store, t.fixture.dir);
  if (state === "pending") return;
  if (state === "canceled") {
    await t.store.jobTransition({
      id: "a",
      from: ["pending"],
      to: "canceled",
      resetAttempts: false,
      now: Date.now(),
    });
    return;
  }
  const [job] = await claimAll(t.store);
  if (!job) throw new Error("nothing claimed");
  if (state === "completed")
    await t.store.jobComplete({ id: "a", token: job.token, now: Date.now(), result: SUCCESS });
  if (state === "failed" || state === "dead") {
    await t.store.jobFail({
      id: "a",
      token: job.token,
      now: Date.now(),
      state,
      nextRunAt: Date.now(),
      result: FAILURE,
    });
  }
}

forEachBackend("reconcile table", table);

function table(t: BackendTest): void {
  describe("new id", () => {
    test("is enqueued, with its source, revision and the id from its path", async () => {
      await t.setUp();
      t.fixture.write("nightly/backup.yaml", "command: echo backup\n");
      const outcome = await sync(t.store, t.fixture.dir);
      expect(outcome.applied?.create).toEqual(["nightly/backup"]);
      const job = await jobOf(t.store, "nightly/backup");
      expect(job.state).toBe("pending");
      expect(job.source).toBe(join(t.fixture.root, "nightly/backup.yaml"));
      expect(job.revision).toBe(specRevision({ id: "nightly/backup", command: "echo backup" }));
      expect(job.max_retries).toBe(3);
    });
  });

  describe("same id, same revision", () => {
    for (const state of ["pending", "processing", "completed", "failed", "dead", "canceled"] as const) {
      test(`changes nothing when the job is ${state}, even after a formatting-only edit`, async () => {
        await t.setUp();
        await jobInState(t, state);
        const before = await jobOf(t.store, "a");
        t.fixture.write("a.yaml", "# reformatted\nmax_retries: 1   # same value\ncommand: 'echo one'\n");
        const restarted = await t.fixture.store();
        const outcome = await sync(restarted, t.fixture.dir);
        expect(outcome.plan.unchanged.map((job) => job.spec.id)).toEqual(["a"]);
        expect(outcome.applied).toEqual(NOTHING_APPLIED);
        expect(await jobOf(restarted, "a")).toEqual(before);
      });
    }
  });

  describe("revision changed, job not started", () => {
    for (const state of ["pending", "failed"] as const) {
      test(`a ${state} job gets the new spec and its attempts reset`, async () => {
        await t.setUp();
        await jobInState(t, state);
        t.fixture.write("a.yaml", "command: echo two\nmax_retries: 1\n");
        const outcome = await sync(t.store, t.fixture.dir);
        expect(outcome.applied?.replace).toEqual(["a"]);
        const job = await jobOf(t.store, "a");
        expect([job.state, job.attempts, job.spec.command]).toEqual(["pending", 0, "echo two"]);
      });
    }
  });

  describe("revision changed, job processing", () => {
    test("finishes under the old spec, then the new revision is queued", async () => {
      await t.setUp();
      await jobInState(t, "processing");
      const running = await jobOf(t.store, "a");
      t.fixture.write("a.yaml", "command: echo two\nmax_retries: 1\n");
      const outcome = await sync(t.store, t.fixture.dir);
      expect(outcome.applied?.defer).toEqual(["a"]);
      expect(await jobOf(t.store, "a")).toMatchObject({ state: "processing", spec: { command: "echo one" } });
      expect((await sync(t.store, t.fixture.dir)).plan.unchanged.map((job) => job.spec.id)).toEqual(["a"]);

      await t.store.jobComplete({ id: "a", token: running.token, now: Date.now(), result: SUCCESS });
      expect(await jobOf(t.store, "a")).toMatchObject({
        state: "pending",
        attempts: 0,
        spec: { command: "echo two" },
      });
      expect(await completeAll(t.store)).toEqual(["a"]);
      expect((await t.store.attemptList({ jobId: "a" })).length).toBe(2);
    });

    test("a change reverted while it runs drops the queued revision", async () => {
      await t.setUp();
      await jobInState(t, "processing");
      const running = await jobOf(t.store, "a");
      t.fixture.write("a.yaml", "command: echo two\nmax_retries: 1\n");
      await sync(t.store, t.fixture.dir);
      t.fixture.write("a.yaml", "command: echo one\nmax_retries: 1\n");
      expect(actions(await sync(t.store, t.fixture.dir))).toEqual(["a dropDeferred"]);
      await t.store.jobComplete({ id: "a", token: running.token, now: Date.now(), result: SUCCESS });
      expect(await jobOf(t.store, "a")).toMatchObject({ state: "completed", spec: { command: "echo one" } });
    });
  });

  describe("revision changed, job finished", () => {
    for (const state of ["completed", "dead", "canceled"] as const) {
      test(`a ${state} job's new revision is queued`, async () => {
        await t.setUp();
        await jobInState(t, state);
        t.fixture.write("a.yaml", "command: echo two\nmax_retries: 1\n");
        expect((await sync(t.store, t.fixture.dir)).applied?.replace).toEqual(["a"]);
        expect(await jobOf(t.store, "a")).toMatchObject({
          state: "pending",
          attempts: 0,
          spec: { command: "echo two" },
        });
      });
    }

    test("unless this id already completed that exact revision", async () => {
      await t.setUp();
      await jobInState(t, "completed");
      t.fixture.write("a.yaml", "command: echo two\nmax_retries: 1\n");
      await sync(t.store, t.fixture.dir);
      await completeAll(t.store);
      t.fixture.write("a.yaml", "command: echo one\nmax_retries: 1\n");
      const outcome = await sync(t.store, t.fixture.dir);
      expect(outcome.applied?.showCompleted).toEqual(["a"]);
      expect(await jobOf(t.store, "a")).toMatchObject({ state: "completed", spec: { command: "echo one" } });
      expect(await claimAll(t.store)).toEqual([]);
      expect((await sync(t.store, t.fixture.dir)).plan.unchanged).toHaveLength(1);
    });
  });

  describe("file removed", () => {
    test("not-started jobs are canceled, running ones finish, history stays", async () => {
      await t.setUp();
      t.fixture.write("done.yaml", "command: echo done\n");
      await sync(t.store, t.fixture.dir);
      await completeAll(t.store);
      t.fixture.write("running.yaml", "command: echo running\n");
      await sync(t.store, t.fixture.dir);
      const [running] = await claimAll(t.store);
      t.fixture.write("waiting.yaml", "command: echo waiting\n");
      t.fixture.write("kept.yaml", "command: echo kept\n");
      await sync(t.store, t.fixture.dir);

      for (const file of ["done.yaml", "running.yaml", "waiting.yaml"]) t.fixture.remove(file);
      const outcome = await sync(t.store, t.fixture.dir);
      expect(actions(outcome).sort()).toEqual(["done forget", "running forget", "waiting cancel"]);
      expect(outcome.applied?.cancel).toEqual(["waiting"]);
      expect((await jobOf(t.store, "waiting")).state).toBe("canceled");
      expect((await jobOf(t.store, "kept")).state).toBe("pending");
      expect((await jobOf(t.store, "done")).state).toBe("completed");
      expect((await t.store.attemptList({ jobId: "done" })).length).toBe(1);
      expect((await jobOf(t.store, "running")).state).toBe("processing");
      await t.store.jobComplete({
        id: "running",
        token: running?.token ?? 0,
        now: Date.now(),
        result: SUCCESS,
      });
      expect((await jobOf(t.store, "running")).state).toBe("completed");
      expect(actions(await sync(t.store, t.fixture.dir))).toEqual([]);
    });

    test("a removed file that comes back queues its job again, unless it had completed", async () => {
      await t.setUp();
      t.fixture.write("a.yaml", "command: echo a\n");
      t.fixture.write("b.yaml", "command: echo b\n");
      await sync(t.store, t.fixture.dir);
      const [first] = await claimAll(t.store);
      await t.store.jobComplete({
        id: first?.id ?? "",
        token: first?.token ?? 0,
        now: Date.now(),
        result: SUCCESS,
      });
      const other = first?.id === "a" ? "b" : "a";
      await t.store.jobTransition({
        id: other,
        from: ["processing"],
        to: "pending",
        resetAttempts: true,
        now: Date.now(),
      });
      renameSync(t.fixture.dir, `${t.fixture.dir}.away`);
      renameSync(`${t.fixture.dir}.away`, t.fixture.dir);
      t.fixture.remove("a.yaml");
      t.fixture.remove("b.yaml");
      await sync(t.store, t.fixture.dir);
      t.fixture.write("a.yaml", "command: echo a\n");
      t.fixture.write("b.yaml", "command: echo b\n");
      const outcome = await sync(t.store, t.fixture.dir);
      expect(actions(outcome).sort()).toEqual([`${first?.id} redeclare`, `${other} replace`].sort());
      expect((await jobOf(t.store, first?.id ?? "")).state).toBe("completed");
      expect((await jobOf(t.store, other)).state).toBe("pending");
    });
  });

  describe("file invalid", () => {
    for (const [what, text] of [
      ["a schema error", "command: echo two\nmax_retry: 1\n"],
      ["a YAML syntax error", "command: [echo two\n"],
      ["an empty file", ""],
    ] as const) {
      test(`${what} is reported with file, line and field; the last good revision stays`, async () => {
        await t.setUp();
        await jobInState(t, "pending");
        const before = await jobOf(t.store, "a");
        t.fixture.write("a.yaml", text);
        const outcome = await sync(t.store, t.fixture.dir);
        expect(outcome.plan.errors).toHaveLength(1);
        expect(outcome.plan.errors[0]).toMatchObject({ file: "a.yaml" });
        expect(outcome.plan.errors[0]?.line).toBeGreaterThan(0);
        if (what === "a schema error")
          expect(outcome.plan.errors[0]).toMatchObject({ line: 2, column: 1, field: "max_retry" });
        expect(actions(outcome)).toEqual([]);
        expect(await jobOf(t.store, "a")).toEqual(before);
      });
    }
  });

  describe("folder missing or unreadable", () => {
    test("a missing folder is an error, never a mass cancel", async () => {
      await t.setUp();
      await jobInState(t, "pending");
      renameSync(t.fixture.dir, `${t.fixture.dir}-renamed`);
      const error = await sync(t.store, t.fixture.dir).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(UserError);
      expect((error as UserError).message).toContain("does not exist");
      expect((await jobOf(t.store, "a")).state).toBe("pending");
    });

    test.skipIf(process.getuid?.() === 0)("an unreadable subfolder keeps its jobs", async () => {
      await t.setUp();
      t.fixture.write("sub/a.yaml", "command: echo a\n");
      await sync(t.store, t.fixture.dir);
      const { chmodSync } = await import("node:fs");
      chmodSync(join(t.fixture.dir, "sub"), 0o000);
      try {
        const outcome = await sync(t.store, t.fixture.dir);
        expect(outcome.plan.errors[0]).toMatchObject({ file: "sub/" });
        expect(actions(outcome)).toEqual([]);
      } finally {
        chmodSync(join(t.fixture.dir, "sub"), 0o700);
      }
    });
  });

  describe("id already used by an ad hoc job", () => {
    test("is an error for that file; the ad hoc job is untouched", async () => {
      await t.setUp();
      const spec = { id: "taken", command: "echo by hand" };
      await t.store.jobInsertMany({
        jobs: [{ spec, revision: specRevision(spec), maxRetries: 3, nextRunAt: Date.now(), source: null }],
        now: Date.now(),
      });
      t.fixture.write(
        "x.yaml",
        "jobs:\n  - id: taken\n    command: echo from file\n  - id: other\n    command: echo o\n",
      );
      const outcome = await sync(t.store, t.fixture.dir);
      expect(outcome.plan.errors).toEqual([
        expect.objectContaining({ file: "x.yaml", line: 2, column: 5, field: "id" }) as never,
      ]);
      expect(await jobOf(t.store, "taken")).toMatchObject({
        source: null,
        spec: { command: "echo by hand" },
      });
      expect(await t.store.jobGet({ id: "other" })).toBeNull();
    });
  });

  describe("identity", () => {
    test("two files declaring one id: both in error, neither applied, the existing job untouched", async () => {
      await t.setUp();
      t.fixture.write("one.yaml", "id: shared\ncommand: echo one\n");
      await sync(t.store, t.fixture.dir);
      t.fixture.write("two.json", '{"id": "shared", "command": "echo two"}');
      const outcome = await sync(t.store, t.fixture.dir);
      expect(outcome.plan.errors.map((e) => e.file)).toEqual(["one.yaml", "two.json"]);
      expect(actions(outcome)).toEqual([]);
      expect(await jobOf(t.store, "shared")).toMatchObject({
        state: "pending",
        spec: { command: "echo one" },
      });
    });

    test("converting a completed job's file from YAML to JSON re-runs nothing", async () => {
      await t.setUp();
      t.fixture.write("a.yaml", "command: echo one\n");
      await sync(t.store, t.fixture.dir);
      await completeAll(t.store);
      t.fixture.remove("a.yaml");
      t.fixture.write("a.json", '{"command": "echo one"}');
      const outcome = await sync(t.store, t.fixture.dir);
      expect(actions(outcome)).toEqual(["a redeclare"]);
      expect(await jobOf(t.store, "a")).toMatchObject({
        state: "completed",
        source: join(t.fixture.root, "a.json"),
      });
    });

    test("a dry run plans without writing", async () => {
      await t.setUp();
      t.fixture.write("a.yaml", "command: echo one\n");
      const outcome = await sync(t.store, t.fixture.dir, { dryRun: true });
      expect(actions(outcome)).toEqual(["a create"]);
      expect(outcome.applied).toBeNull();
      expect(await t.store.jobGet({ id: "a" })).toBeNull();
    });
  });
}
