/**
 * The embedded watcher on a real folder and a real SQLite file: what editors, atomic
 * writers and half-finished writes do to a jobs folder, restarts, and two watchers at once.
 */

import { afterEach, describe, expect, setDefaultTimeout, test } from "bun:test";
import { appendFileSync, linkSync, mkdirSync, renameSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { JobfileWatcher, WatcherOptions } from "../../src/jobfiles/watch.ts";
import { waitFor } from "../helpers/cli.ts";
import { completeAll, type JobsFixture, jobOf, jobsFixture, NOTHING_APPLIED, sync } from "./helpers.ts";
import { all, commandOf, startWatched, type Watched } from "./watch-helpers.ts";

// Real processes on a busy two-core machine: generous, not the 5 s default.
setDefaultTimeout(60_000);

let fixture: JobsFixture;
const running: JobfileWatcher[] = [];

afterEach(async () => {
  for (const watcher of running.splice(0)) await watcher.close();
  fixture?.cleanup();
});

function watch(extra: Partial<WatcherOptions> = {}): Promise<Watched> {
  return startWatched(fixture, running, extra);
}

describe("startWatcher", () => {
  test("syncs at start, then queues dropped files, edits and removals", async () => {
    fixture = jobsFixture();
    fixture.write("early.yaml", "command: echo early\n");
    fixture.backdate("early.yaml");
    const { store, outcomes } = await watch();
    expect(outcomes[0]?.applied?.create).toEqual(["early"]);

    fixture.write("dropped.yaml", "command: echo dropped\n");
    await waitFor(() => store.jobGet({ id: "dropped" }), { what: "the dropped file to be queued" });
    fixture.write("dropped.yaml", "command: echo edited\n");
    await waitFor(async () => (await commandOf(store, "dropped")) === "echo edited", { what: "the edit" });
    fixture.remove("early.yaml");
    await waitFor(async () => (await jobOf(store, "early")).state === "canceled", { what: "the removal" });
  });

  test("a half-written file is waited out: written in two chunks, it is queued once, whole", async () => {
    fixture = jobsFixture();
    const { store, outcomes } = await watch({ settleMs: 300 });
    const path = join(fixture.dir, "slow.yaml");
    writeFileSync(path, "command: echo first-half");
    await Bun.sleep(60); // the writer pauses mid-file, well inside the settle time
    appendFileSync(path, "-second-half\ntags: [slow]\n");
    await waitFor(() => store.jobGet({ id: "slow" }), { what: "the file to be queued" });
    expect(await jobOf(store, "slow")).toMatchObject({
      spec: { command: "echo first-half-second-half", tags: ["slow"] },
    });
    expect(all(outcomes, (o) => o.applied?.create ?? [])).toEqual(["slow"]);
    expect(all(outcomes, (o) => o.applied?.replace ?? [])).toEqual([]);
  });

  test("an atomic rename-over counts as a change", async () => {
    fixture = jobsFixture();
    fixture.write("a.yaml", "command: echo v1\n");
    const { store, outcomes } = await watch();
    for (const [temp, version] of [
      [".a.yaml.tmp-1234", "v2"],
      ["a.yaml.tmp", "v3"],
    ] as const) {
      writeFileSync(join(fixture.dir, temp), `command: echo ${version}\n`);
      renameSync(join(fixture.dir, temp), join(fixture.dir, "a.yaml"));
      await waitFor(async () => (await commandOf(store, "a")) === `echo ${version}`, {
        what: `rename-over to ${version}`,
      });
    }
    expect(all(outcomes, (o) => o.plan.errors)).toEqual([]);
    expect(all(outcomes, (o) => o.plan.changes.filter((c) => c.action === "cancel"))).toEqual([]);
  });

  test("a vim save (probe file, swap file, backup by rename) changes only the job", async () => {
    fixture = jobsFixture();
    fixture.write("a.yaml", "command: echo before\n");
    const { store, outcomes } = await watch();
    const at = (name: string) => join(fixture.dir, name);
    writeFileSync(at(".a.yaml.swp"), Buffer.from([0x62, 0x30, 0, 0, 0xff, 0xfe]));
    writeFileSync(at("4913"), "");
    rmSync(at("4913"));
    renameSync(at("a.yaml"), at("a.yaml~"));
    writeFileSync(at("a.yaml"), "command: echo after\n");
    rmSync(at(".a.yaml.swp"));
    await waitFor(async () => (await commandOf(store, "a")) === "echo after", { what: "vim's write" });
    expect(all(outcomes, (o) => o.plan.errors)).toEqual([]);
    expect(all(outcomes, (o) => o.plan.changes.filter((c) => c.action === "cancel"))).toEqual([]);
    expect((await store.jobList({})).map((job) => job.id)).toEqual(["a"]);
  });

  test("an emacs save (lock symlink, autosave file, backup) changes only the job", async () => {
    fixture = jobsFixture();
    fixture.write("a.yaml", "command: echo before\n");
    const { store, outcomes } = await watch();
    const at = (name: string) => join(fixture.dir, name);
    symlinkSync("user@host.1234:1700000000", at(".#a.yaml"));
    writeFileSync(at("#a.yaml#"), "command: echo half-ty");
    writeFileSync(at("a.yaml~"), "command: echo before\n");
    writeFileSync(at("a.yaml"), "command: echo after\n");
    rmSync(at("#a.yaml#"));
    rmSync(at(".#a.yaml"));
    await waitFor(async () => (await commandOf(store, "a")) === "echo after", { what: "emacs's write" });
    expect(all(outcomes, (o) => o.plan.errors)).toEqual([]);
    expect((await store.jobList({})).map((job) => job.id)).toEqual(["a"]);
  });

  test("the periodic full re-sync catches a change no event reported", async () => {
    fixture = jobsFixture();
    // A jobfile with a second name (a hard link) outside the folder: an edit through that
    // name changes the file in place, and the folder's watch hears nothing of it; only a
    // full re-sync can see it.
    fixture.write("linked.yaml", "command: echo v1\n");
    const outside = join(fixture.home, "same-file.yaml");
    linkSync(join(fixture.dir, "linked.yaml"), outside);
    fixture.backdate("linked.yaml");
    const { store } = await watch({ resyncMs: 400 });
    expect(await commandOf(store, "linked")).toBe("echo v1");
    writeFileSync(outside, "command: echo v2\n");
    await waitFor(async () => (await commandOf(store, "linked")) === "echo v2", {
      what: "the periodic re-sync",
    });
  });

  test("an edit of a link's target in a hidden folder of the tree updates the link's job without waiting for the re-sync", async () => {
    fixture = jobsFixture();
    mkdirSync(join(fixture.dir, ".shared"), { mode: 0o700 });
    writeFileSync(join(fixture.dir, ".shared", "real.yaml"), "command: echo v1\n", { mode: 0o600 });
    symlinkSync(join(".shared", "real.yaml"), join(fixture.dir, "linked.yaml"));
    fixture.backdate(".shared/real.yaml");
    const { store } = await watch();
    expect(await commandOf(store, "linked")).toBe("echo v1");
    writeFileSync(join(fixture.dir, ".shared", "real.yaml"), "command: echo v2\n");
    await waitFor(async () => (await commandOf(store, "linked")) === "echo v2", {
      what: "the link's job to follow its hidden target",
    });
    // The hidden target itself declares no job.
    expect((await store.jobList({})).map((job) => job.id)).toEqual(["linked"]);
  });

  test("an edit of a file that a symlinked jobfile points at updates both, without waiting for the re-sync", async () => {
    fixture = jobsFixture();
    fixture.write("real.yaml", "command: echo v1\n");
    symlinkSync("real.yaml", join(fixture.dir, "alias.yaml"));
    fixture.backdate("real.yaml");
    const { store } = await watch();
    expect(await commandOf(store, "alias")).toBe("echo v1");
    fixture.write("real.yaml", "command: echo v2\n");
    await waitFor(async () => (await commandOf(store, "alias")) === "echo v2", {
      what: "the link's job to follow",
    });
    expect(await commandOf(store, "real")).toBe("echo v2");
  });

  test("the periodic re-sync takes an id back once the folder that owned it lets go of it", async () => {
    fixture = jobsFixture();
    const other = join(fixture.home, "other-jobs");
    mkdirSync(other, { mode: 0o700 });
    writeFileSync(join(other, "x.yaml"), "command: echo other\n", { mode: 0o600 });
    const store = await fixture.store();
    expect((await sync(store, other)).applied?.create).toEqual(["x"]);
    fixture.write("x.yaml", "command: echo mine\n");
    fixture.backdate("x.yaml");
    const { outcomes } = await watch({ resyncMs: 300 });
    expect(outcomes[0]?.plan.errors[0]?.message).toContain('id "x" belongs to the jobs folder');
    // No event in the watched folder: only its re-sync can see that the other one let go.
    rmSync(join(other, "x.yaml"));
    await sync(store, other);
    await waitFor(async () => (await commandOf(store, "x")) === "echo mine", {
      what: "the re-sync to take x",
    });
  });

  test("a watcher restart duplicates nothing", async () => {
    fixture = jobsFixture();
    for (const name of ["a", "b", "c"]) fixture.write(`${name}.yaml`, `command: echo ${name}\n`);
    fixture.backdate("a.yaml", "b.yaml", "c.yaml");
    const first = await watch();
    expect(await completeAll(first.store)).toEqual(["a", "b", "c"]);
    await first.watcher.close();

    const second = await watch();
    expect(second.outcomes[0]?.plan.unchanged).toHaveLength(3);
    expect(second.outcomes[0]?.applied).toEqual(NOTHING_APPLIED);
    expect((await second.store.jobList({})).map((job) => job.state)).toEqual([
      "completed",
      "completed",
      "completed",
    ]);
  });

  test("two watchers on one folder duplicate nothing", async () => {
    fixture = jobsFixture();
    const one = await watch();
    const two = await watch();
    const names = Array.from({ length: 8 }, (_, i) => `job-${i}`);
    for (const name of names) fixture.write(`${name}.yaml`, `command: echo ${name}\n`);
    await waitFor(async () => (await one.store.jobList({})).length === names.length, {
      what: "all files queued",
    });
    await Promise.all([one.watcher.syncNow(), two.watcher.syncNow()]);
    const created = [
      ...all(one.outcomes, (o) => o.applied?.create ?? []),
      ...all(two.outcomes, (o) => o.applied?.create ?? []),
    ];
    expect(created.sort()).toEqual(names);

    expect(await completeAll(one.store)).toEqual(names);
    for (const name of names) fixture.write(`${name}.yaml`, `# touched\ncommand: "echo ${name}"\n`);
    fixture.backdate(...names.map((name) => `${name}.yaml`));
    const [a, b] = await Promise.all([one.watcher.syncNow(), two.watcher.syncNow()]);
    expect([a?.plan.unchanged.length, b?.plan.unchanged.length]).toEqual([names.length, names.length]);
    const updated = [
      ...all(one.outcomes, (o) => o.applied?.replace ?? []),
      ...all(two.outcomes, (o) => o.applied?.replace ?? []),
    ];
    expect(updated).toEqual([]);
    expect(new Set((await one.store.jobList({})).map((job) => job.state))).toEqual(new Set(["completed"]));
  });

  test("refuses a missing folder at start", async () => {
    fixture = jobsFixture();
    rmSync(fixture.dir, { recursive: true });
    await expect(watch()).rejects.toThrow("does not exist");
  });
});
