/**
 * Several jobs folders in one store, on every backend: a folder never takes over another
 * live folder's id in silence; a namespace lets two repos use the same ids; a folder that
 * moved or was re-cloned takes its jobs back, and the plan says so.
 */

import { expect, setDefaultTimeout, test } from "bun:test";
import { cpSync, mkdirSync, realpathSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { UserError } from "../../src/core/errors.ts";
import { hostName } from "../../src/core/home.ts";
import { planLines } from "../../src/render/sync.ts";
import { type BackendTest, claimAll, completeAll, forEachBackend, jobOf, sync } from "./helpers.ts";

// Real processes on a busy two-core machine: generous, not the 5 s default.
setDefaultTimeout(60_000);

/** A repo's jobs folder under the temp home, private as a fresh clone is. */
function repo(t: BackendTest, name: string, files: Record<string, string>): string {
  const dir = join(t.fixture.home, name, "jobs");
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  for (const [file, text] of Object.entries(files)) writeFileSync(join(dir, file), text, { mode: 0o600 });
  return realpathSync(dir);
}

async function actions(
  t: BackendTest,
  dir: string,
  extra: Parameters<typeof sync>[2] = {},
): Promise<string[]> {
  const outcome = await sync(t.store, dir, extra);
  return outcome.plan.changes.map((change) => `${change.id} ${change.action}`);
}

forEachBackend("ownership", (t) => {
  test("two live folders never take over each other's ids: one error names both", async () => {
    await t.setUp();
    const a = repo(t, "repo-a", { "build.yaml": "command: echo a\n", "lint.yaml": "command: echo lint\n" });
    const b = repo(t, "repo-b", { "build.yaml": "command: echo b\n", "test.yaml": "command: echo test\n" });
    expect(await actions(t, a)).toEqual(["build create", "lint create"]);
    const second = await sync(t.store, b);
    expect(second.plan.errors).toHaveLength(1);
    expect(second.plan.errors[0]).toMatchObject({ file: "build.yaml", line: 1, column: 1, field: "id" });
    expect(second.plan.errors[0]?.message).toBe(`id "build" belongs to the jobs folder ${a}, not to ${b}`);
    expect(second.plan.errors[0]?.hint).toContain("namespace: NAME");
    expect(second.plan.changes.map((change) => change.id)).toEqual(["test"]);
    // Syncing either folder again changes nothing of the other's: no flip back and forth.
    expect(await actions(t, a)).toEqual([]);
    expect((await sync(t.store, b)).plan.errors).toHaveLength(1);
    expect(await jobOf(t.store, "build")).toMatchObject({ source: join(a, "build.yaml") });
    // And neither folder's sync removes the other's jobs.
    expect((await jobOf(t.store, "lint")).state).toBe("pending");
  });

  test("a namespace prefixes the folder's ids and the `after` entries naming its own jobs", async () => {
    await t.setUp();
    const a = repo(t, "repo-a", { "build.yaml": "command: echo a\n" });
    const b = repo(t, "repo-b", {
      ".queuectl.yaml": "namespace: repo-b\n",
      "build.yaml": "command: echo b\n",
      "deploy.yaml": "command: echo deploy\nafter: [build]\n",
    });
    await sync(t.store, a);
    expect(await actions(t, b)).toEqual(["repo-b/build create", "repo-b/deploy create"]);
    expect((await jobOf(t.store, "repo-b/deploy")).spec.after).toEqual(["repo-b/build"]);
    expect((await sync(t.store, b)).namespace).toBe("repo-b");
    expect((await claimAll(t.store)).map((job) => job.id).sort()).toEqual(["build", "repo-b/build"]);
  });

  test("an invalid folder settings file is one error and nothing is applied", async () => {
    await t.setUp();
    const b = repo(t, "repo-b", {
      ".queuectl.yaml": "namespace: has space\n",
      "build.yaml": "command: echo b\n",
    });
    const error = await sync(t.store, b).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(UserError);
    expect((error as UserError).message).toBe(
      `${join(b, ".queuectl.yaml")}: namespace "has space" is not a valid name`,
    );
    expect(await t.store.jobList({})).toEqual([]);
  });

  test("a folder that moved takes its jobs back, shown in the plan, and re-runs nothing", async () => {
    await t.setUp();
    const old = repo(t, "repo-a", { "build.yaml": "command: echo a\n" });
    await sync(t.store, old);
    await completeAll(t.store);
    renameSync(join(t.fixture.home, "repo-a"), join(t.fixture.home, "repo-a-moved"));
    const moved = realpathSync(join(t.fixture.home, "repo-a-moved", "jobs"));
    const dry = await sync(t.store, moved, { dryRun: true });
    expect(planLines(dry)[0]).toContain(`~ build  adopt from ${old} (folder no longer exists); redeclare`);
    expect(await actions(t, moved)).toEqual(["build redeclare"]);
    expect(await jobOf(t.store, "build")).toMatchObject({
      state: "completed",
      source: join(moved, "build.yaml"),
    });
    expect(await claimAll(t.store)).toEqual([]);
    expect(await actions(t, moved)).toEqual([]);
  });

  test("a folder another host syncs is not gone for being absent here: refused, taken only with --adopt", async () => {
    await t.setUp();
    const a = repo(t, "repo-a", { "build.yaml": "command: echo a\n" });
    await sync(t.store, a);
    // Its last sync was on another host sharing the store: the folder may be on that disk alone.
    const record = {
      folder: a,
      target: a,
      at: Date.now(),
      host: "another-host",
      pid: 1,
      by: "sync" as const,
      files: 1,
      created: 1,
      updated: 0,
      canceled: 0,
      unchanged: 0,
      problems: 0,
      problemList: [],
    };
    await t.store.folderSyncRecord(record);
    rmSync(join(t.fixture.home, "repo-a"), { recursive: true });
    const b = repo(t, "repo-b", { "build.yaml": "command: echo b\n" });
    const refused = await sync(t.store, b);
    expect(refused.plan.errors[0]?.message).toBe(`id "build" belongs to the jobs folder ${a}, not to ${b}`);
    expect((await jobOf(t.store, "build")).spec.command).toBe("echo a");
    expect(await actions(t, b, { adopt: true })).toEqual(["build replace"]);
    expect((await jobOf(t.store, "build")).spec.command).toBe("echo b");
  });

  test("a folder a live watcher on this host keeps is not gone while it is absent: refused", async () => {
    await t.setUp();
    const a = repo(t, "repo-a", { "build.yaml": "command: echo a\n" });
    await sync(t.store, a);
    // This process stands for the watcher: its pid runs and its heartbeat is fresh.
    await t.store.folderWatcherClaim({
      folder: a,
      host: hostName(),
      pid: process.pid,
      now: Date.now(),
      replacePid: null,
    });
    // The repo checked out, for now, at a commit without the folder.
    rmSync(a, { recursive: true });
    const b = repo(t, "repo-b", { "build.yaml": "command: echo b\n" });
    const refused = await sync(t.store, b);
    expect(refused.plan.errors[0]?.message).toBe(`id "build" belongs to the jobs folder ${a}, not to ${b}`);
    expect((await jobOf(t.store, "build")).spec.command).toBe("echo a");
    // Once the watcher is gone, so is the folder.
    await t.store.folderWatcherRemove({ folder: a, host: hostName(), pid: process.pid });
    expect(await actions(t, b)).toEqual(["build replace"]);
  });

  test("a folder last synced from this host and absent here is gone: its jobs are taken over", async () => {
    await t.setUp();
    const a = repo(t, "repo-a", { "build.yaml": "command: echo a\n" });
    await sync(t.store, a);
    rmSync(join(t.fixture.home, "repo-a"), { recursive: true });
    const b = repo(t, "repo-b", { "build.yaml": "command: echo b\n" });
    expect(await actions(t, b)).toEqual(["build replace"]);
  });

  test("a re-clone beside the old one takes the jobs with --adopt; the old folder is then refused", async () => {
    await t.setUp();
    const old = repo(t, "repo-a", { "build.yaml": "command: echo a\n" });
    await sync(t.store, old);
    cpSync(join(t.fixture.home, "repo-a"), join(t.fixture.home, "clone"), { recursive: true });
    const clone = realpathSync(join(t.fixture.home, "clone", "jobs"));
    expect((await sync(t.store, clone)).plan.errors).toHaveLength(1);
    const adopted = await sync(t.store, clone, { adopt: true });
    expect(adopted.plan.changes.map((change) => [change.action, change.adopt])).toEqual([
      ["redeclare", { from: old, reason: "asked" }],
    ]);
    expect((await sync(t.store, old)).plan.errors[0]?.message).toContain(
      `belongs to the jobs folder ${clone}`,
    );
  });

  test("a schedule another live folder declares is refused the same way", async () => {
    await t.setUp();
    const nightly = 'command: echo rotate\nschedule: "0 3 * * *"\n';
    const a = repo(t, "repo-a", { "rotate.yaml": nightly });
    const b = repo(t, "repo-b", { "rotate.yaml": nightly.replace("0 3", "0 4") });
    await sync(t.store, a);
    const refused = await sync(t.store, b);
    expect(refused.plan.errors[0]?.message).toBe(`id "rotate" belongs to the jobs folder ${a}, not to ${b}`);
    expect((await t.store.scheduleGet({ id: "rotate" }))?.spec.schedule).toBe("0 3 * * *");
    rmSync(join(t.fixture.home, "repo-a"), { recursive: true });
    expect((await sync(t.store, b)).appliedSchedules?.updated).toEqual(["rotate"]);
  });

  test("an id the owning folder no longer declares can be declared by another, shown as adopted", async () => {
    await t.setUp();
    const a = repo(t, "repo-a", { "build.yaml": "command: echo a\n" });
    await sync(t.store, a);
    rmSync(join(a, "build.yaml"));
    expect(await actions(t, a)).toEqual(["build cancel"]);
    const b = repo(t, "repo-b", { "build.yaml": "command: echo b\n" });
    const outcome = await sync(t.store, b);
    expect(outcome.plan.changes[0]?.adopt).toEqual({ from: a, reason: "undeclared" });
    expect(await jobOf(t.store, "build")).toMatchObject({ state: "pending", spec: { command: "echo b" } });
  });
});
