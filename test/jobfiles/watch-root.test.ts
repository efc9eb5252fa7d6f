/**
 * A jobs folder that vanishes, is swapped for another or opened to every user while it is
 * read: nothing read from it then is applied. A file under a moved folder only seems
 * removed, and a settings file under it only seems absent (which would drop the namespace
 * and queue completed work again under new ids).
 */

import { afterEach, describe, expect, setDefaultTimeout, test } from "bun:test";
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  renameSync,
  rmSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { UserError } from "../../src/core/errors.ts";
import { FolderModel } from "../../src/jobfiles/folder-model.ts";
import { type Reading, refreshFromScan, refreshPath } from "../../src/jobfiles/folder-refresh.ts";
import { readFolderSettings, SETTINGS_FILE } from "../../src/jobfiles/folder-settings.ts";
import { identifyJobsFolder, scanJobsFolder, whyFolderChanged } from "../../src/jobfiles/scan.ts";
import type { SyncOutcome } from "../../src/jobfiles/sync-outcome.ts";
import { startWatcher } from "../../src/jobfiles/watch.ts";
import { waitFor } from "../helpers/cli.ts";
import { completeAll, forEachBackend, type JobsFixture, jobsFixture, sync } from "./helpers.ts";
import { dropSettled, startWatched } from "./watch-helpers.ts";

// Real processes on a busy two-core machine: generous, not the 5 s default.
setDefaultTimeout(60_000);

let fixture: JobsFixture;
afterEach(() => fixture?.cleanup());

/** The fixture's folder read into a model as the watcher reads it, and how the watcher reads. */
async function modelOf(dir: string): Promise<{ model: FolderModel; reading: Reading }> {
  const identity = await identifyJobsFolder(dir, false);
  const reading: Reading = {
    settleMs: 100,
    now: Date.now,
    allowSharedFolder: false,
    checkFolder: () => {
      const change = whyFolderChanged(dir, identity, false);
      if (change) throw change;
    },
  };
  const model = new FolderModel(identity.root);
  await refreshFromScan(model, await scanJobsFolder(identity.root, false), reading, []);
  return { model, reading };
}

function applied(outcomes: SyncOutcome[], action: "create" | "cancel" | "forget" | "replace"): string[] {
  return outcomes.flatMap((outcome) => outcome.applied?.[action] ?? []);
}

describe("a file under a folder that is gone or replaced", () => {
  test("is neither marked missing nor, once missing for the settle time, forgotten", async () => {
    fixture = jobsFixture();
    dropSettled(fixture.dir, "a.yaml", "command: echo a\n");
    dropSettled(fixture.dir, "b.yaml", "command: echo b\n");
    const { model, reading } = await modelOf(fixture.dir);
    model.files.set("b.yaml", { kind: "missing", since: Date.now() - 60_000, last: null });
    renameSync(fixture.dir, `${fixture.dir}.away`);
    for (const rel of ["a.yaml", "b.yaml"]) {
      await expect(refreshPath(model, rel, reading, [])).rejects.toThrow(
        `the jobs folder ${fixture.dir} does not exist`,
      );
    }
    expect(model.files.get("a.yaml")?.kind).toBe("parsed");
    expect(model.files.get("b.yaml")?.kind).toBe("missing");
  });

  test("under another folder put at the same path, is not marked missing either", async () => {
    fixture = jobsFixture();
    dropSettled(fixture.dir, "a.yaml", "command: echo a\n");
    const { model, reading } = await modelOf(fixture.dir);
    renameSync(fixture.dir, `${fixture.dir}.old`);
    mkdirSync(fixture.dir, { mode: 0o700 });
    await expect(refreshPath(model, "a.yaml", reading, [])).rejects.toThrow("was replaced");
    expect(model.files.get("a.yaml")?.kind).toBe("parsed");
  });

  test("the settings of a folder that is gone are an error, not `no namespace`", async () => {
    fixture = jobsFixture();
    writeFileSync(join(fixture.dir, SETTINGS_FILE), "namespace: ns\n");
    rmSync(fixture.dir, { recursive: true });
    const error = await readFolderSettings(fixture.dir).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(UserError);
    expect((error as UserError).message).toBe(`the jobs folder ${fixture.dir} does not exist`);
  });
});

forEachBackend("a folder gone or replaced mid-sync", (t) => {
  test("`sync`: a folder moved away or swapped while its files are read applies nothing", async () => {
    await t.setUp();
    writeFileSync(join(t.fixture.dir, SETTINGS_FILE), "namespace: ns\n");
    t.fixture.write("a.yaml", "command: echo a\n");
    t.fixture.write("b.yaml", "command: echo b\n");
    await sync(t.store, t.fixture.dir);
    const moveAway = () => renameSync(t.fixture.dir, `${t.fixture.dir}.away`);
    await expect(
      sync(t.store, t.fixture.dir, { onProgress: (done) => done === 1 && moveAway() }),
    ).rejects.toThrow("does not exist");
    renameSync(`${t.fixture.dir}.away`, t.fixture.dir);
    const swap = () => {
      renameSync(t.fixture.dir, `${t.fixture.dir}.old`);
      mkdirSync(t.fixture.dir, { mode: 0o700 });
    };
    await expect(
      sync(t.store, t.fixture.dir, { onProgress: (done) => done === 1 && swap() }),
    ).rejects.toThrow("was replaced");
    const jobs = await t.store.jobList({});
    expect(jobs.map((job) => `${job.id} ${job.state}`).sort()).toEqual(["ns/a pending", "ns/b pending"]);
  });

  test("the watcher: while its folder is away nothing is applied, and when it is back no completed job runs again", async () => {
    await t.setUp();
    writeFileSync(join(t.fixture.dir, SETTINGS_FILE), "namespace: ns\n");
    dropSettled(t.fixture.dir, "a.yaml", "command: echo a\n");
    dropSettled(t.fixture.dir, "b.yaml", "command: echo b\n");
    const { watcher, store, outcomes, errors } = await startWatched(t.fixture, []);
    try {
      expect(await completeAll(store)).toEqual(["ns/a", "ns/b"]);
      const away = `${t.fixture.dir}.away`;
      renameSync(t.fixture.dir, away);
      await waitFor(() => errors.length > 0, { what: "the missing folder to be reported" });
      // Queued after every sync the move's own events started, so none of them is counted below.
      await expect(watcher.syncNow()).rejects.toThrow("does not exist");
      // The tree is still watched where it went: a change there names a file the watcher's
      // path no longer holds, which must not read as the file (or its settings) removed.
      const [seenErrors, seenOutcomes] = [errors.length, outcomes.length];
      const now = new Date();
      utimesSync(join(away, "a.yaml"), now, now);
      await waitFor(() => errors.length > seenErrors || outcomes.length > seenOutcomes, {
        what: "the change in the moved folder to be handled",
      });
      expect(errors.every((error) => String((error as Error).message).includes("does not exist"))).toBe(true);

      const beforeReturn = outcomes.length;
      renameSync(away, t.fixture.dir);
      await waitFor(() => outcomes.length > beforeReturn, { what: "a sync once the folder is back" });
      await watcher.syncNow();
      for (const action of ["create", "cancel", "forget", "replace"] as const) {
        expect(applied(outcomes, action), action).toEqual(action === "create" ? ["ns/a", "ns/b"] : []);
      }
      const jobs = await store.jobList({});
      expect(jobs.map((job) => `${job.id} ${job.state}`).sort()).toEqual([
        "ns/a completed",
        "ns/b completed",
      ]);
      // A model dropped with its folder waits for no file: no error loop while the folder was away.
      expect(errors.length).toBeLessThan(10);
    } finally {
      await watcher.close();
    }
  });

  test("the watcher: a folder whose parent is renamed away and back is synced again soon, not at the periodic re-sync", async () => {
    await t.setUp();
    const repo = join(t.fixture.home, "repo");
    const dir = join(repo, "jobs");
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    dropSettled(dir, "a.yaml", "command: echo v1\n");
    const errors: unknown[] = [];
    const watcher = await startWatcher({ store: t.store, dir, onError: (error) => errors.push(error) });
    const command = async () => (await t.store.jobGet({ id: "a" }))?.spec.command;
    try {
      await waitFor(async () => (await command()) === "echo v1", { what: "the first sync" });
      renameSync(repo, `${repo}.away`);
      // The edits are heard where the tree went, and each sync finds the folder gone: however
      // many, they do not put the retry off.
      for (const version of ["v2a", "v2b", "v2c", "v2d", "v2e", "v2f", "v2g", "v2"]) {
        const seen = errors.length;
        dropSettled(join(`${repo}.away`, "jobs"), "a.yaml", `command: echo ${version}\n`);
        await waitFor(() => errors.length > seen, { what: `the missing folder reported for ${version}` });
      }
      // No event reaches the watcher: it watches the folder and its parent, not the parent's.
      renameSync(`${repo}.away`, repo);
      await waitFor(async () => (await command()) === "echo v2", { what: "the edit made while away" });
    } finally {
      await watcher.close();
    }
  });

  // On a disk file system (ext4) a folder deleted and made again at once usually gets its
  // inode number back; tmpfs, where the suite's temp folders are, never gives one back. So
  // this folder is made on disk when it can be.
  test("the watcher: a folder deleted and made again at once is watched again, though its inode number may be back", async () => {
    await t.setUp();
    const onDisk = mkdtempSync(join(existsSync("/var/tmp") ? "/var/tmp" : tmpdir(), "queuectl-watch-"));
    const dir = join(onDisk, "jobs");
    mkdirSync(dir, { mode: 0o700 });
    dropSettled(dir, "a.yaml", "command: echo a\n");
    const store = await t.fixture.store();
    const errors: unknown[] = [];
    // A full re-sync only after the deadline below: only the folder's watch can find c in time.
    const watcher = await startWatcher({
      store,
      dir,
      resyncMs: 600_000,
      onError: (error) => errors.push(error),
    });
    try {
      await waitFor(async () => (await store.jobGet({ id: "a" })) !== null, { what: "a to be queued" });
      rmSync(dir, { recursive: true });
      mkdirSync(dir, { mode: 0o700 });
      await waitFor(
        async () => (await store.jobGet({ id: "a" }))?.state === "canceled" || errors.length > 0,
        {
          what: "the removal of the folder's files to be seen",
        },
      );
      dropSettled(dir, "c.yaml", "command: echo c\n");
      await waitFor(async () => (await store.jobGet({ id: "c" })) !== null, {
        what: "c, dropped into the folder made again, to be queued",
        timeoutMs: 15_000,
      });
    } finally {
      await watcher.close();
      rmSync(onDisk, { recursive: true, force: true });
    }
  });

  test("the watcher applies nothing it read across a swap of its folder for another", async () => {
    await t.setUp();
    writeFileSync(join(t.fixture.dir, SETTINGS_FILE), "namespace: ns\n");
    dropSettled(t.fixture.dir, "a.yaml", "command: echo a\n");
    // The swap lands between reading the changed file and reading the settings: the one
    // moment no event can be timed to, so the store's first call of the apply makes it.
    let swapOnApply = false;
    const base = await t.fixture.store();
    const store = new Proxy(base, {
      get(target, key) {
        if (key === "configGetAll" && swapOnApply) {
          swapOnApply = false;
          renameSync(t.fixture.dir, `${t.fixture.dir}.old`);
          mkdirSync(t.fixture.dir, { mode: 0o700 });
        }
        const value = Reflect.get(target, key);
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
    const { watcher, outcomes, errors } = await startWatched(t.fixture, [], { store });
    try {
      swapOnApply = true;
      const seenOutcomes = outcomes.length;
      dropSettled(t.fixture.dir, "a.yaml", "command: echo a2\n");
      await waitFor(() => !swapOnApply && (errors.length > 0 || outcomes.length > seenOutcomes), {
        what: "the apply across the swap to end",
      });
      expect(errors.map((error) => String((error as Error).message))).toContain(
        `the jobs folder ${t.fixture.dir} was replaced by another one while it was read`,
      );
      await watcher.syncNow();
      expect(await base.jobGet({ id: "a" })).toBeNull();
      expect((await base.jobGet({ id: "ns/a" }))?.spec.command).toBe("echo a");
    } finally {
      await watcher.close();
    }
  });

  test("the watcher refuses a folder made writable by every user, as `sync` does, and applies nothing from it", async () => {
    await t.setUp();
    dropSettled(t.fixture.dir, "a.yaml", "command: echo a\n");
    const { watcher, store, outcomes, errors } = await startWatched(t.fixture, []);
    try {
      chmodSync(t.fixture.dir, 0o777);
      await waitFor(() => errors.length > 0, { what: "the shared folder to be refused" });
      await expect(watcher.syncNow()).rejects.toThrow("is writable by every user");
      const [seenErrors, seenOutcomes] = [errors.length, outcomes.length];
      dropSettled(t.fixture.dir, "evil.yaml", "command: echo evil\n");
      await waitFor(() => errors.length > seenErrors || outcomes.length > seenOutcomes, {
        what: "the new file's event to be handled",
      });
      expect(String((errors.at(-1) as Error).message)).toBe(
        `the jobs folder ${t.fixture.dir} is writable by every user`,
      );

      // Once the file is gone and the folder private again, the watcher carries on.
      rmSync(join(t.fixture.dir, "evil.yaml"));
      chmodSync(t.fixture.dir, 0o700);
      dropSettled(t.fixture.dir, "b.yaml", "command: echo b\n");
      await waitFor(() => store.jobGet({ id: "b" }), { what: "a file of the folder made private again" });
      expect(await store.jobGet({ id: "evil" })).toBeNull();
    } finally {
      await watcher.close();
    }
  });
});
