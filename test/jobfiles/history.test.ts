/**
 * The history rule, through every sync path a user takes, on every backend: a revision an
 * id completed never runs again. A → B → A with B waiting, running or failed and waiting
 * for a retry; a git revert; checkouts back and forth; a renamed file that keeps its id.
 * `rerun` stays the one way to run it again.
 */

import { expect, setDefaultTimeout, test } from "bun:test";
import { planLines } from "../../src/render/sync.ts";
import {
  type BackendTest,
  claimAll,
  completeAll,
  FAILURE,
  forEachBackend,
  jobOf,
  SUCCESS,
  sync,
} from "./helpers.ts";

// Real processes on a busy two-core machine: generous, not the 5 s default.
setDefaultTimeout(60_000);

const v = (n: number) => `id: build\ncommand: echo v${n}\n`;

/** Syncs and returns the plan's decided changes as "id action". */
async function syncActions(t: BackendTest): Promise<string[]> {
  const outcome = await sync(t.store, t.fixture.dir);
  return outcome.plan.changes.map((change) => `${change.id} ${change.action}`);
}

function git(t: BackendTest, ...args: string[]): string {
  const result = Bun.spawnSync(["git", "-c", "user.name=T", "-c", "user.email=t@example.com", ...args], {
    cwd: t.fixture.home,
    env: t.fixture.env,
  });
  if (result.exitCode !== 0) throw new Error(`git ${args.join(" ")}: ${result.stderr.toString()}`);
  return result.stdout.toString().trim();
}

async function runsOf(t: BackendTest, id: string): Promise<(string | null)[]> {
  return (await t.store.attemptList({ jobId: id })).map((attempt) => attempt.revision);
}

/** v1 is synced and completed; v2 is synced, so it waits. */
async function v1DoneV2Waiting(t: BackendTest): Promise<void> {
  t.fixture.write("build.yaml", v(1));
  await sync(t.store, t.fixture.dir);
  expect(await completeAll(t.store)).toEqual(["build"]);
  t.fixture.write("build.yaml", v(2));
  expect(await syncActions(t)).toEqual(["build replace"]);
}

forEachBackend("history", (t) => {
  test("A → B → A with B pending: the waiting run is dropped and A is shown, never run", async () => {
    await t.setUp();
    await v1DoneV2Waiting(t);
    const v1 = (await t.store.attemptList({ jobId: "build" }))[0]?.revision ?? "";
    t.fixture.write("build.yaml", v(1));
    const outcome = await sync(t.store, t.fixture.dir, { dryRun: true });
    const line = planLines(outcome)[0] ?? "";
    expect(line).toContain(`= build  unchanged: revision ${v1.slice(0, 6)} completed 20`);
    expect(line).toContain("the pending run of");
    expect(await syncActions(t)).toEqual(["build showCompleted"]);
    expect(await jobOf(t.store, "build")).toMatchObject({ state: "completed", revision: v1 });
    expect(await claimAll(t.store)).toEqual([]);
    expect(await syncActions(t)).toEqual([]);
    expect(await runsOf(t, "build")).toEqual([v1]);
  });

  test("A → B → A with B running: B finishes, nothing is queued after it, A never runs", async () => {
    await t.setUp();
    await v1DoneV2Waiting(t);
    const [running] = await claimAll(t.store);
    const [v1] = await runsOf(t, "build");
    t.fixture.write("build.yaml", v(1));
    // The plan says plainly that A completed and runs no more; never "up to date".
    const outcome = await sync(t.store, t.fixture.dir, { dryRun: true });
    expect(planLines(outcome)[0]).toContain(`= build  unchanged: revision ${v1?.slice(0, 6)} completed 20`);
    expect(planLines(outcome)[0]).toContain("the running attempt of");
    expect(await syncActions(t)).toEqual(["build skipCompleted"]);
    // Said again by every sync while it runs, and never as a change dropped behind it.
    const again = await sync(t.store, t.fixture.dir, { dryRun: true });
    expect(planLines(again)[0]).not.toContain("dropped");
    await t.store.jobComplete({ id: "build", token: running?.token ?? 0, now: Date.now(), result: SUCCESS });
    expect(await jobOf(t.store, "build")).toMatchObject({ state: "completed", revision: v1 });
    expect(await syncActions(t)).toEqual([]);
    expect(await claimAll(t.store)).toEqual([]);
    expect((await runsOf(t, "build")).length).toBe(2);
  });

  // Without a sync after it: a watcher plans nothing while no file changes.
  for (const ending of ["fails with retries left", "fails for the last time", "is handed back"] as const) {
    test(`A → B → A with B running, and B ${ending}: A is shown at once and nothing runs again`, async () => {
      await t.setUp();
      await v1DoneV2Waiting(t);
      const [running] = await claimAll(t.store);
      const [v1] = await runsOf(t, "build");
      t.fixture.write("build.yaml", v(1));
      expect(await syncActions(t)).toEqual(["build skipCompleted"]);
      const fence = { id: "build", token: running?.token ?? 0, now: Date.now() };
      if (ending === "is handed back") {
        expect(await t.store.jobRelease({ ...fence, reason: "worker stopping" })).toBe(true);
      } else {
        const state = ending === "fails with retries left" ? "failed" : "dead";
        const written = await t.store.jobFail({ ...fence, state, nextRunAt: Date.now(), result: FAILURE });
        expect(written).toEqual({ state: "completed", because: "jobfile-completed", nextRunAt: null });
      }
      expect(await jobOf(t.store, "build")).toMatchObject({ state: "completed", revision: v1, attempts: 1 });
      expect(await claimAll(t.store)).toEqual([]);
      expect(await syncActions(t)).toEqual([]);
      expect(await runsOf(t, "build")).toEqual([v1, expect.not.stringMatching(v1 ?? "")]);
    });
  }

  for (const ending of ["failed", "completed"] as const) {
    test(`A → B → A with B's run ${ending}: the job shown completed keeps no result or progress of it`, async () => {
      await t.setUp();
      await v1DoneV2Waiting(t);
      const [running] = await claimAll(t.store);
      const fence = { id: "build", token: running?.token ?? 0 };
      await t.store.jobProgressSave({ updates: [{ ...fence, pct: 40, message: "half of B" }] });
      await t.store.jobResultSave({ ...fence, result: '{"v":2}' });
      if (ending === "failed") {
        // The file goes back while B runs; B then fails.
        t.fixture.write("build.yaml", v(1));
        expect(await syncActions(t)).toEqual(["build skipCompleted"]);
        await t.store.jobFail({
          ...fence,
          now: Date.now(),
          state: "dead",
          nextRunAt: Date.now(),
          result: FAILURE,
        });
      } else {
        // B completes; the file goes back afterwards.
        await t.store.jobComplete({ ...fence, now: Date.now(), result: SUCCESS });
        t.fixture.write("build.yaml", v(1));
        expect(await syncActions(t)).toEqual(["build showCompleted"]);
      }
      const shown = await jobOf(t.store, "build");
      expect([ending, shown.state, shown.result ?? null, shown.progress_pct ?? null]).toEqual([
        ending,
        "completed",
        null,
        null,
      ]);
      expect((await t.store.jobResults({ ids: ["build"] }))[0]?.result ?? null).toBeNull();
    });
  }

  test("A, run twice by a dlq retry, → B → A: the attempts shown stay within what A's retries allow", async () => {
    await t.setUp();
    const a = "id: cap\ncommand: echo a\nmax_retries: 0\n";
    t.fixture.write("cap.yaml", a);
    await sync(t.store, t.fixture.dir);
    const [first] = await claimAll(t.store);
    const fence = { id: "cap", token: first?.token ?? 0, now: Date.now() };
    await t.store.jobFail({ ...fence, state: "dead", nextRunAt: Date.now(), result: FAILURE });
    await t.store.jobTransition({
      id: "cap",
      from: ["dead"],
      to: "pending",
      resetAttempts: true,
      now: Date.now(),
    });
    expect(await completeAll(t.store)).toEqual(["cap"]);
    t.fixture.write("cap.yaml", "id: cap\ncommand: echo b\nmax_retries: 0\n");
    await sync(t.store, t.fixture.dir);
    expect(await completeAll(t.store)).toEqual(["cap"]);
    t.fixture.write("cap.yaml", a);
    expect(await syncActions(t)).toEqual(["cap showCompleted"]);
    expect(await jobOf(t.store, "cap")).toMatchObject({ state: "completed", attempts: 1, max_retries: 0 });
  });

  test("a job waiting on one whose file went back to a completed revision starts once the run ends", async () => {
    await t.setUp();
    await v1DoneV2Waiting(t);
    t.fixture.write("deploy.yaml", "id: deploy\ncommand: echo deploy\nafter: [build]\n");
    await sync(t.store, t.fixture.dir);
    const [running] = await claimAll(t.store);
    expect(running?.id).toBe("build");
    t.fixture.write("build.yaml", v(1));
    await sync(t.store, t.fixture.dir);
    const fence = { id: "build", token: running?.token ?? 0, now: Date.now() };
    await t.store.jobFail({ ...fence, state: "dead", nextRunAt: Date.now(), result: FAILURE });
    expect((await claimAll(t.store)).map((job) => job.id)).toEqual(["deploy"]);
  });

  test("a change of queue and priority deferred behind a run takes effect when it starts", async () => {
    await t.setUp();
    await v1DoneV2Waiting(t);
    const [running] = await claimAll(t.store);
    t.fixture.write("build.yaml", `${v(3)}queue: slow\npriority: 7\ntags: [x]\n`);
    expect(await syncActions(t)).toEqual(["build defer"]);
    await t.store.jobComplete({ id: "build", token: running?.token ?? 0, now: Date.now(), result: SUCCESS });
    expect(await jobOf(t.store, "build")).toMatchObject({
      state: "pending",
      queue: "slow",
      priority: 7,
      tags: ["x"],
    });
  });

  test("A → B → C → A with B running and C queued behind it: C is dropped, the plan names A", async () => {
    await t.setUp();
    await v1DoneV2Waiting(t);
    const [running] = await claimAll(t.store);
    const [v1] = await runsOf(t, "build");
    t.fixture.write("build.yaml", v(3));
    expect(await syncActions(t)).toEqual(["build defer"]);
    t.fixture.write("build.yaml", v(1));
    const outcome = await sync(t.store, t.fixture.dir);
    const line = planLines(outcome)[0] ?? "";
    expect(line).toContain(`= build  unchanged: revision ${v1?.slice(0, 6)} completed 20`);
    expect(line).toContain("the change queued behind it is dropped");
    expect(line).not.toContain("back to the running revision");
    expect(outcome.applied?.skipCompleted).toEqual(["build"]);
    await t.store.jobComplete({ id: "build", token: running?.token ?? 0, now: Date.now(), result: SUCCESS });
    expect(await jobOf(t.store, "build")).toMatchObject({ state: "completed", revision: v1 });
    expect(await syncActions(t)).toEqual([]);
    expect(await claimAll(t.store)).toEqual([]);
    expect((await runsOf(t, "build")).length).toBe(2);
  });

  test("A → B → A with B failed and waiting for a retry: the retry is dropped", async () => {
    await t.setUp();
    await v1DoneV2Waiting(t);
    const [running] = await claimAll(t.store);
    await t.store.jobFail({
      id: "build",
      token: running?.token ?? 0,
      now: Date.now(),
      state: "failed",
      nextRunAt: Date.now(),
      result: FAILURE,
    });
    t.fixture.write("build.yaml", v(1));
    expect(await syncActions(t)).toEqual(["build showCompleted"]);
    expect((await jobOf(t.store, "build")).state).toBe("completed");
    expect(await claimAll(t.store)).toEqual([]);
  });

  test("a git revert pulled before a worker ran the new version runs nothing", async () => {
    await t.setUp();
    git(t, "init", "-q", "-b", "main");
    t.fixture.write("build.yaml", v(1));
    git(t, "add", "jobs");
    git(t, "commit", "-q", "-m", "v1");
    await sync(t.store, t.fixture.dir);
    await completeAll(t.store);
    t.fixture.write("build.yaml", v(2));
    git(t, "commit", "-q", "-am", "v2");
    await sync(t.store, t.fixture.dir);
    git(t, "revert", "--no-edit", "HEAD");
    expect(await syncActions(t)).toEqual(["build showCompleted"]);
    expect(await claimAll(t.store)).toEqual([]);
  });

  test("checking out back and forth runs each revision once, only when it is new", async () => {
    await t.setUp();
    git(t, "init", "-q", "-b", "main");
    t.fixture.write("build.yaml", v(1));
    git(t, "add", "jobs");
    git(t, "commit", "-q", "-m", "v1");
    const first = git(t, "rev-parse", "HEAD");
    await sync(t.store, t.fixture.dir);
    await completeAll(t.store);
    t.fixture.write("build.yaml", v(2));
    git(t, "commit", "-q", "-am", "v2");
    // v2 never ran, so it waits on main; v1 completed, so it is shown on the first commit.
    for (const [ref, expected, state] of [
      ["main", "build replace", "pending"],
      [first, "build showCompleted", "completed"],
      ["main", "build replace", "pending"],
      [first, "build showCompleted", "completed"],
    ] as const) {
      git(t, "checkout", "-q", ref);
      expect(await syncActions(t)).toEqual([expected]);
      expect((await jobOf(t.store, "build")).state).toBe(state);
    }
    git(t, "checkout", "-q", "main");
    await sync(t.store, t.fixture.dir);
    expect(await completeAll(t.store)).toEqual(["build"]);
    for (const ref of [first, "main", first, "main"]) {
      git(t, "checkout", "-q", ref);
      expect(await syncActions(t)).toEqual(["build showCompleted"]);
      expect(await claimAll(t.store)).toEqual([]);
    }
    expect((await runsOf(t, "build")).length).toBe(2);
  });

  test("a file renamed with its explicit id keeps its history", async () => {
    await t.setUp();
    await v1DoneV2Waiting(t);
    t.fixture.rename("build.yaml", "renamed.yaml");
    t.fixture.write("renamed.yaml", v(1));
    expect(await syncActions(t)).toEqual(["build showCompleted"]);
    expect(await jobOf(t.store, "build")).toMatchObject({
      state: "completed",
      source: `${t.fixture.root}/renamed.yaml`,
    });
    t.fixture.rename("renamed.yaml", "again.yaml");
    expect(await syncActions(t)).toEqual(["build redeclare"]);
    expect(await claimAll(t.store)).toEqual([]);
  });

  test("rerun is the one way to run a completed revision again", async () => {
    await t.setUp();
    t.fixture.write("build.yaml", v(1));
    await sync(t.store, t.fixture.dir);
    await completeAll(t.store);
    await t.store.jobTransition({
      id: "build",
      from: ["completed"],
      to: "pending",
      resetAttempts: true,
      now: Date.now(),
    });
    expect(await syncActions(t)).toEqual([]);
    expect(await completeAll(t.store)).toEqual(["build"]);
  });

  test("a job purged while its file was away comes back shown completed when the file returns", async () => {
    await t.setUp();
    t.fixture.write("build.yaml", v(1));
    await sync(t.store, t.fixture.dir);
    await completeAll(t.store);
    t.fixture.remove("build.yaml");
    expect(await syncActions(t)).toEqual(["build forget"]);
    const purged = await t.store.jobPurge({
      states: ["completed"],
      finishedBefore: Date.now() + 1,
      dryRun: false,
    });
    expect(purged).toEqual(["build"]);
    t.fixture.write("build.yaml", v(1));
    const outcome = await sync(t.store, t.fixture.dir);
    expect(outcome.plan.changes.map((change) => `${change.id} ${change.action}`)).toEqual([
      "build showCompleted",
    ]);
    expect(planLines(outcome)[0]).toContain("its purged row comes back, not re-run");
    expect((await jobOf(t.store, "build")).state).toBe("completed");
    expect(await claimAll(t.store)).toEqual([]);
    expect(await syncActions(t)).toEqual([]);
  });
});
