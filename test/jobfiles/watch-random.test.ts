/**
 * The watcher's event path against a full sync, on random edits: after every burst of
 * writes, removals and renames (duplicate ids, dependencies, cycles, broken files), once
 * the watcher has settled, a full `sync --dry-run` of the folder finds nothing to change and
 * the problems the store records for the folder are the ones a full sync reports.
 * The seed is printed; QUEUECTL_TEST_SEED=<n> replays a run.
 */

import { afterEach, expect, setDefaultTimeout, test } from "bun:test";
import { existsSync, renameSync, rmSync } from "node:fs";
import { join } from "node:path";
import { planHasChanges } from "../../src/jobfiles/plan.ts";
import { problemPlace } from "../../src/jobfiles/problem.ts";
import type { JobfileWatcher } from "../../src/jobfiles/watch.ts";
import { waitFor } from "../helpers/cli.ts";
import { seededRandom, testSeed } from "../helpers/seed.ts";
import { type JobsFixture, jobsFixture, sync } from "./helpers.ts";
import { dropSettled, startWatched } from "./watch-helpers.ts";

setDefaultTimeout(120_000);

let fixture: JobsFixture;
const running: JobfileWatcher[] = [];

afterEach(async () => {
  for (const watcher of running.splice(0)) await watcher.close();
  fixture?.cleanup();
});

const FILES = ["a.yaml", "b.yaml", "c.yaml", "sub/d.yaml", "sub/e.yaml"];
const IDS = ["x", "y", "z", "w"];

test("after random edits the watcher's syncs leave what a full sync would", async () => {
  const seed = testSeed("watch-random");
  const next = seededRandom(seed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)] as T;
  const jobText = (id: string) => {
    const after = next() < 0.3 ? `after: [${pick(IDS)}]\n` : "";
    return `id: ${id}\ncommand: echo ${Math.floor(next() * 3)}\n${after}`;
  };
  const fileText = (): string => {
    const roll = next();
    if (roll < 0.1) return "command: [unclosed\n";
    if (roll < 0.25)
      return `jobs:\n${[pick(IDS), pick(IDS)].map((id) => `  - ${jobText(id).replaceAll("\n", "\n    ").trimEnd()}\n`).join("")}`;
    return jobText(pick(IDS));
  };

  fixture = jobsFixture();
  const { store } = await startWatched(fixture, running, { settleMs: 40, resyncMs: 3_600_000 });
  for (let round = 0; round < 25; round++) {
    for (let edits = 1 + Math.floor(next() * 3); edits > 0; edits--) {
      const file = pick(FILES);
      const path = join(fixture.dir, file);
      const roll = next();
      if (roll < 0.2 && existsSync(path)) rmSync(path);
      else if (roll < 0.3 && existsSync(path)) {
        const to = join(fixture.dir, pick(FILES));
        if (to !== path && !existsSync(to)) renameSync(path, to);
      } else {
        fixture.write("sub/.keep", "");
        dropSettled(fixture.dir, file, fileText());
      }
    }
    await waitFor(
      async () => {
        const full = await sync(store, fixture.dir, { dryRun: true });
        if (planHasChanges(full.plan)) return false;
        const recorded = (await store.folderList())[0]?.lastSync?.problemList ?? [];
        const places = (list: { file: string; line: number; column: number }[]) =>
          list.map((problem) => problemPlace({ ...problem, field: null, message: "", hint: "" })).sort();
        return JSON.stringify(places(recorded)) === JSON.stringify(places(full.plan.errors));
      },
      { what: `round ${round} (seed ${seed}) to converge to the full sync's plan`, timeoutMs: 20_000 },
    );
  }
  expect((await store.folderList())[0]?.watchers).toHaveLength(1);
});
