/**
 * The watcher's event path on a real folder and SQLite file: only the named files are
 * re-read, a file missing for a moment keeps its jobs, ids move and collide across files
 * as a full sync would decide, a re-pointed folder symlink is followed, and every sync and
 * error is recorded in the store.
 */

import { afterEach, describe, expect, setDefaultTimeout, test } from "bun:test";
import { chmodSync, mkdirSync, realpathSync, renameSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { planHasChanges, plannedOf } from "../../src/jobfiles/plan.ts";
import { type JobfileWatcher, startWatcher } from "../../src/jobfiles/watch.ts";
import { waitFor } from "../helpers/cli.ts";
import { type JobsFixture, jobOf, jobsFixture, sync } from "./helpers.ts";
import { all, commandOf, dropSettled, startWatched } from "./watch-helpers.ts";

// Real processes on a busy two-core machine: generous, not the 5 s default.
setDefaultTimeout(60_000);

let fixture: JobsFixture;
const running: JobfileWatcher[] = [];

afterEach(async () => {
  for (const watcher of running.splice(0)) await watcher.close();
  fixture?.cleanup();
});

describe("the watcher's event path", () => {
  test("a folder's namespace applies to files an event names, and a new namespace renames every job", async () => {
    fixture = jobsFixture();
    writeFileSync(join(fixture.dir, ".queuectl.yaml"), "namespace: teamA\n");
    dropSettled(fixture.dir, "a.yaml", "command: echo a\n");
    const { store } = await startWatched(fixture, running);
    expect((await jobOf(store, "teamA/a")).state).toBe("pending");
    dropSettled(fixture.dir, "b.yaml", "command: echo b\nafter: [a]\n");
    await waitFor(() => store.jobGet({ id: "teamA/b" }), { what: "teamA/b from the event" });
    expect((await jobOf(store, "teamA/b")).spec.after).toEqual(["teamA/a"]);
    expect(await store.jobGet({ id: "b" })).toBeNull();
    writeFileSync(join(fixture.dir, ".queuectl.yaml"), "namespace: teamB\n");
    await waitFor(() => store.jobGet({ id: "teamB/b" }), { what: "the jobs under the new namespace" });
    expect((await jobOf(store, "teamB/b")).spec.after).toEqual(["teamB/a"]);
    await waitFor(async () => (await jobOf(store, "teamA/a")).state === "canceled", {
      what: "the old namespace's jobs canceled",
    });
  });

  test("a file missing for less than the settle time keeps its job; one that stays away is canceled", async () => {
    fixture = jobsFixture();
    dropSettled(fixture.dir, "a.yaml", "command: echo a\n");
    const { store, outcomes } = await startWatched(fixture, running, { settleMs: 1500 });
    expect((await jobOf(store, "a")).state).toBe("pending");

    // A slow save: the file is gone while the editor writes the new copy elsewhere.
    rmSync(join(fixture.dir, "a.yaml"));
    dropSettled(fixture.dir, "b.yaml", "command: echo b\n");
    await waitFor(() => store.jobGet({ id: "b" }), { what: "b, synced after a went missing" });
    expect((await jobOf(store, "a")).state).toBe("pending");
    dropSettled(fixture.dir, "a.yaml", "command: echo a\n");
    await waitFor(() => all(outcomes, (o) => o.plan.unchanged).some((job) => job.spec.id === "a"), {
      what: "a to be read again",
    });
    expect(all(outcomes, (o) => plannedOf(o.plan, "cancel"))).toEqual([]);
    expect((await jobOf(store, "a")).state).toBe("pending");

    rmSync(join(fixture.dir, "a.yaml"));
    await waitFor(async () => (await jobOf(store, "a")).state === "canceled", { what: "a removed for good" });
    expect((await jobOf(store, "b")).state).toBe("pending");
  });

  test("a file removed while no watcher ran is canceled only after the settle time, not by the first sync", async () => {
    fixture = jobsFixture();
    dropSettled(fixture.dir, "a.yaml", "command: echo a\n");
    dropSettled(fixture.dir, "b.yaml", "command: echo b\n");
    const first = await startWatched(fixture, running);
    await first.watcher.close();
    rmSync(join(fixture.dir, "a.yaml"));
    const { store, outcomes } = await startWatched(fixture, running, { settleMs: 300 });
    expect(outcomes[0] && plannedOf(outcomes[0].plan, "cancel")).toEqual([]);
    await waitFor(async () => (await jobOf(store, "a")).state === "canceled", {
      what: "a canceled after the settle time",
    });
    expect((await jobOf(store, "b")).state).toBe("pending");
  });

  test("an id moved to another file, added there first and then removed from the first, is never canceled", async () => {
    fixture = jobsFixture();
    dropSettled(fixture.dir, "a.yaml", "id: x\ncommand: echo one\n");
    const { store, outcomes } = await startWatched(fixture, running);
    dropSettled(fixture.dir, "b.yaml", "id: x\ncommand: echo two\n");
    await waitFor(() => all(outcomes, (o) => o.plan.errors).length > 0, { what: "the duplicate id" });
    rmSync(join(fixture.dir, "a.yaml"));
    await waitFor(async () => (await commandOf(store, "x")) === "echo two", { what: "x to move to b.yaml" });
    expect((await jobOf(store, "x")).source).toBe(join(fixture.root, "b.yaml"));
    expect(all(outcomes, (o) => o.applied?.cancel ?? [])).toEqual([]);
    expect(planHasChanges((await sync(store, fixture.dir, { dryRun: true })).plan)).toBe(false);
  });

  test("an id moved to a file still being written when the first one's removal falls due is never canceled", async () => {
    fixture = jobsFixture();
    dropSettled(fixture.dir, "old.yaml", "id: x\ncommand: exit 1\n");
    const { store, outcomes } = await startWatched(fixture, running, { settleMs: 1500 });
    // A move the slow way (`git checkout` removes, then writes): the new file comes a moment
    // later, so it settles after the old one's removal is due. Read apart, the removal would
    // cancel x and the new file restore it, its attempts and backoff forgotten.
    rmSync(join(fixture.dir, "old.yaml"));
    await Bun.sleep(150);
    writeFileSync(join(fixture.dir, "new.yaml"), "id: x\ncommand: exit 1\n");
    await waitFor(async () => (await jobOf(store, "x")).source === join(fixture.root, "new.yaml"), {
      what: "x to move to new.yaml",
    });
    expect(all(outcomes, (o) => o.applied?.cancel ?? [])).toEqual([]);
    expect(all(outcomes, (o) => plannedOf(o.plan, "cancel"))).toEqual([]);
    expect((await jobOf(store, "x")).state).toBe("pending");
  });

  test("a file rewritten without pause holds another file's removal only for a while", async () => {
    fixture = jobsFixture();
    dropSettled(fixture.dir, "a.yaml", "command: echo a\n");
    dropSettled(fixture.dir, "status.yaml", "command: echo status\n");
    const { store } = await startWatched(fixture, running, { settleMs: 200 });
    // Something keeps rewriting a file of the folder: it never settles.
    const writer = setInterval(
      () => writeFileSync(join(fixture.dir, "status.yaml"), "command: echo status\n"),
      50,
    );
    try {
      rmSync(join(fixture.dir, "a.yaml"));
      await waitFor(async () => (await jobOf(store, "a")).state === "canceled", {
        what: "a canceled while status.yaml is still being written",
        timeoutMs: 15_000,
      });
    } finally {
      clearInterval(writer);
    }
  });

  test("a path sync whose settings read failed is applied by a later sync", async () => {
    fixture = jobsFixture();
    dropSettled(fixture.dir, "a.yaml", "command: echo a1\n");
    const { store, errors } = await startWatched(fixture, running, { resyncMs: 500 });
    // A misnamed settings file is an error of every sync, and its own events are ignored.
    writeFileSync(join(fixture.dir, ".queuectl.yml"), "namespace: ns\n");
    dropSettled(fixture.dir, "a.yaml", "command: echo a2\n");
    await waitFor(() => errors.length > 0, { what: "the path sync's error" });
    rmSync(join(fixture.dir, ".queuectl.yml"));
    await waitFor(async () => (await commandOf(store, "a")) === "echo a2", {
      what: "the edit applied once the settings read again",
      timeoutMs: 15_000,
    });
  });

  test("a file moved from one watched folder to another is taken over within seconds, not at the next re-sync", async () => {
    fixture = jobsFixture();
    dropSettled(fixture.dir, "x.yaml", "command: echo x\n");
    const { store } = await startWatched(fixture, running);
    const ops = join(fixture.home, "ops");
    mkdirSync(ops, { mode: 0o700 });
    running.push(await startWatcher({ store, dir: ops }));
    renameSync(join(fixture.dir, "x.yaml"), join(ops, "x.yaml"));
    const movedTo = join(realpathSync(ops), "x.yaml");
    // The re-sync comes only after a minute: well past this wait.
    await waitFor(async () => (await store.jobGet({ id: "x" }))?.source === movedTo, {
      what: "x declared by the folder it moved to",
      timeoutMs: 20_000,
    });
  });

  test("a duplicate id blocks both files until one is fixed, then the other applies again", async () => {
    fixture = jobsFixture();
    dropSettled(fixture.dir, "a.yaml", "id: x\ncommand: echo a\n");
    const { store, outcomes } = await startWatched(fixture, running);
    dropSettled(fixture.dir, "b.yaml", "id: x\ncommand: echo b\n");
    await waitFor(() => all(outcomes, (o) => o.plan.errors).length === 2, { what: "both files in error" });
    expect((await store.folderList())[0]?.lastSync?.problems).toBe(2);
    dropSettled(fixture.dir, "b.yaml", "id: y\ncommand: echo b\n");
    await waitFor(() => store.jobGet({ id: "y" }), { what: "b's new id" });
    expect(outcomes.at(-1)?.plan.errors).toEqual([]);
    expect((await store.folderList())[0]?.lastSync?.problems).toBe(0);
    expect(await commandOf(store, "x")).toBe("echo a");
  });

  test("a file in error keeps an id its broken text lost; its removal frees the id for the file that declares it", async () => {
    fixture = jobsFixture();
    dropSettled(fixture.dir, "a.yaml", "id: x\ncommand: echo a\n");
    const { store } = await startWatched(fixture, running);
    dropSettled(fixture.dir, "a.yaml", "command: [unclosed\n");
    dropSettled(fixture.dir, "b.yaml", "id: x\ncommand: echo b\n");
    const converged = async () => {
      const full = await sync(store, fixture.dir, { dryRun: true });
      const recorded = (await store.folderList())[0]?.lastSync?.problemList ?? [];
      const messages = (list: { file: string; message: string }[]) =>
        list.map((p) => `${p.file} ${p.message}`).sort();
      return !planHasChanges(full.plan) &&
        JSON.stringify(messages(recorded)) === JSON.stringify(messages(full.plan.errors))
        ? messages(recorded)
        : null;
    };
    const held = await waitFor(converged, { what: "b.yaml refused while a.yaml holds x" });
    expect(held).toContain('b.yaml id "x" is held by a.yaml, which is in error');
    expect(await commandOf(store, "x")).toBe("echo a");
    rmSync(join(fixture.dir, "a.yaml"));
    await waitFor(async () => (await commandOf(store, "x")) === "echo b", { what: "b.yaml to take x over" });
    expect(await waitFor(converged, { what: "no problem left" })).toEqual([]);
  });

  test("a file under a refused folder keeps its job when an event names another file declaring it", async () => {
    fixture = jobsFixture();
    fixture.write("open/a.yaml", "id: x\ncommand: echo a\n");
    const store = await fixture.store();
    await sync(store, fixture.dir);
    // World-writable: refused as `open/`, and its files' jobs are left as they are.
    chmodSync(join(fixture.dir, "open"), 0o777);
    const { outcomes } = await startWatched(fixture, running);
    dropSettled(fixture.dir, "b.yaml", "id: x\ncommand: echo b\n");
    const refused = await waitFor(
      () => all(outcomes, (o) => o.plan.errors).find((e) => e.file === "b.yaml"),
      { what: "b.yaml refused" },
    );
    expect(refused.message).toBe('id "x" is held by open/a.yaml, which is in error');
    expect(await commandOf(store, "x")).toBe("echo a");
  });

  test("a jobs folder that is a symlink is followed when it is re-pointed, and the new target takes its jobs", async () => {
    fixture = jobsFixture();
    const one = join(fixture.home, "one");
    const two = join(fixture.home, "two");
    mkdirSync(one, { mode: 0o700 });
    mkdirSync(two, { mode: 0o700 });
    rmSync(fixture.dir, { recursive: true });
    symlinkSync(one, fixture.dir);
    dropSettled(one, "first.yaml", "command: echo first\n");
    dropSettled(one, "build.yaml", "command: echo build one\n");
    dropSettled(two, "build.yaml", "command: echo build two\n");
    const { store, watcher, outcomes } = await startWatched(fixture, running);
    expect(watcher.root).toBe(one);
    expect(await commandOf(store, "first")).toBe("echo first");

    // `ln -sfn two jobs`: a new link renamed over the old one.
    symlinkSync(two, `${fixture.dir}.new`);
    renameSync(`${fixture.dir}.new`, fixture.dir);
    await waitFor(() => watcher.root === two, { what: "the watcher to follow the link" });
    // The id both targets declare is taken over, in the plan; what only the old one declared
    // is removed from the folder, as a deleted file's job would be.
    await waitFor(async () => (await commandOf(store, "build")) === "echo build two", {
      what: "build taken over",
    });
    expect((await jobOf(store, "first")).state).toBe("canceled");
    expect(all(outcomes, (o) => o.plan.errors)).toEqual([]);
    const adopted = outcomes
      .flatMap((o) => o.plan.changes)
      .find((change) => change.id === "build" && change.adopt);
    expect(adopted?.adopt).toEqual({ from: one, reason: "relinked" });
    dropSettled(two, "second.yaml", "command: echo second\n");
    await waitFor(() => store.jobGet({ id: "second" }), { what: "a file of the new target" });
    dropSettled(one, "stale.yaml", "command: echo stale\n");
    await watcher.syncNow();
    expect(await store.jobGet({ id: "stale" })).toBeNull();
    expect((await store.folderList())[0]).toMatchObject({ folder: fixture.dir, lastSync: { target: two } });
  });

  test("a folder removed is an error the watcher records, and once created again it is watched again", async () => {
    fixture = jobsFixture();
    dropSettled(fixture.dir, "a.yaml", "command: echo a\n");
    const { store, errors } = await startWatched(fixture, running);
    rmSync(fixture.dir, { recursive: true });
    await waitFor(() => errors.length > 0, { what: "the missing folder to be reported" });
    expect((await jobOf(store, "a")).state).toBe("pending");
    mkdirSync(fixture.dir, { mode: 0o700 });
    dropSettled(fixture.dir, "b.yaml", "command: echo b\n");
    await waitFor(() => store.jobGet({ id: "b" }), { what: "a file of the new folder" });
  });

  test("the store lists the folder with this watcher and its last sync; a failed sync is recorded as its error", async () => {
    fixture = jobsFixture();
    dropSettled(fixture.dir, "bad.yaml", "command: echo x\nmax_retry: 2\n");
    const { store, watcher } = await startWatched(fixture, running);
    const [folder] = await store.folderList();
    expect(folder).toMatchObject({
      folder: fixture.dir,
      lastSync: { target: fixture.root, by: "watch", pid: process.pid, files: 1, problems: 1 },
      watchers: [{ pid: process.pid, lastError: null }],
    });
    expect(folder?.lastSync?.problemList[0]).toMatchObject({ file: "bad.yaml", line: 2 });

    rmSync(fixture.dir, { recursive: true });
    await expect(watcher.syncNow()).rejects.toThrow("does not exist");
    await waitFor(async () => (await store.folderList())[0]?.watchers[0]?.lastError, {
      what: "the error to be recorded",
    });
    expect((await store.folderList())[0]?.watchers[0]?.lastError).toContain("does not exist");
    await watcher.close();
    expect((await store.folderList())[0]?.watchers).toEqual([]);
  });
});
