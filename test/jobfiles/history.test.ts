/**
 * The history rule, through every sync path a user takes, on every backend: a revision an
 * id completed never runs again. A → B → A with B waiting, running or failed and waiting
 * for a retry; a git revert; checkouts back and forth; a renamed file that keeps its id.
 * `rerun` stays the one way to run it again.
 */

import { afterEach, expect, setDefaultTimeout, test } from "bun:test";
import { planLines } from "../../src/jobfiles/report.ts";
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

const v = (n: number) => `id: build\ncommand: echo v${n}\n`;

/** Syncs and returns the plan's decided changes as "id action". */
async function syncActions(): Promise<string[]> {
  const outcome = await sync(store, fixture.dir);
  return outcome.plan.changes.map((change) => `${change.id} ${change.action}`);
}

function git(...args: string[]): string {
  const result = Bun.spawnSync(["git", "-c", "user.name=T", "-c", "user.email=t@example.com", ...args], {
    cwd: fixture.home,
    env: fixture.env,
  });
  if (result.exitCode !== 0) throw new Error(`git ${args.join(" ")}: ${result.stderr.toString()}`);
  return result.stdout.toString().trim();
}

async function runsOf(id: string): Promise<(string | null)[]> {
  return (await store.attemptList({ jobId: id })).map((attempt) => attempt.revision);
}

/** v1 is synced and completed; v2 is synced, so it waits. */
async function v1DoneV2Waiting(): Promise<void> {
  fixture.write("build.yaml", v(1));
  await sync(store, fixture.dir);
  expect(await completeAll(store)).toEqual(["build"]);
  fixture.write("build.yaml", v(2));
  expect(await syncActions()).toEqual(["build replace"]);
}

forEachBackend(
  "history",
  (name) => {
    backend = name;
  },
  () => {
    test("A → B → A with B pending: the waiting run is dropped and A is shown, never run", async () => {
      await setUp();
      await v1DoneV2Waiting();
      const v1 = (await store.attemptList({ jobId: "build" }))[0]?.revision ?? "";
      fixture.write("build.yaml", v(1));
      const outcome = await sync(store, fixture.dir, { dryRun: true });
      const line = planLines(outcome)[0] ?? "";
      expect(line).toContain(`= build  unchanged: revision ${v1.slice(0, 6)} completed 20`);
      expect(line).toContain("the pending run of");
      expect(await syncActions()).toEqual(["build showCompleted"]);
      expect(await jobOf(store, "build")).toMatchObject({ state: "completed", revision: v1 });
      expect(await claimAll(store)).toEqual([]);
      expect(await syncActions()).toEqual([]);
      expect(await runsOf("build")).toEqual([v1]);
    });

    test("A → B → A with B running: B finishes, nothing is queued after it, A never runs", async () => {
      await setUp();
      await v1DoneV2Waiting();
      const [running] = await claimAll(store);
      fixture.write("build.yaml", v(1));
      expect(await syncActions()).toEqual([]);
      await store.jobComplete({ id: "build", token: running?.token ?? 0, now: Date.now(), result: SUCCESS });
      expect(await syncActions()).toEqual(["build showCompleted"]);
      expect(await claimAll(store)).toEqual([]);
      expect((await runsOf("build")).length).toBe(2);
    });

    test("A → B → A with B failed and waiting for a retry: the retry is dropped", async () => {
      await setUp();
      await v1DoneV2Waiting();
      const [running] = await claimAll(store);
      await store.jobFail({
        id: "build",
        token: running?.token ?? 0,
        now: Date.now(),
        state: "failed",
        nextRunAt: Date.now(),
        result: FAILURE,
      });
      fixture.write("build.yaml", v(1));
      expect(await syncActions()).toEqual(["build showCompleted"]);
      expect((await jobOf(store, "build")).state).toBe("completed");
      expect(await claimAll(store)).toEqual([]);
    });

    test("a git revert pulled before a worker ran the new version runs nothing", async () => {
      await setUp();
      git("init", "-q", "-b", "main");
      fixture.write("build.yaml", v(1));
      git("add", "jobs");
      git("commit", "-q", "-m", "v1");
      await sync(store, fixture.dir);
      await completeAll(store);
      fixture.write("build.yaml", v(2));
      git("commit", "-q", "-am", "v2");
      await sync(store, fixture.dir);
      git("revert", "--no-edit", "HEAD");
      expect(await syncActions()).toEqual(["build showCompleted"]);
      expect(await claimAll(store)).toEqual([]);
    });

    test("checking out back and forth runs each revision once, only when it is new", async () => {
      await setUp();
      git("init", "-q", "-b", "main");
      fixture.write("build.yaml", v(1));
      git("add", "jobs");
      git("commit", "-q", "-m", "v1");
      const first = git("rev-parse", "HEAD");
      await sync(store, fixture.dir);
      await completeAll(store);
      fixture.write("build.yaml", v(2));
      git("commit", "-q", "-am", "v2");
      // v2 never ran, so it waits on main; v1 completed, so it is shown on the first commit.
      for (const [ref, expected, state] of [
        ["main", "build replace", "pending"],
        [first, "build showCompleted", "completed"],
        ["main", "build replace", "pending"],
        [first, "build showCompleted", "completed"],
      ] as const) {
        git("checkout", "-q", ref);
        expect(await syncActions()).toEqual([expected]);
        expect((await jobOf(store, "build")).state).toBe(state);
      }
      git("checkout", "-q", "main");
      await sync(store, fixture.dir);
      expect(await completeAll(store)).toEqual(["build"]);
      for (const ref of [first, "main", first, "main"]) {
        git("checkout", "-q", ref);
        expect(await syncActions()).toEqual(["build showCompleted"]);
        expect(await claimAll(store)).toEqual([]);
      }
      expect((await runsOf("build")).length).toBe(2);
    });

    test("a file renamed with its explicit id keeps its history", async () => {
      await setUp();
      await v1DoneV2Waiting();
      fixture.rename("build.yaml", "renamed.yaml");
      fixture.write("renamed.yaml", v(1));
      expect(await syncActions()).toEqual(["build showCompleted"]);
      expect(await jobOf(store, "build")).toMatchObject({
        state: "completed",
        source: `${fixture.root}/renamed.yaml`,
      });
      fixture.rename("renamed.yaml", "again.yaml");
      expect(await syncActions()).toEqual(["build redeclare"]);
      expect(await claimAll(store)).toEqual([]);
    });

    test("rerun is the one way to run a completed revision again", async () => {
      await setUp();
      fixture.write("build.yaml", v(1));
      await sync(store, fixture.dir);
      await completeAll(store);
      await store.jobTransition({
        id: "build",
        from: ["completed"],
        to: "pending",
        resetAttempts: true,
        now: Date.now(),
      });
      expect(await syncActions()).toEqual([]);
      expect(await completeAll(store)).toEqual(["build"]);
    });
  },
);
