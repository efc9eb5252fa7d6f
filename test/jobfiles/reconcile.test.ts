/**
 * DESIGN.md's reconciliation table, one describe block per row, against a real SQLite
 * file. Jobs are "run" through the store (claim, then complete or fail) as a worker would.
 */

import { afterEach, describe, expect, setDefaultTimeout, test } from "bun:test";
import { renameSync } from "node:fs";
import { join } from "node:path";
import { UserError } from "../../src/core/errors.ts";
import type { JobState } from "../../src/core/job.ts";
import { specRevision } from "../../src/core/spec.ts";
import type { Store } from "../../src/store/store.ts";
import {
  claimAll,
  completeAll,
  FAILURE,
  type JobsFixture,
  jobOf,
  jobsFixture,
  SUCCESS,
  sync,
} from "./helpers.ts";

// Real processes on a busy two-core machine: generous, not the 5 s default.
setDefaultTimeout(60_000);

let fixture: JobsFixture;
let store: Store;

async function setUp() {
  fixture = jobsFixture();
  store = await fixture.store();
}

afterEach(() => fixture?.cleanup());

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

describe("new id", () => {
  test("is enqueued, with its source, revision and the id from its path", async () => {
    await setUp();
    fixture.write("nightly/backup.yaml", "command: echo backup\n");
    const outcome = await sync(store, fixture.dir);
    expect(outcome.applied?.created).toEqual(["nightly/backup"]);
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
      expect(outcome.applied).toEqual({
        created: [],
        updated: [],
        deferred: [],
        alreadyCompleted: [],
        canceled: [],
      });
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
      expect(outcome.applied?.updated).toEqual(["a"]);
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
    expect(outcome.applied?.deferred).toEqual(["a"]);
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
    expect((await sync(store, fixture.dir)).plan.updates.map((u) => u.reason)).toEqual(["reverted"]);
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
      expect((await sync(store, fixture.dir)).applied?.updated).toEqual(["a"]);
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
    expect(outcome.applied?.alreadyCompleted).toEqual(["a"]);
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
    expect(outcome.plan.cancels.map((c) => c.actual.id).sort()).toEqual(["done", "running", "waiting"]);
    expect(outcome.applied?.canceled).toEqual(["waiting"]);
    expect((await jobOf(store, "waiting")).state).toBe("canceled");
    expect((await jobOf(store, "kept")).state).toBe("pending");
    expect((await jobOf(store, "done")).state).toBe("completed");
    expect((await store.attemptList({ jobId: "done" })).length).toBe(1);
    expect((await jobOf(store, "running")).state).toBe("processing");
    await store.jobComplete({ id: "running", token: running?.token ?? 0, now: Date.now(), result: SUCCESS });
    expect((await jobOf(store, "running")).state).toBe("completed");
    expect((await sync(store, fixture.dir)).plan.cancels).toEqual([]);
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
    expect(outcome.plan.updates.map((u) => u.reason)).toEqual(["restored", "restored"]);
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
      expect(outcome.plan.cancels).toEqual([]);
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
      expect(outcome.plan.cancels).toEqual([]);
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
    expect(outcome.plan.cancels).toEqual([]);
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
    expect(outcome.plan.updates.map((u) => u.reason)).toEqual(["moved"]);
    expect(await jobOf(store, "a")).toMatchObject({
      state: "completed",
      source: join(fixture.root, "a.json"),
    });
  });

  test("a dry run plans without writing", async () => {
    await setUp();
    fixture.write("a.yaml", "command: echo one\n");
    const outcome = await sync(store, fixture.dir, { dryRun: true });
    expect(outcome.plan.creates).toHaveLength(1);
    expect(outcome.applied).toBeNull();
    expect(await store.jobGet({ id: "a" })).toBeNull();
  });
});

describe("dependencies (after)", () => {
  const claimIds = async () => (await claimAll(store)).map((job) => job.id);
  const completeClaimed = async () => {
    for (const job of await claimAll(store)) {
      await store.jobComplete({ id: job.id, token: job.token, now: Date.now(), result: SUCCESS });
    }
  };

  test("a pipeline in one file runs in order, whatever order it is written in", async () => {
    await setUp();
    fixture.write(
      "pipeline.yaml",
      "jobs:\n  - id: deploy\n    command: echo deploy\n    after: [test]\n  - id: test\n    command: echo test\n    after: [build]\n  - id: build\n    command: echo build\n",
    );
    expect((await sync(store, fixture.dir)).applied?.created).toEqual(["deploy", "test", "build"]);
    expect(await claimIds()).toEqual(["build"]);
    await store.jobComplete({
      id: "build",
      token: (await jobOf(store, "build")).token,
      now: Date.now(),
      result: SUCCESS,
    });
    expect(await claimIds()).toEqual(["test"]);
    await store.jobComplete({
      id: "test",
      token: (await jobOf(store, "test")).token,
      now: Date.now(),
      result: SUCCESS,
    });
    await completeClaimed();
    expect((await jobOf(store, "deploy")).state).toBe("completed");
  });

  test("an id no jobfile declares and the queue does not hold is an error at `after`", async () => {
    await setUp();
    fixture.write("a.yaml", "command: echo a\nafter: [nowhere]\n");
    fixture.write("b.yaml", "command: echo b\n");
    const outcome = await sync(store, fixture.dir);
    expect(outcome.plan.errors).toEqual([
      expect.objectContaining({ file: "a.yaml", line: 2, column: 1, field: "after" }) as never,
    ]);
    expect(outcome.plan.errors[0]?.message).toContain('"nowhere"');
    expect(outcome.applied?.created).toEqual(["b"]);
  });

  test("a job of the queue, even an ad hoc one, may be waited for", async () => {
    await setUp();
    const spec = { id: "by-hand", command: "echo by hand" };
    await store.jobInsertMany({
      jobs: [{ spec, revision: specRevision(spec), maxRetries: 3, nextRunAt: Date.now(), source: null }],
      now: Date.now(),
    });
    fixture.write("after.yaml", "command: echo after\nafter: [by-hand]\n");
    expect((await sync(store, fixture.dir)).applied?.created).toEqual(["after"]);
    expect(await claimIds()).toEqual(["by-hand"]);
  });

  test("a cycle across files is an error for each of them, naming the cycle", async () => {
    await setUp();
    fixture.write("a.yaml", "command: echo a\nafter: [b]\n");
    fixture.write("b.yaml", "command: echo b\nafter: [a]\n");
    const outcome = await sync(store, fixture.dir);
    expect(outcome.plan.errors.map((e) => [e.file, e.field])).toEqual([
      ["a.yaml", "after"],
      ["b.yaml", "after"],
    ]);
    expect(outcome.plan.errors[0]?.message).toMatch(/cycle: (a → b → a|b → a → b)/);
    expect(await store.jobList({})).toEqual([]);
  });

  test("removing a job's file cancels the jobs waiting for it", async () => {
    await setUp();
    fixture.write("first.yaml", "command: echo first\n");
    fixture.write("second.yaml", "command: echo second\nafter: [first]\n");
    await sync(store, fixture.dir);
    fixture.remove("first.yaml");
    expect((await sync(store, fixture.dir)).applied?.canceled).toEqual(["first"]);
    expect((await jobOf(store, "second")).state).toBe("canceled");
  });
});

describe("schedules (schedule)", () => {
  const nightly = 'command: echo rotate\nschedule: "0 3 * * *"\ntimezone: Europe/Berlin\n';

  test("a scheduled job becomes a schedule, not a job; a re-sync changes nothing", async () => {
    await setUp();
    fixture.write("rotate.yaml", nightly);
    const outcome = await sync(store, fixture.dir);
    expect(outcome.plan.schedules.creates.map((job) => job.spec.id)).toEqual(["rotate"]);
    expect(outcome.appliedSchedules).toEqual({ created: ["rotate"], updated: [], removed: [] });
    expect(await store.jobGet({ id: "rotate" })).toBeNull();
    const schedule = await store.scheduleGet({ id: "rotate" });
    expect(schedule).toMatchObject({
      source: join(fixture.root, "rotate.yaml"),
      spec: { schedule: "0 3 * * *" },
    });
    expect(schedule?.next_at).toBeGreaterThan(Date.now());
    const again = await sync(await fixture.store(), fixture.dir);
    expect(again.plan.schedules.unchanged).toHaveLength(1);
    expect(again.appliedSchedules).toEqual({ created: [], updated: [], removed: [] });
  });

  test("editing the file updates the schedule; removing it stops future occurrences", async () => {
    await setUp();
    fixture.write("rotate.yaml", nightly);
    await sync(store, fixture.dir);
    fixture.write("rotate.yaml", nightly.replace("0 3", "30 4"));
    expect((await sync(store, fixture.dir)).appliedSchedules?.updated).toEqual(["rotate"]);
    expect((await store.scheduleGet({ id: "rotate" }))?.spec.schedule).toBe("30 4 * * *");
    fixture.remove("rotate.yaml");
    const outcome = await sync(store, fixture.dir);
    expect(outcome.plan.schedules.removals.map((r) => r.file)).toEqual(["rotate.yaml"]);
    expect(outcome.appliedSchedules?.removed).toEqual(["rotate"]);
    expect(await store.scheduleGet({ id: "rotate" })).toBeNull();
  });

  test("a schedule in a file in error stays as it was", async () => {
    await setUp();
    fixture.write("rotate.yaml", nightly);
    await sync(store, fixture.dir);
    fixture.write("rotate.yaml", `${nightly}catchup: sometimes\n`);
    const outcome = await sync(store, fixture.dir);
    expect(outcome.plan.errors[0]).toMatchObject({ file: "rotate.yaml", line: 4, field: "catchup" });
    expect(outcome.plan.schedules.removals).toEqual([]);
    expect(await store.scheduleGet({ id: "rotate" })).not.toBeNull();
  });

  test("adding a schedule to a declared job replaces the job with a schedule", async () => {
    await setUp();
    fixture.write("rotate.yaml", "command: echo rotate\n");
    await sync(store, fixture.dir);
    fixture.write("rotate.yaml", nightly);
    const outcome = await sync(store, fixture.dir);
    expect(outcome.applied?.canceled).toEqual(["rotate"]);
    expect(outcome.appliedSchedules?.created).toEqual(["rotate"]);
  });

  test("two syncs racing on one folder create the schedule once", async () => {
    await setUp();
    fixture.write("rotate.yaml", nightly);
    const other = await fixture.store();
    const [a, b] = await Promise.all([sync(store, fixture.dir), sync(other, fixture.dir)]);
    expect([...(a.appliedSchedules?.created ?? []), ...(b.appliedSchedules?.created ?? [])]).toEqual([
      "rotate",
    ]);
  });

  test("the id of a schedule made with enqueue is never taken over", async () => {
    await setUp();
    const spec = { id: "rotate", command: "echo by hand", schedule: "0 5 * * *" };
    await store.scheduleUpsert({
      id: "rotate",
      spec,
      revision: specRevision(spec),
      source: null,
      nextAt: null,
      now: Date.now(),
    });
    fixture.write("rotate.yaml", nightly);
    const outcome = await sync(store, fixture.dir);
    expect(outcome.plan.errors[0]).toMatchObject({ file: "rotate.yaml", field: "id" });
    expect((await store.scheduleGet({ id: "rotate" }))?.spec.command).toBe("echo by hand");
  });
});
