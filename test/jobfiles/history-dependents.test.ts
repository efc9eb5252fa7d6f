/**
 * Jobs that wait on a job whose file goes back to a revision it completed (a `git revert`,
 * a `git stash`, a checkout of the branch before): the waiting run of the newer revision is
 * dropped and the job shows completed, so whatever waits on it runs. They stayed `pending`
 * for ever before, with nothing in `show` to say why. On every backend.
 */

import { expect, setDefaultTimeout, test } from "bun:test";
import { syncRunOf } from "../../src/jobfiles/sync-record.ts";
import {
  claimAll,
  claimIds,
  completeAll,
  FAILURE,
  forEachBackend,
  jobOf,
  queueByHand,
  sync,
} from "./helpers.ts";

// Real processes on a busy two-core machine: generous, not the 5 s default.
setDefaultTimeout(60_000);

const build = (n: number) => `id: build\ncommand: echo v${n}\n`;
const DEPENDENT = "id: deploy\ncommand: echo deploy\nafter: [build]\n";

forEachBackend("history and dependents", (t) => {
  /** build v1 completed, build v2 synced and waiting; `deploy` declared beside it, waiting on build. */
  async function v2WaitingWithDependent(): Promise<void> {
    await t.setUp();
    t.fixture.write("build.yaml", build(1));
    await sync(t.store, t.fixture.dir);
    expect(await completeAll(t.store)).toEqual(["build"]);
    t.fixture.write("build.yaml", build(2));
    t.fixture.write("deploy.yaml", DEPENDENT);
    await sync(t.store, t.fixture.dir);
  }

  test("build goes back to its completed revision while v2 waits: deploy runs", async () => {
    await v2WaitingWithDependent();
    t.fixture.write("build.yaml", build(1));
    const outcome = await sync(t.store, t.fixture.dir);
    expect(outcome.plan.changes.map((change) => `${change.id} ${change.action}`)).toEqual([
      "build showCompleted",
    ]);
    expect((await jobOf(t.store, "build")).state).toBe("completed");
    expect(await claimIds(t.store)).toEqual(["deploy"]);
    // What `status` shows of this sync: build is `=` in the plan, so unchanged, not updated.
    expect(syncRunOf({ folder: t.fixture.dir, by: "sync", outcome })).toMatchObject({
      created: 0,
      updated: 0,
      unchanged: 2,
    });
  });

  test("build goes back while v2 failed and waits for a retry: deploy runs", async () => {
    await v2WaitingWithDependent();
    const [run] = await claimAll(t.store);
    if (run?.id !== "build") throw new Error(`claimed ${run?.id} rather than build`);
    const failed = { id: "build", token: run.token, now: Date.now(), state: "failed" as const };
    expect(
      await t.store.jobFail({ ...failed, nextRunAt: Date.now() + 3_600_000, result: FAILURE }),
    ).toBeTruthy();
    t.fixture.write("build.yaml", build(1));
    await sync(t.store, t.fixture.dir);
    expect((await jobOf(t.store, "build")).state).toBe("completed");
    expect(await claimIds(t.store)).toEqual(["deploy"]);
  });

  test("a job enqueued by hand that waits on build runs too", async () => {
    await v2WaitingWithDependent();
    await queueByHand(t.store, { id: "report", command: "echo report", after: ["build"] });
    t.fixture.write("build.yaml", build(1));
    await sync(t.store, t.fixture.dir);
    expect((await claimIds(t.store)).sort()).toEqual(["deploy", "report"]);
  });

  test("a job that also waits on an unfinished job still waits for it", async () => {
    await v2WaitingWithDependent();
    t.fixture.write("lint.yaml", "id: lint\ncommand: echo lint\n");
    t.fixture.write("deploy.yaml", "id: deploy\ncommand: echo deploy\nafter: [build, lint]\n");
    await sync(t.store, t.fixture.dir);
    t.fixture.write("build.yaml", build(1));
    await sync(t.store, t.fixture.dir);
    expect(await claimIds(t.store)).toEqual(["lint"]);
  });
});
