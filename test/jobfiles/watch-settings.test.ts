/**
 * A watcher and a checkout that changes the folder's namespace: the new namespace is
 * applied only with the files of the same checkout, whichever git writes first, and not
 * while git still holds its index lock. Real folder, real SQLite file, real fs events.
 */

import { afterEach, describe, expect, setDefaultTimeout, test } from "bun:test";
import { linkSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { gitIndexLockOf, SettingsChangeHold } from "../../src/jobfiles/settings-change.ts";
import type { SyncOutcome } from "../../src/jobfiles/sync-outcome.ts";
import { type JobfileWatcher, startWatcher } from "../../src/jobfiles/watch.ts";
import type { Store } from "../../src/store/store.ts";
import { waitFor } from "../helpers/cli.ts";
import { wrappedStore } from "../worker/in-process.ts";
import { type JobsFixture, jobsFixture } from "./helpers.ts";
import { commandOf, dropSettled, startWatched } from "./watch-helpers.ts";

setDefaultTimeout(60_000);

let fixture: JobsFixture;
const running: JobfileWatcher[] = [];

afterEach(async () => {
  for (const watcher of running.splice(0)) await watcher.close();
  fixture?.cleanup();
});

const SETTLE_MS = 200;
/** What each commit declares: any other (id, command) pair is a job no commit declares. */
const COMMITTED = new Set(["a=echo main-a", "b=echo main-b", "ns/a=echo ns-a", "ns/b=echo ns-b"]);

function declaredPairs(outcomes: SyncOutcome[]): string[] {
  return outcomes.flatMap((outcome) =>
    outcome.plan.changes.flatMap((change) => (change.job ? [`${change.id}=${change.job.spec.command}`] : [])),
  );
}

async function mainCheckedOut(): Promise<{ store: Store; outcomes: SyncOutcome[] }> {
  fixture = jobsFixture();
  dropSettled(fixture.dir, "a.yaml", "command: echo main-a\n");
  dropSettled(fixture.dir, "b.yaml", "command: echo main-b\n");
  const { store, outcomes } = await startWatched(fixture, running, { settleMs: SETTLE_MS });
  expect(await commandOf(store, "a")).toBe("echo main-a");
  return { store, outcomes };
}

function writeNamespace(): void {
  writeFileSync(join(fixture.dir, ".queuectl.yaml"), "namespace: ns\n");
}

function writeNamespacedFiles(): void {
  writeFileSync(join(fixture.dir, "a.yaml"), "command: echo ns-a\n");
  writeFileSync(join(fixture.dir, "b.yaml"), "command: echo ns-b\n");
}

async function nsApplied(store: Store): Promise<void> {
  await waitFor(
    async () =>
      (await commandOf(store, "ns/a")) === "echo ns-a" && (await commandOf(store, "ns/b")) === "echo ns-b",
    { what: "the checkout's jobs under the new namespace" },
  );
}

describe("a watcher and a checkout that changes the namespace", () => {
  for (const order of ["settings file first", "jobfiles first"] as const) {
    test(`pairs the namespace only with its own files (${order})`, async () => {
      const { store, outcomes } = await mainCheckedOut();
      const [first, second] =
        order === "settings file first"
          ? [writeNamespace, writeNamespacedFiles]
          : [writeNamespacedFiles, writeNamespace];
      first();
      // Part of the scenario, not a wait for a condition: git writes a checkout over some time.
      await Bun.sleep(50);
      second();
      await nsApplied(store);
      const strays = declaredPairs(outcomes).filter((pair) => !COMMITTED.has(pair));
      expect(strays).toEqual([]);
    });
  }

  test("a new namespace a path sync meets before its event is applied by a full sync, never beside one file", async () => {
    const { store, outcomes } = await mainCheckedOut();
    // Written through a second link outside the folder: the folder's watch hears nothing of
    // it, as when a checkout's events are still on their way when a path sync reads them.
    const settings = join(fixture.dir, ".queuectl.yaml");
    writeFileSync(settings, "");
    await waitFor(() => outcomes.length > 1, { what: "the empty settings file's sync" });
    const outside = join(fixture.home, "settings-link.yaml");
    linkSync(settings, outside);
    writeFileSync(outside, "namespace: ns\n");
    writeFileSync(join(fixture.dir, "b.yaml"), "command: echo ns-b\n");
    await waitFor(async () => (await commandOf(store, "ns/b")) === "echo ns-b", { what: "b under ns" });
    // The same plan renamed a: a path sync of b.yaml alone would have left it as "a".
    expect(await commandOf(store, "ns/a")).toBe("echo main-a");
    const strays = declaredPairs(outcomes).filter(
      (pair) => !pair.startsWith("ns/") && pair !== "a=echo main-a" && pair !== "b=echo main-b",
    );
    expect(strays).toEqual([]);
  });

  test("a new namespace no event announced is applied by the periodic re-sync", async () => {
    fixture = jobsFixture();
    dropSettled(fixture.dir, "a.yaml", "command: echo main-a\n");
    const settings = join(fixture.dir, ".queuectl.yaml");
    writeFileSync(settings, "");
    const { store } = await startWatched(fixture, running, { settleMs: SETTLE_MS, resyncMs: 300 });
    expect(await commandOf(store, "a")).toBe("echo main-a");
    const outside = join(fixture.home, "settings-link.yaml");
    linkSync(settings, outside);
    writeFileSync(outside, "namespace: ns\n");
    await waitFor(async () => (await commandOf(store, "ns/a")) === "echo main-a", { what: "a under ns" });
  });

  test("a checkout landing while a full sync reads the files waits for the folder to settle", async () => {
    fixture = jobsFixture();
    dropSettled(fixture.dir, "a.yaml", "command: echo main-a\n");
    dropSettled(fixture.dir, "b.yaml", "command: echo main-b\n");
    const inner = await fixture.store();
    let checkedOut = false;
    // The first sync reads the files, then asks the store for its schedules: the checkout
    // lands in between, settings file first, as git writes it.
    const store = wrappedStore(inner, (name, method) =>
      name === "scheduleList"
        ? () => {
            if (!checkedOut) {
              checkedOut = true;
              writeNamespace();
              writeNamespacedFiles();
            }
            return method();
          }
        : null,
    );
    const outcomes: SyncOutcome[] = [];
    running.push(
      await startWatcher({ store, dir: fixture.dir, settleMs: SETTLE_MS, onSync: (o) => outcomes.push(o) }),
    );
    await nsApplied(inner);
    expect(checkedOut).toBe(true);
    expect(declaredPairs(outcomes).filter((pair) => !COMMITTED.has(pair))).toEqual([]);
  });

  test("a checkout there and back while a path sync reads the files waits for the folder to settle", async () => {
    fixture = jobsFixture();
    writeNamespace();
    dropSettled(fixture.dir, "a.yaml", "command: echo ns-a\n");
    dropSettled(fixture.dir, "b.yaml", "command: echo ns-b\n");
    let armed = false;
    let reads = 0;
    // The hook: the clock as the second file's read asks it, the first file read by then.
    // The checkout goes back to the namespaced commit, settings file first, as git writes it.
    const now = () => {
      if (armed && new Error().stack?.includes("readSettled") && ++reads === 2) {
        armed = false;
        writeNamespace();
        writeNamespacedFiles();
      }
      return Date.now();
    };
    const { store, outcomes } = await startWatched(fixture, running, { settleMs: 0, debounceMs: 200, now });
    await nsApplied(store);
    const syncsBefore = outcomes.length;
    armed = true;
    // A checkout of a commit with the same namespace and other files, heard as one burst.
    writeFileSync(join(fixture.dir, "a.yaml"), "command: echo main-a\n");
    writeFileSync(join(fixture.dir, "b.yaml"), "command: echo main-b\n");
    await waitFor(() => reads >= 2, { what: "the path sync to read both files" });
    // The first sync applied since: the path sync's, or the one that ended the hold.
    await waitFor(() => outcomes.length > syncsBefore, { what: "a sync of the checkout" });
    await nsApplied(store);
    expect(declaredPairs(outcomes).filter((pair) => !COMMITTED.has(pair))).toEqual([]);
  });

  test("waits while git holds its index lock, then applies the folder as it stands", async () => {
    const { store } = await mainCheckedOut();
    const gitDir = join(fixture.home, ".git");
    mkdirSync(gitDir);
    writeFileSync(join(gitDir, "index.lock"), "");
    expect(gitIndexLockOf(fixture.dir)).toBe(join(gitDir, "index.lock"));
    writeNamespace();
    writeNamespacedFiles();
    const heldUntil = Date.now() + SETTLE_MS * 4;
    await waitFor(() => Date.now() >= heldUntil, { what: "four settle times with the lock held" });
    expect(await store.jobGet({ id: "ns/a" })).toBeNull();
    rmSync(join(gitDir, "index.lock"));
    await nsApplied(store);
  });

  test("a linked work tree's lock is found through its .git file", () => {
    fixture = jobsFixture();
    const linked = join(fixture.home, "admin", "worktrees", "w1");
    mkdirSync(linked, { recursive: true });
    writeFileSync(join(fixture.home, ".git"), `gitdir: ${linked}\n`);
    expect(gitIndexLockOf(fixture.dir)).toBe(join(linked, "index.lock"));
    writeFileSync(join(fixture.home, ".git"), "gitdir: admin/worktrees/w1\n");
    expect(gitIndexLockOf(fixture.dir)).toBe(join(linked, "index.lock"));
  });

  test("a settings file rewritten without pause still ends the hold at its longest", async () => {
    fixture = jobsFixture();
    let applied = 0;
    let atLongest = false;
    const hold = new SettingsChangeHold({
      root: () => fixture.dir,
      quietMs: 100,
      maxHoldMs: 400,
      onQuiet: (longest) => {
        applied++;
        atLongest = longest;
      },
    });
    const rewrites = setInterval(() => hold.settingsChanged(), 30);
    try {
      hold.settingsChanged();
      await waitFor(() => applied > 0, { what: "the hold to end while the file is still being rewritten" });
      expect(atLongest).toBe(true);
    } finally {
      clearInterval(rewrites);
      hold.close();
    }
  });

  test("a watcher whose settings file is rewritten without pause still syncs the folder at the hold's longest", async () => {
    fixture = jobsFixture();
    const settings = join(fixture.dir, ".queuectl.yaml");
    writeFileSync(settings, "# no namespace\n");
    // Enough files that a full sync's reads take longer than the rewrites' pace.
    for (let index = 0; index < 300; index++) dropSettled(fixture.dir, `a${index}.yaml`, "command: echo a\n");
    // Another process rewrites it without pause from before the watcher starts: every whole-folder
    // sync sees its stamp change under it, and no event names a jobfile for a path sync.
    const rewriter = Bun.spawn([
      "sh",
      "-c",
      `i=0; while :; do echo "# $i" > '${settings}'; i=$((i+1)); done`,
    ]);
    try {
      const { store } = await startWatched(fixture, running, { settleMs: SETTLE_MS, maxSettingsHoldMs: 500 });
      await waitFor(async () => (await commandOf(store, "a299")) === "echo a", {
        timeoutMs: 20_000,
        what: "the folder queued by the sync that ends the hold at its longest",
      });
    } finally {
      rewriter.kill("SIGKILL");
      await rewriter.exited;
    }
  });
});
