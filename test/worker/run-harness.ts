/**
 * What the tests of one run share (run.test.ts, run-launch.test.ts): a fresh temporary home
 * for each test, one reaper for the file, and `runJob` with the defaults a worker gives it.
 */

import { afterAll, afterEach, beforeAll, beforeEach } from "bun:test";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { JobSpec } from "../../src/core/spec.ts";
import { attemptLogBase, logFilePath } from "../../src/worker/log-files.ts";
import { Reaper } from "../../src/worker/reaper.ts";
import { runJob } from "../../src/worker/run.ts";

export interface RunHarness {
  /** This test's home: logs go under it, and it is a folder jobs may use. */
  readonly home: string;
  readonly reaper: Reaper;
  run(
    spec: Partial<JobSpec> & Pick<JobSpec, "command">,
    timeoutMs?: number,
    token?: number,
  ): ReturnType<typeof runJob>;
  logText(id: string, token: number, stream: "stdout" | "stderr"): string;
}

/** Registers the hooks in the calling file; the harness's `home` is the running test's. */
export function useRunHarness(): RunHarness {
  let home = "";
  let reaper: Reaper | undefined;
  beforeAll(() => {
    reaper = new Reaper();
  });
  afterAll(() => reaper?.close());
  beforeEach(() => {
    home = mkdtempSync(join(tmpdir(), "queuectl-run-"));
  });
  afterEach(() => rmSync(home, { recursive: true, force: true }));
  const harness: RunHarness = {
    get home() {
      return home;
    },
    get reaper() {
      if (!reaper) throw new Error("the run harness is used outside a test");
      return reaper;
    },
    run(spec, timeoutMs = 60_000, token = 1) {
      const id = spec.id ?? "job";
      return runJob({
        jobId: id,
        spec: { id, ...spec },
        attempt: 1,
        token,
        home,
        timeoutMs,
        baseEnv: process.env,
        reaper: harness.reaper,
      });
    },
    logText(id, token, stream) {
      return readFileSync(logFilePath(home, attemptLogBase(id, token), stream), "utf8");
    },
  };
  return harness;
}
