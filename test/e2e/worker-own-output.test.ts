/**
 * A foreground worker whose own output goes away, or whose terminal does: its running jobs
 * are never abandoned. A reader that closes the pipe (`worker run | head -1`) and a hang-up
 * (a closed terminal, a dropped SSH session) stop it as Ctrl-C does: the running job
 * finishes, nothing new starts, the jobs claimed ahead go back unchanged. A full disk loses
 * lines, not work, and the exit code says so. Before, the first two ended the process at
 * once and the last with exit 1 mid-job; the job then waited for a lease rescue that counted
 * a failed attempt. Real processes: pipes, devices and signals are the point.
 */

import { expect, setDefaultTimeout, test } from "bun:test";
import { closeSync, openSync } from "node:fs";
import { CLI_PATH, waitFor } from "../helpers/cli.ts";
import { enqueue, getJob, workerTestContext } from "../worker/helpers.ts";

// Real processes on a busy two-core machine: generous, not the 5 s default.
setDefaultTimeout(60_000);

const context = workerTestContext();

/** A job that runs until `release` exists, then a second job queued behind it. */
async function runningJobAndOneBehind(): Promise<{ release: string }> {
  const release = `${context.home.home}/release`;
  await enqueue(context.home, {
    id: "long",
    command: `while [ ! -e ${release} ]; do sleep 0.05; done`,
    priority: 1,
  });
  await enqueue(context.home, { id: "behind", command: "true" });
  return { release };
}

async function waitUntilRunning(id: string): Promise<void> {
  await waitFor(async () => (await getJob(context.home, id))?.state === "processing", {
    timeoutMs: 30_000,
    what: `${id} to start`,
  });
}

/** Both jobs as the worker left them: the running one completed, the one behind untouched. */
async function expectFinishedAndUntouched(): Promise<void> {
  expect(await getJob(context.home, "long")).toMatchObject({ state: "completed", attempts: 1 });
  expect(await getJob(context.home, "behind")).toMatchObject({ state: "pending", attempts: 0 });
}

test("a reader closing the pipe stops the worker as Ctrl-C does: the running job finishes", async () => {
  const { release } = await runningJobAndOneBehind();
  const worker = Bun.spawn(["bun", CLI_PATH, "worker", "run"], {
    env: context.home.env,
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  // The reader takes the first line, as `head -1` does, and goes away.
  const reader = worker.stdout.getReader();
  await reader.read();
  await reader.cancel();
  await waitUntilRunning("long");
  await Bun.write(release, "");
  // No --drain: only the stop the closed pipe asked for ends it. The pipe may close before
  // or after the line of the job's start, so the job behind may have started before the
  // stop: it is never left half done either way.
  expect(await worker.exited).toBe(0);
  expect(await getJob(context.home, "long")).toMatchObject({ state: "completed", attempts: 1 });
  const behind = await getJob(context.home, "behind");
  expect([`pending 0`, `completed 1`]).toContain(`${behind?.state} ${behind?.attempts}`);
});

test("a hang-up stops the worker as a first Ctrl-C does, a second one too: the running job finishes", async () => {
  const { release } = await runningJobAndOneBehind();
  const worker = context.foreground();
  await waitUntilRunning("long");
  worker.process.kill("SIGHUP");
  await worker.waitForOutput("stopping: no new jobs");
  // A closing terminal sends two: the shell's, then the kernel's. Neither hands the job back.
  worker.process.kill("SIGHUP");
  await Bun.write(release, "");
  expect(await worker.process.exited).toBe(0);
  await expectFinishedAndUntouched();
});

test("a full disk under its output loses lines, not work: every job runs, exit 1 says so", async () => {
  await enqueue(context.home, { id: "first", command: "sleep 0.2" });
  await enqueue(context.home, { id: "second", command: "true" });
  const full = openSync("/dev/full", "w");
  try {
    const worker = Bun.spawn(["bun", CLI_PATH, "worker", "run", "--drain"], {
      env: context.home.env,
      stdin: "ignore",
      stdout: full,
      stderr: "pipe",
    });
    const [stderr, exitCode] = await Promise.all([new Response(worker.stderr).text(), worker.exited]);
    expect(exitCode).toBe(1);
    expect(stderr.trim().split("\n")).toEqual([
      "error: cannot write the output (ENOSPC: no space left on device) — free some space where it goes, or redirect it elsewhere",
    ]);
  } finally {
    closeSync(full);
  }
  for (const id of ["first", "second"])
    expect(await getJob(context.home, id)).toMatchObject({ state: "completed", attempts: 1 });
});
