/**
 * `wait` and `logs --follow` end when the job ends and exit 0 only when it completed. The
 * `wait` cases play the worker through the store; `logs --follow` runs a real worker,
 * since following its output files is the point. Whether the waiting process reads the
 * store before or after a job ends, the outcome must be the same.
 */

import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Store } from "../../src/store/store.ts";
import { OK } from "../flow/helpers.ts";
import { CLI_PATH, runCli, waitFor } from "../helpers/cli.ts";
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
  // Read as it comes, so a test can wait for a line before it goes on.
  let stderr = "";
  const stderrRead = (async () => {
    const decoder = new TextDecoder();
    for await (const chunk of child.stderr) stderr += decoder.decode(chunk, { stream: true });
  })();
  return {
    child,
    /** Resolves once stderr holds `text`. */
    said(text: string) {
      return waitFor(() => stderr.includes(text), { what: `"${text}" on stderr` });
    },
    async result() {
      const [stdout, exitCode] = await Promise.all([new Response(child.stdout).text(), child.exited]);
      await stderrRead;
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
    const result = { ...OK, exitCode, error: exitCode === 0 ? null : `exited with code ${exitCode}` };
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

  test("-q prints nothing, even when a job did not complete or time ran out: the exit code tells", async () => {
    for (const id of ["done", "died", "slow"]) await enqueue(context.home, { id, command: "true" });
    await finish("done", 0);
    await finish("died", 7);
    expect(await cli("wait", "done", "-q")).toEqual({ exitCode: 0, stdout: "", stderr: "" });
    expect(await cli("wait", "done", "died", "-q")).toEqual({ exitCode: 1, stdout: "", stderr: "" });
    expect(await cli("wait", "slow", "-q", "--timeout", "200ms")).toEqual({
      exitCode: 1,
      stdout: "",
      stderr: "",
    });
    // Bad input is still reported.
    expect((await cli("wait", "nope", "-q")).stderr).toContain('no job with id "nope"');
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

  test("--timeout names the jobs that ended dead meanwhile too, since the exit code stands for them", async () => {
    await enqueue(context.home, { id: "broke", command: "false" });
    await finish("broke", 1);
    await enqueue(context.home, { id: "slow", command: "true" });
    const result = await cli("wait", "broke", "slow", "--timeout", "300ms");
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toBe(
      "error: timed out after 300ms; still not ended: slow (pending); did not complete: broke dead (exited with code 1) — wait longer with a larger --timeout, or see `queuectl status`\n",
    );
  });

  test("the timeout in the error is a duration, not the number typed", async () => {
    await enqueue(context.home, { id: "slow", command: "true" });
    for (const [typed, shown] of [
      ["1", "1s"],
      ["0.3", "300ms"],
    ]) {
      const result = await cli("wait", "slow", "--timeout", typed ?? "");
      expect(result.exitCode).toBe(1);
      expect(result.stderr).toStartWith(`error: timed out after ${shown}; still not ended: slow (pending)`);
    }
  });

  test("waiting on many jobs, the error names the first ten and counts the rest", async () => {
    const ids = Array.from({ length: 25 }, (_, index) => `job-${index}`);
    const file = join(context.home.home, "many.ndjson");
    writeFileSync(file, ids.map((id) => JSON.stringify({ id, command: "true" })).join("\n"));
    expect((await cli("enqueue", "-f", file)).exitCode).toBe(0);
    const result = await cli("wait", ...ids, "--timeout", "200ms");
    expect(result.exitCode).toBe(1);
    expect(result.stderr.split("\n")).toHaveLength(2);
    expect(result.stderr).toContain("still not ended: 25 jobs: job-0 (pending), job-1 (pending), ");
    expect(result.stderr).toContain("job-9 (pending) and 15 more — ");
    expect(result.stderr).not.toContain("job-10 ");
  });

  test("an unknown id or a bad --timeout is bad input: exit 2 before any waiting", async () => {
    await enqueue(context.home, { id: "a", command: "true" });
    const unknown = await cli("wait", "a", "nope");
    expect(unknown.exitCode).toBe(2);
    expect(unknown.stderr).toContain('no job with id "nope"');
    const bad = await cli("wait", "a", "--timeout", "soon");
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr).toContain("not a duration");
    // cac alone would read 0x10 as 16 seconds.
    const hex = await cli("wait", "a", "--timeout", "0x10");
    expect(hex.exitCode).toBe(2);
    expect(hex.stderr).toContain('--timeout "0x10" is not a duration');
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
    // Following before the first attempt starts: a follower that came later would begin
    // with whichever attempt is the latest by then.
    await follower.said("has not started yet");
    context.foreground();
    const result = await follower.result();
    expect(result.stdout).toBe("first\nsecond\n");
    expect(result.stderr).toContain("(attempt 1: exited with code 3)");
    expect(result.stderr).toContain("(attempt 2: exit 0)");
    expect(result.exitCode).toBe(0);
  });

  test("an attempt's last line without a newline is ended before the next attempt's output", async () => {
    await config(context.home, "backoff-base", "1");
    const marker = `${context.home.home}/ran-once`;
    await enqueue(context.home, {
      id: "partial",
      command: `if [ -f ${marker} ]; then echo out 1 2; else touch ${marker}; printf partial-no-newline; exit 1; fi`,
      max_retries: 1,
    });
    const follower = startCli("logs", "partial", "--follow");
    await follower.said("has not started yet");
    context.foreground();
    const result = await follower.result();
    expect(result.stdout).toBe("partial-no-newline\nout 1 2\n");
    expect(result.exitCode).toBe(0);
  });

  test("the job's last line without a newline is left as it is when the output is saved", async () => {
    await enqueue(context.home, { id: "no-newline", command: "echo first; printf tail", max_retries: 0 });
    const follower = startCli("logs", "no-newline", "--follow");
    context.foreground();
    const result = await follower.result();
    // As plain `logs` prints it: the end note goes to stderr, and needs no line of stdout.
    expect(result.stdout).toBe("first\ntail");
    expect(result.stderr).toContain("(attempt 1: exit 0)\n");
    expect(result.exitCode).toBe(0);
  });

  test("an attempt run under another host name, its files readable here, prints each line once", async () => {
    const gate = `${context.home.home}/gate`;
    await enqueue(context.home, {
      id: "shared",
      command: `echo line 1; while [ ! -e '${gate}' ]; do sleep 0.05; done; echo line 2; echo line 3`,
      max_retries: 0,
    });
    const follower = startCli("logs", "shared", "--follow");
    let seen = "";
    const reading = (async () => {
      const decoder = new TextDecoder();
      for await (const chunk of follower.child.stdout) seen += decoder.decode(chunk, { stream: true });
    })();
    context.foreground([], { QUEUECTL_HOST: "host-b" });
    // Followed while it runs: the files are read as they grow, and the store's tail must not repeat them.
    await waitFor(() => seen.includes("line 1"), { timeoutMs: 20_000, what: "the first line" });
    writeFileSync(gate, "");
    expect(await follower.child.exited).toBe(0);
    await reading;
    expect(seen).toBe("line 1\nline 2\nline 3\n");
    // It completed (the follow exited 0), so this follow begins after it: its files are read here too, once.
    const again = await startCli("logs", "shared", "--follow").result();
    expect(again.stdout).toBe("line 1\nline 2\nline 3\n");
    expect(again.stderr).toBe("(attempt 1: exit 0)\n");
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
