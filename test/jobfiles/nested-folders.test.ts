/**
 * Synced folders never nest, on every backend: a folder inside another one synced into the
 * same store, or holding one, would declare the inner folder's files a second time under
 * other ids (`team/x` and `x`), so `sync` and a starting watcher refuse it. Paths compare
 * as real paths; a folder gone from disk, or one that declares nothing any more, does not
 * count; a re-pointed symlinked folder is still one folder.
 */

import { expect, setDefaultTimeout, test } from "bun:test";
import { mkdirSync, renameSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { UserError } from "../../src/core/errors.ts";
import { assertNotNested } from "../../src/jobfiles/folder-nesting.ts";
import { assertNotWatched, folderKey } from "../../src/jobfiles/sync-record.ts";
import { startWatcher } from "../../src/jobfiles/watch.ts";
import { refused, runCli, waitFor } from "../helpers/cli.ts";
import { type BackendTest, forEachBackend, sync } from "./helpers.ts";

// Real processes on a busy two-core machine: generous, not the 5 s default.
setDefaultTimeout(60_000);

async function refusal(promise: Promise<unknown>): Promise<UserError> {
  const error = await promise.then(
    () => null,
    (caught: unknown) => caught,
  );
  if (!(error instanceof UserError)) throw new Error(`expected a UserError, got ${String(error)}`);
  return error;
}

async function ids(t: BackendTest): Promise<string[]> {
  return (await t.store.jobList({})).map((job) => `${job.id} ${job.state}`).sort();
}

forEachBackend("nested folders", (t) => {
  test("a folder inside a synced one is refused, dry run too, naming the outer one", async () => {
    await t.setUp();
    t.fixture.write("team/x.yaml", "command: echo x\n");
    await sync(t.store, t.fixture.dir);
    const team = join(t.fixture.dir, "team");
    const error = await refusal(sync(t.store, team));
    expect(error.message).toBe(
      `the jobs folder ${team} lies inside ${t.fixture.root}, also synced into this store: its files would be queued twice, under two ids`,
    );
    expect(error.hint).toBe(`sync only ${t.fixture.root} (it reads team/ too), or move ${team} out of it`);
    await refusal(sync(t.store, team, { dryRun: true }));
    expect(await ids(t)).toEqual(["team/x pending"]);
    const cli = await runCli(["sync", team], { env: t.fixture.env });
    refused(cli, `lies inside ${t.fixture.root}`);
    // A file of the synced folder named as a folder is no folder, before it is a nested one.
    const file = join(team, "x.yaml");
    expect((await refusal(sync(t.store, file))).message).toBe(`${file} is not a folder`);
  });

  test("a folder holding a synced one is refused until the inner one declares nothing", async () => {
    await t.setUp();
    t.fixture.write("team/x.yaml", "command: echo x\n");
    const team = join(t.fixture.root, "team");
    await sync(t.store, team);
    const error = await refusal(sync(t.store, t.fixture.dir));
    expect(error.message).toContain(`holds ${team}, also synced into this store`);
    expect(error.hint).toContain(`empty ${team}, sync it`);
    expect(await ids(t)).toEqual(["x pending"]);
    // The way out the hint gives: the inner folder synced empty, its files put back.
    renameSync(join(team, "x.yaml"), join(t.fixture.home, "x.yaml"));
    await sync(t.store, team);
    renameSync(join(t.fixture.home, "x.yaml"), join(team, "x.yaml"));
    expect((await sync(t.store, t.fixture.dir)).applied?.create).toEqual(["team/x"]);
    expect(await ids(t)).toEqual(["team/x pending", "x canceled"]);
  });

  test("a folder the outer one never reads (a dot-folder such as .worktrees) is not nested", async () => {
    await t.setUp();
    t.fixture.write("a.yaml", "command: echo a\n");
    t.fixture.write(".worktrees/feat/b.yaml", "command: echo b\n");
    await sync(t.store, t.fixture.dir);
    const feature = join(t.fixture.dir, ".worktrees", "feat");
    expect((await sync(t.store, feature)).applied?.create).toEqual(["b"]);
    // And the other way round: the root synced after the dot-folder is not refused either.
    expect((await sync(t.store, t.fixture.dir)).plan.errors).toEqual([]);
  });

  test("paths compare as real paths; a folder beside it, or gone from disk, does not count", async () => {
    await t.setUp();
    t.fixture.write("team/x.yaml", "command: echo x\n");
    await sync(t.store, t.fixture.dir);
    const link = join(t.fixture.home, "team-link");
    symlinkSync(join(t.fixture.root, "team"), link);
    expect((await refusal(sync(t.store, link))).message).toContain(`lies inside ${t.fixture.root}`);
    // `jobs-old` starts as `jobs` does, but lies beside it. Its subfolder, synced first and
    // then gone from disk, no longer holds it back.
    const sibling = join(t.fixture.home, "jobs-old");
    mkdirSync(join(sibling, "sub"), { recursive: true, mode: 0o700 });
    writeFileSync(join(sibling, "sub", "y.yaml"), "command: echo y\n", { mode: 0o600 });
    await sync(t.store, join(sibling, "sub"));
    expect((await refusal(sync(t.store, sibling))).message).toContain(`holds ${join(sibling, "sub")}`);
    rmSync(join(sibling, "sub"), { recursive: true });
    writeFileSync(join(sibling, "old.yaml"), "command: echo old\n", { mode: 0o600 });
    expect((await sync(t.store, sibling)).applied?.create).toEqual(["old"]);
  });

  test("a watcher is refused at start, and so is `worker start --watch` before anything starts", async () => {
    await t.setUp();
    t.fixture.write("team/x.yaml", "command: echo x\n");
    await sync(t.store, t.fixture.dir);
    const team = join(t.fixture.dir, "team");
    const started = startWatcher({ store: t.store, dir: team });
    started.then((watcher) => watcher.close()).catch(() => {});
    expect((await refusal(started)).message).toContain(`lies inside ${t.fixture.root}`);
    // What `worker start --watch` checks before it starts anything.
    const check = { now: Date.now(), host: "here", isProcessAlive: () => true };
    await assertNotWatched(t.store, folderKey(team), check);
    expect((await refusal(assertNotNested(t.store, folderKey(team)))).message).toContain("lies inside");
    const cli = await runCli(["worker", "start", "--watch", team], { env: t.fixture.env });
    refused(cli, "lies inside");
    expect(await t.store.folderList()).toHaveLength(1);
  });

  test("an empty folder inside counts while watched; a running watcher refuses once one inside comes back", async () => {
    await t.setUp();
    t.fixture.write("top.yaml", "command: echo top\n");
    const team = join(t.fixture.dir, "team");
    mkdirSync(team, { mode: 0o700 });
    // A watcher of the empty folder inside: the first file dropped in would be declared twice.
    const inner = await startWatcher({ store: t.store, dir: team });
    try {
      const started = startWatcher({ store: t.store, dir: t.fixture.dir });
      started.then((watcher) => watcher.close()).catch(() => {});
      expect((await refusal(started)).message).toContain(`holds ${team}`);
    } finally {
      await inner.close();
    }
    t.fixture.write("team/x.yaml", "command: echo x\n");
    await sync(t.store, team);
    // Gone from disk (a checkout of a branch without it): the outer folder may be watched.
    renameSync(team, `${t.fixture.dir}-team`);
    const errors: string[] = [];
    const outer = await startWatcher({
      store: t.store,
      dir: t.fixture.dir,
      onError: (error) => errors.push(String((error as Error).message)),
    });
    try {
      await waitFor(async () => (await ids(t)).includes("top pending"), {
        what: "the outer folder's first sync",
      });
      // Back (the checkout of the branch that has it): the watcher must not declare team/x.
      renameSync(`${t.fixture.dir}-team`, team);
      await waitFor(() => errors.some((message) => message.includes(`holds ${team}`)), {
        what: "the outer watcher's refusal",
      });
      expect(await ids(t)).toEqual(["top pending", "x pending"]);
    } finally {
      await outer.close();
    }
  });

  test("a re-pointed symlinked folder keeps syncing; the folder holding its targets is refused", async () => {
    await t.setUp();
    const releases = join(t.fixture.home, "releases");
    for (const release of ["v2", "v3"]) {
      mkdirSync(join(releases, release), { recursive: true, mode: 0o700 });
      writeFileSync(join(releases, release, "a.yaml"), `command: echo ${release}\n`, { mode: 0o600 });
    }
    rmSync(t.fixture.dir, { recursive: true });
    symlinkSync(join(releases, "v2"), t.fixture.dir);
    await sync(t.store, t.fixture.dir);
    symlinkSync(join(releases, "v3"), `${t.fixture.dir}.new`);
    renameSync(`${t.fixture.dir}.new`, t.fixture.dir);
    const relinked = await sync(t.store, t.fixture.dir);
    expect(relinked.plan.changes.map((change) => change.adopt?.reason)).toEqual(["relinked"]);
    expect((await refusal(sync(t.store, releases))).message).toContain(`holds ${t.fixture.dir}`);
  });
});
