/**
 * A worker given a queue that no job, queue setting or schedule uses yet (most likely a typo:
 * `--queue emials`) warns on stderr with the nearest used queue, and still runs: a queue may
 * get its first job after its worker starts. Real worker processes on a real SQLite file.
 */

import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { warnUnusedQueues } from "../../src/commands/context.ts";
import { runCliProcess } from "../helpers/cli.ts";
import { enqueue, jobState, killWorkers, withStore, workerTestContext } from "../worker/helpers.ts";

// Real processes on a busy two-core machine: generous, not the 5 s default.
setDefaultTimeout(60_000);

const context = workerTestContext();
const TYPO_WARNING = 'warning: no job or setting uses queue "emials" yet — did you mean "emails"?\n';

/** The `warning:` lines `warnUnusedQueues` writes for `queues`, against this test's store. */
async function warningsFor(queues: string[] | null): Promise<string[]> {
  const lines: string[] = [];
  const write = process.stderr.write;
  process.stderr.write = ((chunk: string) => lines.push(chunk) > 0) as typeof write;
  try {
    await withStore(context.home, (store) => warnUnusedQueues(store, queues));
  } finally {
    process.stderr.write = write;
  }
  return lines;
}

describe("worker --queue with a name nothing uses", () => {
  test("worker run warns with the nearest queue and still drains", async () => {
    await enqueue(context.home, { id: "mail", command: "true", queue: "emails" });
    const typo = await runCliProcess(["worker", "run", "--queue", "emials", "--drain"], {
      env: context.home.env,
    });
    expect(typo.exitCode).toBe(0);
    expect(typo.stderr).toBe(TYPO_WARNING);
    expect(await jobState(context.home, "mail")).toBe("pending");
    const right = await runCliProcess(["worker", "run", "--queue", "emails", "--drain"], {
      env: context.home.env,
    });
    expect(right.exitCode).toBe(0);
    expect(right.stderr).toBe("");
    expect(await jobState(context.home, "mail")).toBe("completed");
  });

  test("worker start warns, and its worker still starts", async () => {
    await enqueue(context.home, { id: "mail", command: "true", queue: "emails" });
    const started = await runCliProcess(["worker", "start", "--queue", "emials"], { env: context.home.env });
    try {
      expect(started.exitCode).toBe(0);
      expect(started.stderr).toBe(TYPO_WARNING);
      expect(started.stdout).toContain("Started 1 worker(s)");
    } finally {
      await killWorkers(context.home);
    }
  });

  test("a queue setting, a schedule and the default queue count as used", async () => {
    await withStore(context.home, (store) => store.queueSet({ name: "reports", concurrency: 2 }));
    await enqueue(context.home, { id: "tick", command: "true", queue: "nightly", schedule: "0 3 * * *" });
    expect(await warningsFor(["reports", "nightly", "default"])).toEqual([]);
    expect(await warningsFor(["reprots"])).toEqual([
      'warning: no job or setting uses queue "reprots" yet — did you mean "reports"?\n',
    ]);
  });

  test("a name near none of them still warns, pointing to queue list", async () => {
    expect(await warningsFor(["zzz"])).toEqual([
      'warning: no job or setting uses queue "zzz" yet — check the name with `queuectl queue list`; jobs queued to it later will run\n',
    ]);
    expect(await warningsFor(null)).toEqual([]);
  });
});
