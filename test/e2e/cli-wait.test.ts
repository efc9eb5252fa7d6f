/**
 * `wait` and `logs --follow` end when the job ends and exit 0 only when it completed. The
 * `wait` cases play the worker through the store; `logs --follow` runs a real worker,
 * since following its output files is the point. Whether the waiting process reads the
 * store before or after a job ends, the outcome must be the same.
 */

import { describe, expect, setDefaultTimeout, test } from "bun:test";
import type { Store } from "../../src/store/store.ts";
import { CLI_PATH, runCli } from "../helpers/cli.ts";
import { config, enqueue, withStore, workerTestContext } from "../worker/helpers.ts";

setDefaultTimeout(60_000);

const context = workerTestContext();
const cli = (...args: string[]) => runCli(args, { env: context.home.env });

function startCli(...args: string[]) {
  const child = Bun.spawn(["bun", CLI_PATH, ...args], {
    env: context.home.env,
    stdout: "pipe",
    stderr: "pipe",
  });
  return {
    child,
    async result() {
      const [stdout, stderr, exitCode] = await Promise.all([
        new Response(child.stdout).text(),
        new Response(child.stderr).text(),
        child.exited,
      ]);
      return { stdout, stderr, exitCode };
    },
  };
}

/** Claims `id` and ends its run with `exitCode`: completed for 0, dead otherwise. */
async function finish(id: string, exitCode: number): Promise<void> {
  await withStore(context.home, async (store: Store) => {
    const now = Date.now();
    const job = await store.jobClaim({ workerId: "test", host: "test-host", now, leaseMs: 60_000 });
    expect(job?.id).toBe(id);
    const result = {
      exitCode,
      signal: null,
      error: exitCode === 0 ? null : `exited with code ${exitCode}`,
      stdoutBytes: 0,
      stderrBytes: 0,
      logPath: null,
      outputTail: null,
    };
    const token = job?.token ?? 0;
    if (exitCode === 0) await store.jobComplete({ id, token, now, result });
    else await store.jobFail({ id, token, now, state: "dead", nextRunAt: now, result });
  });
}

describe("wait", () => {
  test("exits 0 once every job completed, printing each as it ends", async () => {
    await enqueue(context.home, { id: "a", command: "true" });
    await enqueue(context.home, { id: "b", command: "true" });
    const waiting = startCli("wait", "a", "b");
    await finish("a", 0);
    await finish("b", 0);
    const result = await waiting.result();
    expect(result.stderr).toBe("");
    expect(result.exitCode).toBe(0);
    expect(result.stdout).toBe("✓ a completed\n✓ b completed\n");
  });

  test("exits 1 naming the jobs that did not complete", async () => {
    for (const id of ["a", "b", "c"]) await enqueue(context.home, { id, command: "true" });
    const waiting = startCli("wait", "a", "b", "c");
    await finish("a", 0);
    await finish("b", 7);
    expect((await cli("cancel", "c")).exitCode).toBe(0);
    const result = await waiting.result();
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toStartWith(
      "error: 2 of 3 jobs did not complete: b dead (exited with code 7), c canceled",
    );
    expect(result.stderr.trimEnd().split("\n")).toHaveLength(1);
  });

  test("jobs that already ended answer at once; --json reports them", async () => {
    await enqueue(context.home, { id: "a", command: "true" });
    await finish("a", 0);
    const result = await cli("wait", "a", "--json");
    expect(result.exitCode).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({
      completed: true,
      timed_out: false,
      jobs: [{ id: "a", state: "completed" }],
    });
  });

  test("--timeout exits 1 saying so, naming what still runs", async () => {
    await enqueue(context.home, { id: "slow", command: "true" });
    const result = await cli("wait", "slow", "--timeout", "300ms");
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toBe(
      "error: timed out after 300ms; still not ended: slow (pending) — wait longer with a larger --timeout, or see `queuectl status`\n",
    );
  });

  test("an unknown id or a bad --timeout is bad input: exit 2 before any waiting", async () => {
    await enqueue(context.home, { id: "a", command: "true" });
    const unknown = await cli("wait", "a", "nope");
    expect(unknown.exitCode).toBe(2);
    expect(unknown.stderr).toContain('no job with id "nope"');
    const bad = await cli("wait", "a", "--timeout", "soon");
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr).toContain("not a duration");
  });
});

describe("logs --follow", () => {
  test("exits 1 for a job that exited 7, after its output", async () => {
    await enqueue(context.home, { id: "seven", command: "echo before; exit 7", max_retries: 0 });
    const follower = startCli("logs", "seven", "--follow");
    context.foreground();
    const result = await follower.result();
    expect(result.stdout).toBe("before\n");
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toContain("(attempt 1: exited with code 7)");
    expect(result.stderr).toContain('error: job "seven" ended dead (exited with code 7)');
  });

  test("follows the job through a retry and exits 0 when the retry completes", async () => {
    await config(context.home, "backoff-base", "1");
    const marker = `${context.home.home}/ran-once`;
    await enqueue(context.home, {
      id: "flaky",
      command: `if [ -f ${marker} ]; then echo second; else touch ${marker}; echo first; exit 3; fi`,
      max_retries: 1,
    });
    const follower = startCli("logs", "flaky", "--follow");
    context.foreground();
    const result = await follower.result();
    expect(result.stdout).toBe("first\nsecond\n");
    expect(result.stderr).toContain("(attempt 1: exited with code 3)");
    expect(result.stderr).toContain("(attempt 2: exit 0)");
    expect(result.exitCode).toBe(0);
  });

  test("a job canceled before it ran ends the follow with exit 1", async () => {
    await enqueue(context.home, { id: "never", command: "true", delay: "1h" });
    const follower = startCli("logs", "never", "--follow");
    expect((await cli("cancel", "never")).exitCode).toBe(0);
    const result = await follower.result();
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toContain('error: job "never" ended canceled');
  });
});
