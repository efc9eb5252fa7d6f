/**
 * `enqueue '<json>'` and `status` are what scripts call in loops, and each module they load
 * adds to every call's start-up. These run the calls in a fresh Bun process (the runner's own
 * registry already holds everything) and name the modules it loaded: the migrations only when
 * the schema is behind, and none of the SQL or libraries of commands that were not run.
 */

import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const CLI_RUN = resolve(import.meta.dir, "../../src/cli-run.ts");

/** Modules that `enqueue '<json>'` and `status` must not load on an up-to-date SQLite store. */
const NOT_AT_START = [
  "src/store/sqlite/migrations.ts",
  "src/store/migrate.ts",
  "src/store/sqlite/wal-checkpointer.ts",
  "src/store/sqlite/transfer.ts",
  "src/store/sqlite/jobfile-apply.ts",
  "src/store/sqlite/schedules.ts",
  "src/store/sqlite/metrics.ts",
  "src/store/sqlite/job-search.ts",
  "src/store/sqlite/claim.ts",
  "src/store/sqlite/complete-many.ts",
  "src/store/sqlite/run.ts",
  "src/store/sqlite/webhooks.ts",
  "src/cli-program.ts",
  // `status` reads sync-record.ts for watcher liveness; the folder rules stay out of it.
  "src/jobfiles/scan.ts",
  "src/jobfiles/folder-nesting.ts",
  "src/core/ownership.ts",
  "src/store/dashboard-rows.ts",
  "node_modules/cac/",
  "node_modules/yaml/",
];

let home: string;

beforeEach(() => {
  home = mkdtempSync(join(tmpdir(), "queuectl-start-up-"));
});

afterEach(() => {
  rmSync(home, { recursive: true, force: true });
});

/** Runs the command lines in one new process and returns the files it loaded, relative to the repo. */
async function modulesLoadedBy(commandLines: string[][]): Promise<string[]> {
  const script = `
    const { runCommandLine } = await import(${JSON.stringify(CLI_RUN)});
    for (const words of ${JSON.stringify(commandLines)}) {
      const code = await runCommandLine(["bun", "queuectl", ...words]);
      if (code !== 0) throw new Error("exit code " + code + " from " + words.join(" "));
    }
    process.stderr.write(JSON.stringify(Object.keys(require.cache)));
  `;
  // The default store under home: QUEUECTL_DB left out (set but empty is refused).
  const { QUEUECTL_DB: _db, ...inherited } = process.env;
  const child = Bun.spawn(["bun", "-e", script], {
    env: { ...inherited, QUEUECTL_HOME: home, NO_COLOR: "1" },
    stdio: ["ignore", "ignore", "pipe"],
  });
  const [stderr, exitCode] = await Promise.all([new Response(child.stderr).text(), child.exited]);
  expect(exitCode).toBe(0);
  const root = resolve(import.meta.dir, "../..");
  return (JSON.parse(stderr) as string[]).map((path) => path.replace(`${root}/`, ""));
}

function loadedOf(modules: string[]): string[] {
  return NOT_AT_START.filter((name) => modules.some((path) => path.startsWith(name)));
}

describe("start-up of the calls scripts loop on", () => {
  test("a new store loads the migrations; a current one does not, nor other commands' code", async () => {
    const first = await modulesLoadedBy([["status"]]);
    expect(loadedOf(first)).toContain("src/store/sqlite/migrations.ts");

    const later = await modulesLoadedBy([["enqueue", '{"id":"a","command":"true"}'], ["status"]]);
    expect(later).toContain("src/commands/enqueue.ts");
    expect(later).toContain("src/commands/status.ts");
    expect(loadedOf(later)).toEqual([]);
  });
});
