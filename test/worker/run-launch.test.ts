/**
 * How one run starts and ends at its edges: the program's argv[0] and a script's $0 as the
 * shell gives them, a cwd the worker's user may not enter, and a stop that comes once the
 * main process has exited but before the worker has seen it.
 */

import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { attemptLogBase, logFilePath } from "../../src/worker/log-files.ts";
import { isProcessAlive } from "../../src/worker/process-info.ts";
import { AS_NOBODY, nobodyCanRunTheCli } from "../faults/helpers.ts";
import { useRunHarness } from "./run-harness.ts";

const COMMAND_ARGV = join(import.meta.dir, "../../src/worker/command-argv.ts");

// Real processes on a busy two-core machine: generous, not the 5 s default.
setDefaultTimeout(60_000);

const harness = useRunHarness();
const { run, logText } = harness;

describe("runJob at its edges", () => {
  test("an array gets argv[0] as given, and a script named with a slash its name as $0, as under the shell", async () => {
    expect(await run({ command: ["cat", "/proc/self/cmdline"] }).done).toMatchObject({
      exitCode: 0,
      error: null,
    });
    expect(readFileSync(logFilePath(harness.home, attemptLogBase("job", 1), "stdout"), "latin1")).toBe(
      "cat\0/proc/self/cmdline\0",
    );
    mkdirSync(join(harness.home, "sub"));
    writeFileSync(join(harness.home, "sub", "show0"), '#!/bin/sh\necho "$0"\n');
    chmodSync(join(harness.home, "sub", "show0"), 0o755);
    const shell = Bun.spawnSync(["sh", "-c", "./sub/show0"], { cwd: harness.home }).stdout.toString();
    expect(shell).toBe("./sub/show0\n");
    for (const command of ["./sub/show0", ["./sub/show0"]]) {
      expect(await run({ command, cwd: harness.home }).done).toMatchObject({ exitCode: 0, error: null });
      expect(logText("job", 1, "stdout")).toBe(shell);
    }
  });

  test.skipIf(!nobodyCanRunTheCli())(
    "a cwd the worker's user may not enter is named as such, not as the shell",
    () => {
      const locked = join(harness.home, "locked");
      mkdirSync(join(locked, "sub"), { recursive: true });
      chmodSync(harness.home, 0o755);
      chmodSync(locked, 0o700);
      const problem = (cwd: string) =>
        Bun.spawnSync(
          [
            ...AS_NOBODY,
            "bun",
            "-e",
            `console.log(require(${JSON.stringify(COMMAND_ARGV)}).cwdProblem(${JSON.stringify(cwd)}))`,
          ],
          { stderr: "pipe" },
        )
          .stdout.toString()
          .trim();
      expect(problem(locked)).toBe(
        `cwd ${locked} cannot be entered: the worker's user may not search it or a folder above it (EACCES)`,
      );
      expect(problem(join(locked, "sub"))).toBe(
        `cwd ${join(locked, "sub")} cannot be entered: the worker's user may not search it or a folder above it (EACCES)`,
      );
      expect(problem(harness.home)).toBe("null");
    },
  );

  test("a stop that comes after the main process exited, before the worker saw it, changes nothing", async () => {
    const running = run({ command: ["true"], timeout: 60 });
    const pid = running.pid ?? 0;
    // Blocking this thread keeps the exit unseen, as a timeout firing in the same turn would.
    const deadline = Date.now() + 10_000;
    while (isProcessAlive(pid) && Date.now() < deadline) Bun.sleepSync(1);
    expect(running.stop("timed out after 1s")).toBe(false);
    expect(await running.done).toMatchObject({ exitCode: 0, signal: null, error: null });
  });
});
