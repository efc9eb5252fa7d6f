/**
 * The original README's manual testing scenarios, run through the CLI exactly as written
 * there (default config), one after another on one queue, as a user would type them.
 */

import { afterAll, beforeAll, expect, setDefaultTimeout, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { runCli, type TempHome, tempHome, waitFor } from "../helpers/cli.ts";
import { jobState, killWorkers, withStore } from "../worker/helpers.ts";

// Real processes on a busy two-core machine: generous, not the 5 s default.
setDefaultTimeout(60_000);

let home: TempHome;
beforeAll(() => {
  home = tempHome();
  writeFileSync(join(home.home, "job.json"), '{"id":"job1","command":"echo Hello World"}');
});
afterAll(async () => {
  await killWorkers(home);
  home.cleanup();
});

/** Runs a command as the README writes it, from a folder holding job.json. */
async function sh(line: string): Promise<string> {
  const args = line.replace(/^queuectl /, "").match(/'[^']*'|\S+/g) ?? [];
  const result = await runCli(
    args.map((arg) => arg.replace(/^'(.*)'$/, "$1")),
    { env: home.env, cwd: home.home },
  );
  if (result.exitCode !== 0) throw new Error(`${line} exited ${result.exitCode}: ${result.stderr}`);
  return result.stdout;
}

async function waitForState(id: string, state: string, timeoutMs = 30_000): Promise<void> {
  await waitFor(async () => (await jobState(home, id)) === state, {
    timeoutMs,
    what: `${id} to be ${state}`,
  });
}

test("1. basic job completion", async () => {
  expect(await sh("queuectl enqueue -f job.json")).toContain("job1");
  expect(await sh("queuectl worker start --count 1")).toMatch(/Started 1 worker\(s\) \(PIDs: \d+\)/);
  await waitForState("job1", "completed");
  const status = await sh("queuectl status");
  expect(status).toMatch(/completed\s+1/);
  expect(status).toMatch(/Worker \(PID: \d+\) - Running/);
  expect(await sh("queuectl list --state completed")).toMatch(/^job1 +completed /m);
  expect(await sh("queuectl logs job1")).toBe("Hello World\n");
}, 60_000);

test("2. a failed job is retried, then moved to the DLQ", async () => {
  await sh(`queuectl enqueue '{"id":"fail-test","command":"nonexistent-command","max_retries":2}'`);
  // The worker from scenario 1 is still running.
  await waitForState("fail-test", "failed");
  expect(await sh("queuectl list --state failed")).toMatch(/^fail-test +failed /m);
  // Default backoff: 2 s, then 4 s.
  await waitForState("fail-test", "dead", 40_000);
  const dlq = await sh("queuectl dlq list");
  expect(dlq).toContain("ID: fail-test");
  expect(dlq).toContain("Attempts: 3/3");
  expect(dlq).toContain("not found");
}, 60_000);

test("3. multiple workers share ten jobs", async () => {
  await sh("queuectl worker stop");
  await sh("queuectl worker start --count 3");
  for (let i = 1; i <= 10; i++)
    await sh(`queuectl enqueue '{"id":"job${i + 1}","command":"echo Job ${i} && sleep 1"}'`);
  expect(await sh("queuectl status")).toContain("Active Workers: 3");
  // Polled on the store: a CLI process per poll would compete with the workers for the CPU.
  await waitFor(async () => (await withStore(home, (store) => store.jobCounts())).completed === 11, {
    timeoutMs: 60_000,
    intervalMs: 100,
    what: "the ten jobs to complete",
  });
  const workers = await withStore(home, async (store) => {
    const jobs = await store.jobList({ state: "completed" });
    return new Set(jobs.filter((job) => job.id !== "job1").map((job) => job.worker_id));
  });
  expect(workers.size).toBeGreaterThan(1);
}, 90_000);

test("4. jobs persist across a worker stop and start", async () => {
  await sh("queuectl worker stop");
  writeFileSync(join(home.home, "job.json"), '{"id":"persisted","command":"echo still here"}');
  await sh("queuectl enqueue -f job.json");
  expect(await sh("queuectl worker stop")).toContain("No workers running");
  expect(await jobState(home, "persisted")).toBe("pending");
  await sh("queuectl worker start --count 1");
  await waitForState("persisted", "completed");
  expect(await sh("queuectl status")).toMatch(/completed\s+12/);
  await sh("queuectl worker stop");
}, 60_000);

test("5. DLQ retry", async () => {
  expect(await sh("queuectl dlq list")).toContain("fail-test");
  expect(await sh("queuectl dlq retry fail-test")).toContain("moved back to pending");
  const pending = await sh("queuectl list --state pending");
  expect(pending).toMatch(/^fail-test +pending +0\/3 /m);
}, 30_000);

test("6. configuration changes", async () => {
  expect(await sh("queuectl config get")).toContain("max-retries");
  await sh("queuectl config set max-retries 5");
  expect((await sh("queuectl config get max-retries")).trim()).toBe("5");
}, 30_000);

test("quick start: worker run --drain runs what is queued and returns", async () => {
  const result = await runCli(["worker", "run", "--drain"], { env: home.env });
  expect(result.exitCode).toBe(0);
  // fail-test (retried in scenario 5) runs its three attempts again and returns to the DLQ.
  expect(await jobState(home, "fail-test")).toBe("dead");
  expect(result.stdout).toContain("no pending, failed or processing jobs left; exiting");
}, 60_000);
