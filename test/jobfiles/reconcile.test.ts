/**
 * DESIGN.md's reconciliation table, one describe block per row, on every backend (a real
 * SQLite file, a real PostgreSQL schema). Jobs are "run" through the store (claim, then
 * complete or fail) as a worker would.
 */

import { afterEach, describe, expect, setDefaultTimeout, test } from "bun:test";
import { renameSync } from "node:fs";
import { join } from "node:path";
import { UserError } from "../../src/core/errors.ts";
import type { JobState } from "../../src/core/job.ts";
import { specRevision } from "../../src/core/spec.ts";
import type { Store } from "../../src/store/store.ts";
import {
  type Backend,
  claimAll,
  completeAll,
  FAILURE,
  forEachBackend,
  type JobsFixture,
  jobOf,
  jobsFixture,
  NOTHING_APPLIED,
  SUCCESS,
  sync,
} from "./helpers.ts";

// Real processes on a busy two-core machine: generous, not the 5 s default.
setDefaultTimeout(60_000);

let backend: Backend = "sqlite";
let fixture: JobsFixture;
let store: Store;

async function setUp() {
  fixture = jobsFixture(backend);
  store = await fixture.store();
}

afterEach(() => fixture?.cleanup());

/** The plan's decided changes as "id action". */
function actions(outcome: Awaited<ReturnType<typeof sync>>): string[] {
  return outcome.plan.changes.map((change) => `${change.id} ${change.action}`);
}

/** Puts job `a` (declared by a.yaml, command `echo one`) into `state`. */
async function jobInState(state: JobState): Promise<void> {
  fixture.write("a.yaml", "command: echo one\nmax_retries: 1\n");
  await sync(store, fixture.dir);
  if (state === "pending") return;
  if (state === "canceled") {
    await store.jobTransition({
      id: "a",
      from: ["pending"],
      to: "canceled",
      resetAttempts: false,
      now: Date.now(),
    });
    return;
  }
  const [job] = await claimAll(store);
  if (!job) throw new Error("nothing claimed");
  if (state === "completed")
    await store.jobComplete({ id: "a", token: job.token, now: Date.now(), result: SUCCESS });
  if (state === "failed" || state === "dead") {
    await store.jobFail({
      id: "a",
      token: job.token,
      now: Date.now(),
      state,
      nextRunAt: Date.now(),
      result: FAILURE,
    });
  }
}

forEachBackend(
  "reconcile table",
  (name) => {
    backend = name;
  },
  table,
);

function table(): void {
  describe("new id", () => {
    test("is enqueued, with its source, revision and the id from its path", async () => {
      await setUp();
      fixture.write("nightly/backup.yaml", "command: echo backup\n");
      const outcome = await sync(store, fixture.dir);
      expect(outcome.applied?.create).toEqual(["nightly/backup"]);
      const job = await jobOf(store, "nightly/backup");
      expect(job.state).toBe("pending");
      expect(job.source).toBe(join(fixture.root, "nightly/backup.yaml"));
      expect(job.revision).toBe(specRevision({ id: "nightly/backup", command: "echo backup" }));
      expect(job.max_retries).toBe(3);
    });
  });

  describe("same id, same revision", () => {
    for (const state of ["pending", "processing", "completed", "failed", "dead", "canceled"] as const) {
      test(`changes nothing when the job is ${state}, even after a formatting-only edit`, async () => {
        await setUp();
        await jobInState(state);
        const before = await jobOf(store, "a");
        fixture.write("a.yaml", "# reformatted\nmax_retries: 1   # same value\ncommand: 'echo one'\n");
        const restarted = await fixture.store();
        const outcome = await sync(restarted, fixture.dir);
        expect(outcome.plan.unchanged.map((job) => job.spec.id)).toEqual(["a"]);
        expect(outcome.applied).toEqual(NOTHING_APPLIED);
        expect(await jobOf(restarted, "a")).toEqual(before);
      });
    }
  });

  describe("revision changed, job not started", () => {
    for (const state of ["pending", "failed"] as const) {
      test(`a ${state} job gets the new spec and its attempts reset`, async () => {
        await setUp();
        await jobInState(state);
        fixture.write("a.yaml", "command: echo two\nmax_retries: 1\n");
        const outcome = await sync(store, fixture.dir);
        expect(outcome.applied?.replace).toEqual(["a"]);
        const job = await jobOf(store, "a");
        expect([job.state, job.attempts, job.spec.command]).toEqual(["pending", 0, "echo two"]);
      });
    }
  });

  describe("revision changed, job processing", () => {
    test("finishes under the old spec, then the new revision is queued", async () => {
      await setUp();
      await jobInState("processing");
      const running = await jobOf(store, "a");
      fixture.write("a.yaml", "command: echo two\nmax_retries: 1\n");
      const outcome = await sync(store, fixture.dir);
      expect(outcome.applied?.defer).toEqual(["a"]);
      expect(await jobOf(store, "a")).toMatchObject({ state: "processing", spec: { command: "echo one" } });
      expect((await sync(store, fixture.dir)).plan.unchanged.map((job) => job.spec.id)).toEqual(["a"]);

      await store.jobComplete({ id: "a", token: running.token, now: Date.now(), result: SUCCESS });
      expect(await jobOf(store, "a")).toMatchObject({
        state: "pending",
        attempts: 0,
        spec: { command: "echo two" },
      });
      expect(await completeAll(store)).toEqual(["a"]);
      expect((await store.attemptList({ jobId: "a" })).length).toBe(2);
    });

    test("a change reverted while it runs drops the queued revision", async () => {
      await setUp();
      await jobInState("processing");
      const running = await jobOf(store, "a");
      fixture.write("a.yaml", "command: echo two\nmax_retries: 1\n");
      await sync(store, fixture.dir);
      fixture.write("a.yaml", "command: echo one\nmax_retries: 1\n");
      expect(actions(await sync(store, fixture.dir))).toEqual(["a dropDeferred"]);
      await store.jobComplete({ id: "a", token: running.token, now: Date.now(), result: SUCCESS });
      expect(await jobOf(store, "a")).toMatchObject({ state: "completed", spec: { command: "echo one" } });
    });
  });

  describe("revision changed, job finished", () => {
    for (const state of ["completed", "dead", "canceled"] as const) {
      test(`a ${state} job's new revision is queued`, async () => {
        await setUp();
        await jobInState(state);
        fixture.write("a.yaml", "command: echo two\nmax_retries: 1\n");
        expect((await sync(store, fixture.dir)).applied?.replace).toEqual(["a"]);
        expect(await jobOf(store, "a")).toMatchObject({
          state: "pending",
          attempts: 0,
          spec: { command: "echo two" },
        });
      });
    }

    test("unless this id already completed that exact revision", async () => {
      await setUp();
      await jobInState("completed");
      fixture.write("a.yaml", "command: echo two\nmax_retries: 1\n");
      await sync(store, fixture.dir);
      await completeAll(store);
      fixture.write("a.yaml", "command: echo one\nmax_retries: 1\n");
      const outcome = await sync(store, fixture.dir);
      expect(outcome.applied?.showCompleted).toEqual(["a"]);
      expect(await jobOf(store, "a")).toMatchObject({ state: "completed", spec: { command: "echo one" } });
      expect(await claimAll(store)).toEqual([]);
      expect((await sync(store, fixture.dir)).plan.unchanged).toHaveLength(1);
    });
  });

  describe("file removed", () => {
    test("not-started jobs are canceled, running ones finish, history stays", async () => {
      await setUp();
      fixture.write("done.yaml", "command: echo done\n");
      await sync(store, fixture.dir);
      await completeAll(store);
      fixture.write("running.yaml", "command: echo running\n");
      await sync(store, fixture.dir);
      const [running] = await claimAll(store);
      fixture.write("waiting.yaml", "command: echo waiting\n");
      fixture.write("kept.yaml", "command: echo kept\n");
      await sync(store, fixture.dir);

      for (const file of ["done.yaml", "running.yaml", "waiting.yaml"]) fixture.remove(file);
      const outcome = await sync(store, fixture.dir);
      expect(actions(outcome).sort()).toEqual(["done forget", "running forget", "waiting cancel"]);
      expect(outcome.applied?.cancel).toEqual(["waiting"]);
      expect((await jobOf(store, "waiting")).state).toBe("canceled");
      expect((await jobOf(store, "kept")).state).toBe("pending");
      expect((await jobOf(store, "done")).state).toBe("completed");
      expect((await store.attemptList({ jobId: "done" })).length).toBe(1);
      expect((await jobOf(store, "running")).state).toBe("processing");
      await store.jobComplete({
        id: "running",
        token: running?.token ?? 0,
        now: Date.now(),
        result: SUCCESS,
      });
      expect((await jobOf(store, "running")).state).toBe("completed");
      expect(actions(await sync(store, fixture.dir))).toEqual([]);
    });

    test("a removed file that comes back queues its job again, unless it had completed", async () => {
      await setUp();
      fixture.write("a.yaml", "command: echo a\n");
      fixture.write("b.yaml", "command: echo b\n");
      await sync(store, fixture.dir);
      const [first] = await claimAll(store);
      await store.jobComplete({
        id: first?.id ?? "",
        token: first?.token ?? 0,
        now: Date.now(),
        result: SUCCESS,
      });
      const other = first?.id === "a" ? "b" : "a";
      await store.jobTransition({
        id: other,
        from: ["processing"],
        to: "pending",
        resetAttempts: true,
        now: Date.now(),
      });
      renameSync(fixture.dir, `${fixture.dir}.away`);
      renameSync(`${fixture.dir}.away`, fixture.dir);
      fixture.remove("a.yaml");
      fixture.remove("b.yaml");
      await sync(store, fixture.dir);
      fixture.write("a.yaml", "command: echo a\n");
      fixture.write("b.yaml", "command: echo b\n");
      const outcome = await sync(store, fixture.dir);
      expect(actions(outcome).sort()).toEqual([`${first?.id} redeclare`, `${other} replace`].sort());
      expect((await jobOf(store, first?.id ?? "")).state).toBe("completed");
      expect((await jobOf(store, other)).state).toBe("pending");
    });
  });

  describe("file invalid", () => {
    for (const [what, text] of [
      ["a schema error", "command: echo two\nmax_retry: 1\n"],
      ["a YAML syntax error", "command: [echo two\n"],
      ["an empty file", ""],
    ] as const) {
      test(`${what} is reported with file, line and field; the last good revision stays`, async () => {
        await setUp();
        await jobInState("pending");
        const before = await jobOf(store, "a");
        fixture.write("a.yaml", text);
        const outcome = await sync(store, fixture.dir);
        expect(outcome.plan.errors).toHaveLength(1);
        expect(outcome.plan.errors[0]).toMatchObject({ file: "a.yaml" });
        expect(outcome.plan.errors[0]?.line).toBeGreaterThan(0);
        if (what === "a schema error")
          expect(outcome.plan.errors[0]).toMatchObject({ line: 2, column: 1, field: "max_retry" });
        expect(actions(outcome)).toEqual([]);
        expect(await jobOf(store, "a")).toEqual(before);
      });
    }
  });

  describe("folder missing or unreadable", () => {
    test("a missing folder is an error, never a mass cancel", async () => {
      await setUp();
      await jobInState("pending");
      renameSync(fixture.dir, `${fixture.dir}-renamed`);
      const error = await sync(store, fixture.dir).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(UserError);
      expect((error as UserError).message).toContain("does not exist");
      expect((await jobOf(store, "a")).state).toBe("pending");
    });

    test.skipIf(process.getuid?.() === 0)("an unreadable subfolder keeps its jobs", async () => {
      await setUp();
      fixture.write("sub/a.yaml", "command: echo a\n");
      await sync(store, fixture.dir);
      const { chmodSync } = await import("node:fs");
      chmodSync(join(fixture.dir, "sub"), 0o000);
      try {
        const outcome = await sync(store, fixture.dir);
        expect(outcome.plan.errors[0]).toMatchObject({ file: "sub/" });
        expect(actions(outcome)).toEqual([]);
      } finally {
        chmodSync(join(fixture.dir, "sub"), 0o700);
      }
    });
  });

  describe("id already used by an ad hoc job", () => {
    test("is an error for that file; the ad hoc job is untouched", async () => {
      await setUp();
      const spec = { id: "taken", command: "echo by hand" };
      await store.jobInsertMany({
        jobs: [{ spec, revision: specRevision(spec), maxRetries: 3, nextRunAt: Date.now(), source: null }],
        now: Date.now(),
      });
      fixture.write(
        "x.yaml",
        "jobs:\n  - id: taken\n    command: echo from file\n  - id: other\n    command: echo o\n",
      );
      const outcome = await sync(store, fixture.dir);
      expect(outcome.plan.errors).toEqual([
        expect.objectContaining({ file: "x.yaml", line: 2, column: 5, field: "id" }) as never,
      ]);
      expect(await jobOf(store, "taken")).toMatchObject({ source: null, spec: { command: "echo by hand" } });
      expect(await store.jobGet({ id: "other" })).toBeNull();
    });
  });

  describe("identity", () => {
    test("two files declaring one id: both in error, neither applied, the existing job untouched", async () => {
      await setUp();
      fixture.write("one.yaml", "id: shared\ncommand: echo one\n");
      await sync(store, fixture.dir);
      fixture.write("two.json", '{"id": "shared", "command": "echo two"}');
      const outcome = await sync(store, fixture.dir);
      expect(outcome.plan.errors.map((e) => e.file)).toEqual(["one.yaml", "two.json"]);
      expect(actions(outcome)).toEqual([]);
      expect(await jobOf(store, "shared")).toMatchObject({ state: "pending", spec: { command: "echo one" } });
    });

    test("converting a completed job's file from YAML to JSON re-runs nothing", async () => {
      await setUp();
      fixture.write("a.yaml", "command: echo one\n");
      await sync(store, fixture.dir);
      await completeAll(store);
      fixture.remove("a.yaml");
      fixture.write("a.json", '{"command": "echo one"}');
      const outcome = await sync(store, fixture.dir);
      expect(actions(outcome)).toEqual(["a redeclare"]);
      expect(await jobOf(store, "a")).toMatchObject({
        state: "completed",
        source: join(fixture.root, "a.json"),
      });
    });

    test("a dry run plans without writing", async () => {
      await setUp();
      fixture.write("a.yaml", "command: echo one\n");
      const outcome = await sync(store, fixture.dir, { dryRun: true });
      expect(actions(outcome)).toEqual(["a create"]);
      expect(outcome.applied).toBeNull();
      expect(await store.jobGet({ id: "a" })).toBeNull();
    });
  });
}
