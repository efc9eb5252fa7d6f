/**
 * `kill` through the real CLI against real workers: a running job on this host is stopped
 * at once (the worker is signalled), one on another host within its worker's heartbeat;
 * the job ends canceled with the reason, or, with --retry, counts a failed attempt.
 * Waiting jobs are canceled; bad ids change nothing; `cancel` of a running job points here.
 */

import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { isProcessAlive } from "../../src/worker/process-info.ts";
import { runCliJson, waitFor } from "../helpers/cli.ts";
import { config, enqueue, getJob, jobState, workerTestContext } from "../worker/helpers.ts";

setDefaultTimeout(60_000);

const context = workerTestContext();

interface KillJson {
  jobs: { id: string; result: string; state: string | null }[];
}

async function waitRunning(id: string): Promise<void> {
  await waitFor(async () => (await jobState(context.home, id)) === "processing", { what: `${id} to run` });
}

describe("kill", () => {
  test("a running job on this host is stopped at once and ends canceled with the reason", async () => {
    // A long lease: the next heartbeat is about 5 s away, so only the signal explains a fast kill.
    await config(context.home, "lease", "60s");
    await enqueue(context.home, { id: "long", command: "sleep 300" });
    const worker = context.foreground();
    await worker.waitForOutput("long: attempt 1/4 started");
    await waitRunning("long");
    const started = Date.now();
    const report = await runCliJson<KillJson>(["kill", "long"], { env: context.home.env });
    const tookMs = Date.now() - started;
    expect(report.jobs).toEqual([{ id: "long", result: "killed", state: "canceled" }]);
    expect(tookMs).toBeLessThan(3_000);
    const job = await getJob(context.home, "long");
    expect(job?.last_error).toBe("killed by user");
    await worker.waitForOutput("long: kill requested; stopping it");
  });

  test("a job on another host is stopped through the store within a heartbeat", async () => {
    await config(context.home, "lease", "2s");
    await enqueue(context.home, { id: "remote", command: "sleep 300" });
    const worker = context.foreground([], { QUEUECTL_HOST: "some-other-host" });
    await worker.waitForOutput("remote: attempt 1/4 started");
    await waitRunning("remote");
    const report = await runCliJson<KillJson>(["kill", "remote"], { env: context.home.env });
    expect(report.jobs).toEqual([{ id: "remote", result: "killed", state: "canceled" }]);
  });

  test("--retry counts the attempt as failed, and the retry rules apply", async () => {
    await config(context.home, "lease", "2s");
    await config(context.home, "backoff-base", "30");
    await enqueue(context.home, { id: "again", command: "sleep 300", max_retries: 1 });
    context.foreground();
    await waitRunning("again");
    const report = await runCliJson<KillJson>(["kill", "again", "--retry"], { env: context.home.env });
    expect(report.jobs).toEqual([{ id: "again", result: "killed", state: "failed" }]);
    const job = await getJob(context.home, "again");
    expect(job?.attempts).toBe(1);
    expect(job?.last_error).toBe("killed by user (kill --retry)");
  });

  test("waiting jobs are canceled; an unknown or finished id changes nothing; cancel points to kill", async () => {
    await enqueue(context.home, { id: "later", command: "true", delay: "1h" });
    const unknown = await context.cli("kill", "later", "nope");
    expect(unknown.exitCode).toBe(2);
    expect(unknown.stderr).toContain('no job with id "nope"');
    expect(await jobState(context.home, "later")).toBe("pending");

    const report = await runCliJson<KillJson>(["kill", "later"], { env: context.home.env });
    expect(report.jobs).toEqual([{ id: "later", result: "canceled", state: "canceled" }]);
    expect((await getJob(context.home, "later"))?.last_error).toBe("killed by user");
    const again = await context.cli("kill", "later");
    expect(again.exitCode).toBe(2);
    expect(again.stderr).toContain('"later" is canceled');

    await enqueue(context.home, { id: "busy", command: "sleep 300" });
    context.foreground();
    await waitRunning("busy");
    const cancel = await context.cli("cancel", "busy");
    expect(cancel.exitCode).toBe(2);
    expect(cancel.stderr).toContain("queuectl kill");
  });

  test("a failed job waiting for its retry is canceled, and the message does not say it never ran", async () => {
    await config(context.home, "backoff-base", "100");
    await enqueue(context.home, { id: "flaky", command: "exit 3", max_retries: 2 });
    context.foreground();
    await waitFor(async () => (await jobState(context.home, "flaky")) === "failed", {
      what: "flaky to fail once",
    });
    const kill = await context.cli("kill", "flaky");
    expect(kill.exitCode).toBe(0);
    expect(kill.stdout).toContain("Job flaky canceled (it was not running)");
    expect(kill.stdout).not.toContain("had not started");
    expect(await jobState(context.home, "flaky")).toBe("canceled");
  });

  test("a job whose worker was killed is not reported as stopping at the next heartbeat", async () => {
    await config(context.home, "lease", "2s");
    await enqueue(context.home, { id: "orphan", command: "sleep 300" });
    const worker = context.foreground();
    await worker.waitForOutput("orphan: attempt 1/4 started");
    await waitRunning("orphan");
    process.kill(worker.pid, "SIGKILL");
    await waitFor(() => !isProcessAlive(worker.pid), { what: "the worker to die" });
    const kill = await context.cli("kill", "orphan");
    expect(kill.exitCode).toBe(0);
    expect(kill.stdout).not.toContain("stops it at its next heartbeat");
    expect(kill.stdout).toContain("ends canceled when it is rescued");
  });
});
