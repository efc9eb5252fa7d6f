/**
 * A namespaced folder's `after` entries name its own jobs even while the file declaring one
 * cannot be read (a merge conflict, a syntax error): that file keeps its jobs, so a finished
 * sibling waiting on it stays as it is, never queued again to wait on another folder's job
 * of the bare id, and never refused as waiting on a job nobody declares. By `sync` and by a
 * watcher, on every backend.
 */

import { afterEach, expect, setDefaultTimeout, test } from "bun:test";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { JobfileWatcher } from "../../src/jobfiles/watch.ts";
import { waitFor } from "../helpers/cli.ts";
import { type BackendTest, completeAll, forEachBackend, jobOf, sync } from "./helpers.ts";
import { dropSettled, startWatched } from "./watch-helpers.ts";

setDefaultTimeout(60_000);

const CONFLICTED = "<<<<<<< HEAD\ncommand: echo x\n=======\ncommand: echo y\n>>>>>>> feat\n";

const running: JobfileWatcher[] = [];
afterEach(async () => {
  for (const watcher of running.splice(0)) await watcher.close();
});

/** The blog folder (namespace blog, lint after build), and a shop folder beside it that declares a bare `build`. */
async function blogAndShop(t: BackendTest, withShop: boolean): Promise<void> {
  await t.setUp();
  dropSettled(t.fixture.dir, ".queuectl.yaml", "namespace: blog\n");
  dropSettled(t.fixture.dir, "build.yaml", "command: echo blog-build\n");
  dropSettled(t.fixture.dir, "lint.yaml", "command: echo blog-lint\nafter: [build]\n");
  if (withShop) {
    const shop = join(t.fixture.home, "shop");
    mkdirSync(shop, { mode: 0o700 });
    writeFileSync(join(shop, "build.yaml"), "command: echo shop-build\n", { mode: 0o600 });
    await sync(t.store, shop);
  }
  await sync(t.store, t.fixture.dir);
  expect((await jobOf(t.store, "blog/lint")).spec.after).toEqual(["blog/build"]);
  // Build first, then lint, which waited for it.
  while ((await completeAll(t.store)).length > 0);
  expect((await jobOf(t.store, "blog/lint")).state).toBe("completed");
}

forEachBackend("a namespaced folder with a file it cannot read", (t) => {
  for (const withShop of [true, false]) {
    const beside = withShop ? "with another folder's bare `build` beside it" : "alone";
    test(`sync: the conflicted file's job keeps its sibling's after in the namespace (${beside})`, async () => {
      await blogAndShop(t, withShop);
      const lint = await jobOf(t.store, "blog/lint");
      t.fixture.write("build.yaml", CONFLICTED);
      const outcome = await sync(t.store, t.fixture.dir);
      expect(outcome.plan.errors.map((error) => [error.file, error.message])).toEqual([
        ["build.yaml", "has an unresolved git merge conflict"],
      ]);
      expect(outcome.plan.changes).toEqual([]);
      expect(await jobOf(t.store, "blog/lint")).toMatchObject({
        revision: lint.revision,
        state: "completed",
      });
      t.fixture.write("build.yaml", "command: [echo, blog-build\n");
      expect((await sync(t.store, t.fixture.dir)).plan.changes).toEqual([]);
    });
  }

  test("watch: a conflict appearing in the file changes nothing else", async () => {
    await blogAndShop(t, true);
    const lint = await jobOf(t.store, "blog/lint");
    const { outcomes, errors } = await startWatched(t.fixture, running, { settleMs: 100 });
    await waitFor(() => outcomes.length > 0, { what: "the watcher's first sync" });
    dropSettled(t.fixture.dir, "build.yaml", CONFLICTED);
    await waitFor(() => outcomes.some((outcome) => outcome.plan.errors.length > 0), {
      what: "the watcher to see the conflict",
    });
    expect(outcomes.flatMap((outcome) => outcome.plan.changes)).toEqual([]);
    expect(errors).toEqual([]);
    expect(await jobOf(t.store, "blog/lint")).toMatchObject({ revision: lint.revision, state: "completed" });
  });
});
