/**
 * `kill` of a run that ends on its own after the kill was asked for, before the signal lands.
 * No worker runs: the test stands in for one, registered on another host so that nothing is
 * signalled, and records the attempt's end through the store while `kill` waits for it.
 */

import { describe, expect, test } from "bun:test";
import type { RunResult } from "../../src/store/store.ts";
import { type CliResult, runCli, waitFor } from "../helpers/cli.ts";
import { cliHomePerTest } from "../helpers/cli-home.ts";
import { declared, none } from "../store/contract-jobfiles.ts";

const context = cliHomePerTest();

const WORKER = { id: "stand-in", host: "some-other-host" };

const exited = (exitCode: number, error: string | null): RunResult => ({
  exitCode,
  signal: null,
  error,
  stdoutBytes: 0,
  stderrBytes: 0,
  logPath: null,
  outputTail: null,
});

/** Claims `id`, the only job due, as the stand-in worker; returns the attempt's token. */
function claim(id: string): Promise<number> {
  return context.setup.with(async (store) => {
    const now = Date.now();
    await store.workerRegister({ ...WORKER, pid: process.pid, now, queues: null });
    const job = await store.jobClaim({ workerId: WORKER.id, host: WORKER.host, now, leaseMs: 60_000 });
    expect(job?.id).toBe(id);
    return job?.token ?? -1;
  });
}

/**
 * Runs `kill ...args` on the running job `id` and, once its request is on the job, ends the
 * attempt with `end`: the worker's part, as it would record it.
 */
async function killWhileItEnds(id: string, args: string[], end: (token: number) => Promise<unknown>) {
  const token = await claim(id);
  const killing: Promise<CliResult> = runCli(["kill", id, ...args], { env: context.home.env });
  await waitFor(() => context.setup.with(async (store) => (await store.jobGet({ id }))?.kill_requested), {
    what: `the kill request on ${id}`,
  });
  await end(token);
  const result = await killing;
  expect(result.stderr).toBe("");
  expect(result.exitCode).toBe(0);
  return result.stdout;
}

const complete = (id: string) => (token: number) =>
  context.setup.with((store) => store.jobComplete({ id, token, now: Date.now(), result: exited(0, null) }));

/** As the worker records a run the kill stopped. */
const killed = (id: string) => (token: number) =>
  context.setup.with((store) =>
    store.jobFail({
      id,
      token,
      now: Date.now(),
      state: "canceled",
      nextRunAt: Date.now(),
      result: exited(143, "killed by user"),
    }),
  );

const ad = (id: string) => context.setup.enqueue({ id, command: "sleep 0.1" });

/**
 * Jobfile job `a` at revision 2, running, with its file gone back to revision 1, which
 * already completed: whatever the run's end, the job then shows revision 1, completed.
 */
async function jobfileBackAtCompleted(): Promise<void> {
  await context.setup.with(async (store) => {
    const apply = (version: number) =>
      store.jobfileApply({ changes: { ...none, declarations: [declared("a", version)] }, now: Date.now() });
    await apply(1);
    const first = await store.jobClaim({ workerId: "w", host: "h", now: Date.now(), leaseMs: 60_000 });
    await store.jobComplete({ id: "a", token: first?.token ?? -1, now: Date.now(), result: exited(0, null) });
    await apply(2);
  });
}

const applyBackToFirst = () =>
  context.setup.with((store) =>
    store.jobfileApply({ changes: { ...none, declarations: [declared("a", 1)] }, now: Date.now() }),
  );

describe("kill of a run that ends while the kill waits for it", () => {
  test("says it was not killed and how it ended, never a jobfile", async () => {
    await ad("cb7");
    const stdout = await killWhileItEnds("cb7", [], complete("cb7"));
    expect(stdout).toBe("Job cb7 was not killed: it completed before the signal arrived\n");
  });

  test("--json: not-running, completed", async () => {
    await ad("cb8");
    const stdout = await killWhileItEnds("cb8", ["--json"], complete("cb8"));
    expect(JSON.parse(stdout)).toEqual({ jobs: [{ id: "cb8", result: "not-running", state: "completed" }] });
  });

  test("--retry: the same", async () => {
    await ad("cb9");
    const stdout = await killWhileItEnds("cb9", ["--retry", "--json"], complete("cb9"));
    expect(JSON.parse(stdout)).toEqual({ jobs: [{ id: "cb9", result: "not-running", state: "completed" }] });
  });

  test("a run the kill did stop is still reported killed", async () => {
    await ad("k1");
    const stdout = await killWhileItEnds("k1", [], killed("k1"));
    expect(stdout).toBe("✓ Job k1 killed: canceled\n");
  });

  test("a jobfile job the kill stopped, back at a revision that completed: the jobfile wording", async () => {
    await jobfileBackAtCompleted();
    const stdout = await killWhileItEnds("a", [], async (token) => {
      await applyBackToFirst();
      await killed("a")(token);
    });
    expect(stdout).toBe(
      "✓ Job a killed: completed: its jobfile is back at a revision that already completed\n",
    );
  });

  test("a jobfile job that completed on its own, in the same place: not killed", async () => {
    await jobfileBackAtCompleted();
    const stdout = await killWhileItEnds("a", ["--json"], async (token) => {
      await applyBackToFirst();
      await complete("a")(token);
    });
    expect(JSON.parse(stdout)).toEqual({ jobs: [{ id: "a", result: "not-running", state: "completed" }] });
  });
});
