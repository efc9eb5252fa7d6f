/**
 * Stopping workers and losing them: graceful stop, the timeout escalation, a second
 * signal in the foreground, `--all` through the store, and a worker killed with SIGKILL
 * whose job is rescued by another once the lease expires. Real processes, real signals.
 */

import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { resolveConfig } from "../../src/core/config.ts";
import { newWorkerId } from "../../src/worker/options.ts";
import { isProcessAlive, pidSpaceTag, workerPidSpace } from "../../src/worker/process-info.ts";
import { rescueExpiredLeases } from "../../src/worker/rescue.ts";
import { runCli, runCliJson, waitFor } from "../helpers/cli.ts";
import {
  config,
  enqueue,
  getJob,
  jobState,
  lines,
  ok,
  withStore,
  workerTestContext,
} from "../worker/helpers.ts";

// Real processes on a busy two-core machine: generous, not the 5 s default.
setDefaultTimeout(60_000);

const context = workerTestContext();

const cli = context.cli;
const foreground = context.foreground;

async function waitForState(id: string, state: string, timeoutMs = 20_000): Promise<void> {
  await waitFor(async () => (await jobState(context.home, id)) === state, {
    timeoutMs,
    what: `${id} to be ${state}`,
  });
}

function pidFrom(path: string): number {
  return Number(readFileSync(path, "utf8").trim());
}

interface StopJson {
  stopped: number[];
  forced: number[];
  killed: number[];
  watchers: number[];
  remote_asked: number;
}

describe("worker stop", () => {
  test("a graceful stop lets the running job finish, then the worker exits and deregisters", async () => {
    const marker = join(context.home.home, "finished");
    const release = join(context.home.home, "release");
    const started = await runCliJson<{ workers: { pid: number }[] }>(["worker", "start"], {
      env: context.home.env,
    });
    const pid = started.workers[0]?.pid as number;
    // The job runs until the test releases it, so the stop surely finds it running, however slow the machine.
    await enqueue(context.home, {
      id: "slow",
      command: `while [ ! -e ${release} ]; do sleep 0.05; done; echo done > ${marker}`,
    });
    await waitForState("slow", "processing");
    const workerLog = join(context.home.home, "workers", `worker-${pid}.log`);
    const stopping = runCliJson<StopJson>(["worker", "stop"], { env: context.home.env });
    await waitFor(() => existsSync(workerLog) && readFileSync(workerLog, "utf8").includes("waiting for 1"), {
      timeoutMs: 30_000,
      what: "the worker to wait for its running job",
    });
    writeFileSync(release, "");
    const report = await stopping;
    expect(report).toMatchObject({ stopped: [pid], forced: [], killed: [] });
    expect(readFileSync(marker, "utf8")).toBe("done\n");
    expect(await getJob(context.home, "slow")).toMatchObject({ state: "completed", attempts: 1 });
    expect(isProcessAlive(pid)).toBe(false);
    expect(await withStore(context.home, (store) => store.workerList())).toEqual([]);
    const log = readFileSync(join(context.home.home, "workers", `worker-${pid}.log`), "utf8");
    expect(log).toContain("waiting for 1 running job(s) to finish");
  }, 60_000);

  test("when the timeout runs out, the job is stopped and goes back to pending, attempt not counted", async () => {
    const jobPid = join(context.home.home, "job.pid");
    await enqueue(context.home, { id: "stuck", command: `echo $$ > ${jobPid}; exec sleep 300` });
    const started = await runCliJson<{ workers: { pid: number }[] }>(["worker", "start"], {
      env: context.home.env,
    });
    await waitForState("stuck", "processing");
    await waitFor(() => existsSync(jobPid) && readFileSync(jobPid, "utf8").trim() !== "", {
      what: "the job's pid",
    });
    const result = await cli("worker", "stop", "--timeout", "1s");
    expect(result.exitCode).toBe(0);
    expect(result.stdout).toContain("Timeout of 1s reached");
    expect(result.stdout).toContain("returned to pending");
    expect(await getJob(context.home, "stuck")).toMatchObject({ state: "pending", attempts: 0 });
    expect(isProcessAlive(pidFrom(jobPid))).toBe(false);
    expect(isProcessAlive(started.workers[0]?.pid as number)).toBe(false);
    const [attempt] = await withStore(context.home, (store) => store.attemptList({ jobId: "stuck" }));
    expect(attempt?.error).toContain("back to pending");
  }, 60_000);

  test("a job already stopped for its timeout counts as failed, and the report does not say otherwise", async () => {
    // It outlives SIGTERM, so after its 2 s timeout it sits in the 5 s kill grace when the
    // stop comes. The file it touches on SIGTERM says the timeout fired: a clock cannot, since
    // a busy worker may start the job's timer late.
    const termed = join(context.home.home, "termed");
    await enqueue(context.home, {
      id: "late",
      command: `trap "touch '${termed}'" TERM; while :; do sleep 0.1; done`,
      timeout: 2,
      max_retries: 0,
    });
    await runCliJson(["worker", "start"], { env: context.home.env });
    await waitForState("late", "processing");
    await waitFor(() => existsSync(termed), { timeoutMs: 30_000, what: "late's timeout to stop it" });
    const result = await cli("worker", "stop", "--timeout", "1s");
    expect(result.exitCode).toBe(0);
    expect(await getJob(context.home, "late")).toMatchObject({ state: "dead", attempts: 1 });
    expect(result.stdout).toContain("past its timeout counts as failed");
  }, 60_000);

  test("in the foreground, a second SIGTERM stops the running job at once", async () => {
    await enqueue(context.home, { id: "long", command: "sleep 300" });
    const worker = foreground();
    await worker.waitForOutput("long: attempt 1/4 started");
    worker.process.kill("SIGTERM");
    await worker.waitForOutput("waiting for 1 running job(s) to finish");
    expect(await jobState(context.home, "long")).toBe("processing");
    worker.process.kill("SIGTERM");
    expect(await worker.process.exited).toBe(0);
    expect(worker.output).toContain("long: stopped after");
    expect(await getJob(context.home, "long")).toMatchObject({ state: "pending", attempts: 0 });
  }, 60_000);

  test("--all asks workers on other hosts to drain through the store", async () => {
    await enqueue(context.home, { id: "remote-job", command: "sleep 1" });
    const remote = foreground([], { QUEUECTL_HOST: "other-host" });
    await remote.waitForOutput("remote-job: attempt 1/4 started");
    const report = await runCliJson<StopJson>(["worker", "stop", "--all"], { env: context.home.env });
    expect(report.remote_asked).toBe(1);
    expect(report.stopped).toEqual([]);
    // A timeout cannot reach it, and the command says so rather than let it look applied.
    const timed = await runCli(["worker", "stop", "--all", "--timeout", "1s"], { env: context.home.env });
    expect(timed.stdout).toContain("however long they take: --timeout stops only this host's workers' jobs");
    // It sees the request at its next heartbeat, finishes the job, and exits.
    expect(await remote.process.exited).toBe(0);
    expect(remote.output).toContain("stop requested");
    expect(await jobState(context.home, "remote-job")).toBe("completed");
  }, 60_000);

  test("a worker killed by SIGKILL: its job dies with it, and another worker rescues it after the lease", async () => {
    await config(context.home, "lease", "2s");
    await config(context.home, "backoff-base", "1");
    const starts = join(context.home.home, "starts.log");
    const ends = join(context.home.home, "ends.log");
    const jobPid = join(context.home.home, "job.pid");
    await enqueue(context.home, {
      id: "survivor",
      command: `echo $QUEUECTL_ATTEMPT >> ${starts}; echo $$ > ${jobPid}; sleep 3; echo $QUEUECTL_ATTEMPT >> ${ends}`,
    });
    const doomed = foreground();
    await waitFor(() => lines(starts).length === 1, { timeoutMs: 20_000, what: "the first run to start" });
    await waitFor(() => existsSync(jobPid) && readFileSync(jobPid, "utf8").trim() !== "", {
      what: "the job's pid",
    });
    doomed.process.kill("SIGKILL");
    await doomed.process.exited;
    // The guard in the job's process group noticed its worker vanish.
    await waitFor(() => !isProcessAlive(pidFrom(jobPid)), {
      timeoutMs: 10_000,
      what: "the orphaned job to die",
    });
    expect(await jobState(context.home, "survivor")).toBe("processing");

    const rescuer = foreground();
    await waitForState("survivor", "completed", 40_000);
    expect(lines(starts)).toEqual(["1", "2"]);
    expect(lines(ends)).toEqual(["2"]);
    const attempts = await withStore(context.home, (store) => store.attemptList({ jobId: "survivor" }));
    expect(attempts[0]?.error).toContain("lease expired");
    expect(rescuer.output).toContain("survivor: rescued from worker");
  }, 90_000);

  test("a worker killed by SIGKILL together with its reaper: the worker that rescues the job kills it", async () => {
    await config(context.home, "lease", "2s");
    const jobPid = join(context.home.home, "job.pid");
    await enqueue(context.home, { id: "stray", command: `echo $$ > ${jobPid}; exec sleep 300` });
    const doomed = foreground();
    await waitForState("stray", "processing");
    await waitFor(() => existsSync(jobPid) && readFileSync(jobPid, "utf8").trim() !== "", {
      what: "the job's pid",
    });
    const children = Bun.spawnSync(["pgrep", "-P", String(doomed.process.pid)]).stdout.toString();
    const reaper = children
      .split("\n")
      .map(Number)
      .find((pid) => pid > 0 && readFileSync(`/proc/${pid}/comm`, "utf8").trim() === "awk");
    expect(reaper).toBeNumber();
    // Frozen first, so that it cannot start a new reaper when it sees this one die.
    doomed.process.kill("SIGSTOP");
    process.kill(reaper as number, "SIGKILL");
    doomed.process.kill("SIGKILL");
    await doomed.process.exited;
    // Nothing is left to kill it: the job runs on, still `processing` in the store.
    const stray = pidFrom(jobPid);
    expect(isProcessAlive(stray)).toBe(true);
    // A job of the same id and attempt in another queue on this host (another home) is not it.
    const namesake = Bun.spawn(["sleep", "300"], {
      env: {
        ...process.env,
        QUEUECTL_JOB_ID: "stray",
        QUEUECTL_ATTEMPT: "1",
        QUEUECTL_WORKER_ID: "elsewhere-1-abc@00000000",
      },
    });
    try {
      const rescuer = foreground(["--queue", "elsewhere"]);
      await rescuer.waitForOutput("stray: rescued from worker", 30_000);
      await waitFor(() => !isProcessAlive(stray), { timeoutMs: 5_000, what: "the stray job to die" });
      expect(isProcessAlive(namesake.pid)).toBe(true);
    } finally {
      namesake.kill("SIGKILL");
    }
  }, 60_000);

  test("a worker whose lease was taken over stops its job and its late result is discarded", async () => {
    await config(context.home, "lease", "2s");
    const jobPid = join(context.home.home, "job.pid");
    await enqueue(context.home, { id: "contested", command: `echo $$ > ${jobPid}; exec sleep 300` });
    const worker = foreground();
    await waitForState("contested", "processing");
    await waitFor(() => existsSync(jobPid) && readFileSync(jobPid, "utf8").trim() !== "", {
      what: "the job's pid",
    });
    // A worker on another host, whose clock runs ahead, sees the lease as expired and
    // rescues the job; it cannot reach the job's processes.
    const rescued = await withStore(context.home, async (store) => {
      const config = resolveConfig(await store.configGetAll());
      return rescueExpiredLeases(store, {
        now: Date.now() + 60_000,
        config,
        ownTokens: new Map(),
        pidSpace: null,
      });
    });
    expect(rescued.map((r) => r.job.id)).toEqual(["contested"]);
    await worker.waitForOutput("contested: lease lost to another worker; stopping it");
    await waitFor(() => !isProcessAlive(pidFrom(jobPid)), {
      timeoutMs: 15_000,
      what: "the job to be stopped",
    });
    await worker.waitForOutput("contested: result discarded");
    const job = await getJob(context.home, "contested");
    expect(job?.last_error).toContain("lease expired");
  }, 60_000);

  test("start --watch also runs a jobs folder watcher, and stop stops it", async () => {
    const jobs = join(context.home.home, "jobs");
    mkdirSync(jobs);
    writeFileSync(join(jobs, "hello.yaml"), "command: echo from a jobfile\n");
    const started = await runCliJson<{ watcher: { pid: number } | null }>(
      ["worker", "start", "--watch", jobs],
      { env: context.home.env },
    );
    const watcher = started.watcher?.pid as number;
    expect(isProcessAlive(watcher)).toBe(true);
    expect(readFileSync(join(context.home.home, "watch.pid"), "utf8").trim()).toBe(String(watcher));
    await waitForState("hello", "completed");
    const report = await runCliJson<StopJson>(["worker", "stop"], { env: context.home.env });
    expect(report.watchers).toEqual([watcher]);
    expect(report.stopped).toHaveLength(1);
    await waitFor(() => !isProcessAlive(watcher), { timeoutMs: 10_000, what: "the watcher to exit" });
    expect(existsSync(join(context.home.home, "watch.pid"))).toBe(false);
  }, 60_000);

  test("stop with no workers says so; stale registry rows are removed", async () => {
    await withStore(context.home, (store) =>
      store.workerRegister({
        id: "ghost",
        host: "vm-ghost",
        pid: 999_999,
        now: Date.now() - 600_000,
        queues: null,
      }),
    );
    const result = ok(
      await runCli(["worker", "stop"], { env: { ...context.home.env, QUEUECTL_HOST: "vm-ghost" } }),
    );
    expect(result).toContain("No workers running on this host.");
    expect(result).toContain("Removed 1 stale registry entries");
    expect(await withStore(context.home, (store) => store.workerList())).toEqual([]);
  }, 30_000);

  test("a heartbeating worker of this host name that no signal reaches is asked through the store", async () => {
    // Another container sharing the host name: its pid means nothing here, its heartbeat is fresh.
    await withStore(context.home, (store) =>
      store.workerRegister({ id: "boxed", host: "shared-name", pid: 999_999, now: Date.now(), queues: null }),
    );
    const report = await runCliJson<StopJson>(["worker", "stop"], {
      env: { ...context.home.env, QUEUECTL_HOST: "shared-name" },
    });
    expect(report.remote_asked).toBe(1);
    const [row] = await withStore(context.home, (store) => store.workerList());
    expect(row).toMatchObject({ id: "boxed", stop_requested: true });
  }, 30_000);

  test("a heartbeating worker whose pid space is this one's, yet whose process is gone, was killed: its row goes", async () => {
    const here = pidSpaceTag();
    expect(here).toMatch(/^[0-9a-f]{8}$/);
    // SIGKILL a moment ago: the heartbeat is fresh, the process is not there. Beside it, a worker
    // in another pid space (another container with this host name), which is asked instead.
    await withStore(context.home, async (store) => {
      await store.workerRegister({
        id: `shared-name-999999-aaaaaa@${here}`,
        host: "shared-name",
        pid: 999_999,
        now: Date.now(),
        queues: null,
      });
      await store.workerRegister({
        id: `shared-name-999998-bbbbbb@${here === "00000000" ? "11111111" : "00000000"}`,
        host: "shared-name",
        pid: 999_998,
        now: Date.now(),
        queues: null,
      });
    });
    const report = await runCliJson<StopJson & { stale: number }>(["worker", "stop"], {
      env: { ...context.home.env, QUEUECTL_HOST: "shared-name" },
    });
    expect([report.stale, report.remote_asked]).toEqual([1, 1]);
    const rows = await withStore(context.home, (store) => store.workerList());
    expect(rows.map((row) => row.pid)).toEqual([999_998]);
  }, 30_000);

  test("a worker's id says where its pid means something", () => {
    const own = newWorkerId("vm", process.pid);
    expect(own).toMatch(new RegExp(`^vm-${process.pid}-[0-9a-f]{6}@${pidSpaceTag()}$`));
    expect(workerPidSpace(own)).toBe(pidSpaceTag());
    // A pid that is not this process's own says nothing about where it lives.
    expect(workerPidSpace(newWorkerId("vm", 42))).toBeNull();
    // Ids of earlier releases carry none.
    expect(workerPidSpace("vm-42-abcdef")).toBeNull();
  });
});
