/**
 * `worker stop` past its timeout, against real background workers: a worker frozen while
 * the stop's signals arrive still hands its job back (the escalation is a signal of its
 * own, which a pending SIGTERM cannot swallow), one frozen for longer than the release wait
 * is not killed for it, and the report names as forced only the workers that had a job.
 */

import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { isProcessAlive, signalPending } from "../../src/worker/process-info.ts";
import { RELEASE_SIGNAL, releaseWaitMs } from "../../src/worker/signals.ts";
import { CLI_PATH, runCliJson, waitFor } from "../helpers/cli.ts";
import { enqueue, getJob, jobState, withStore, workerTestContext } from "../worker/helpers.ts";

// Real processes on a busy two-core machine, and one test holds a worker frozen for 11 s.
setDefaultTimeout(90_000);

const context = workerTestContext();

/** Shortens the jobs' kill grace, and with it the release wait of `worker stop`. */
const KILL_GRACE_MS = 200;

interface StopJson {
  stopped: number[];
  forced: number[];
  killed: number[];
}

/** One background worker running a job that records its pid and sleeps; returns both pids. */
async function busyWorker(): Promise<{ worker: number; job: number }> {
  const env = { ...context.home.env, QUEUECTL_KILL_GRACE_MS: String(KILL_GRACE_MS) };
  const started = await runCliJson<{ workers: { pid: number }[] }>(["worker", "start"], { env });
  const jobPid = join(context.home.home, "job.pid");
  await enqueue(context.home, { id: "det", command: `echo $$ > ${jobPid}; exec sleep 300` });
  await waitFor(() => existsSync(jobPid) && readFileSync(jobPid, "utf8").trim() !== "", {
    timeoutMs: 20_000,
    what: "the job to start",
  });
  return { worker: started.workers[0]?.pid as number, job: Number(readFileSync(jobPid, "utf8")) };
}

/** `worker stop --timeout 0 --json` in a process of its own, so the test can act while it waits. */
function stopInBackground(): Promise<StopJson> {
  const child = Bun.spawn(["bun", CLI_PATH, "worker", "stop", "--timeout", "0", "--json"], {
    env: { ...context.home.env, QUEUECTL_KILL_GRACE_MS: String(KILL_GRACE_MS) },
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  return (async () => {
    const [stdout, stderr, code] = await Promise.all([
      new Response(child.stdout).text(),
      new Response(child.stderr).text(),
      child.exited,
    ]);
    if (code !== 0) throw new Error(`worker stop exited ${code}: ${stderr}`);
    return JSON.parse(stdout) as StopJson;
  })();
}

/** Freezes `pid` and waits until the kernel says it is stopped. */
async function freeze(pid: number): Promise<void> {
  process.kill(pid, "SIGSTOP");
  await waitFor(() => /^State:\s+T/m.test(readFileSync(`/proc/${pid}/status`, "utf8")), {
    what: "the worker to be frozen",
  });
}

/** Continues `pid` even when the test failed while it was frozen, so cleanup can kill it. */
function thaw(pid: number): void {
  try {
    process.kill(pid, "SIGCONT");
  } catch {
    // Gone already.
  }
}

describe("worker stop past its timeout", () => {
  test("a release signal that comes as the worker ends does not end it by that signal: exit 0", async () => {
    const worker = context.foreground();
    await worker.waitForOutput("started");
    worker.process.kill("SIGTERM");
    // Escalation and stop cross: releases keep coming while the worker winds down and exits.
    const late = setInterval(() => {
      try {
        worker.process.kill(RELEASE_SIGNAL);
      } catch {
        // Gone already.
      }
    }, 2);
    try {
      expect(await worker.process.exited).toBe(0);
    } finally {
      clearInterval(late);
    }
  });

  test("a worker frozen while both signals arrive still hands its job back, attempt not counted", async () => {
    const { worker, job } = await busyWorker();
    await freeze(worker);
    try {
      const stopping = stopInBackground();
      // Both signals are pending now: a second SIGTERM would have merged with the first.
      await waitFor(() => signalPending(worker, RELEASE_SIGNAL) && signalPending(worker, "SIGTERM"), {
        timeoutMs: 20_000,
        what: "the stop and its release to be pending at the frozen worker",
      });
      thaw(worker);
      expect(await stopping).toMatchObject({ stopped: [], forced: [worker], killed: [] });
    } finally {
      thaw(worker);
    }
    expect(await getJob(context.home, "det")).toMatchObject({ state: "pending", attempts: 0 });
    expect(isProcessAlive(job)).toBe(false);
    expect(isProcessAlive(worker)).toBe(false);
    const [attempt] = await withStore(context.home, (store) => store.attemptList({ jobId: "det" }));
    expect(attempt?.error).toContain("back to pending");
  });

  test("a worker frozen past the release wait is not killed for it: the wait starts when it takes the signal", async () => {
    const { worker } = await busyWorker();
    await freeze(worker);
    try {
      const stopping = stopInBackground();
      await waitFor(() => signalPending(worker, RELEASE_SIGNAL), {
        timeoutMs: 20_000,
        what: "the release to be pending at the frozen worker",
      });
      // Held frozen on purpose for longer than a worker that took the signal gets to exit.
      await Bun.sleep(releaseWaitMs(KILL_GRACE_MS) + 1_000);
      expect(isProcessAlive(worker)).toBe(true);
      thaw(worker);
      expect(await stopping).toMatchObject({ forced: [worker], killed: [] });
    } finally {
      thaw(worker);
    }
    expect(await getJob(context.home, "det")).toMatchObject({ state: "pending", attempts: 0 });
  });

  test("a second worker stop while the first waits sends no second SIGTERM: the running job finishes", async () => {
    const started = await runCliJson<{ workers: { pid: number }[] }>(["worker", "start"], {
      env: context.home.env,
    });
    const worker = started.workers[0]?.pid as number;
    const release = join(context.home.home, "release");
    await enqueue(context.home, { id: "calm", command: `while [ ! -e ${release} ]; do sleep 0.05; done` });
    await waitFor(async () => (await jobState(context.home, "calm")) === "processing", {
      what: "calm to run",
    });
    const workerLog = join(context.home.home, "workers", `worker-${worker}.log`);
    const first = runCliJson<StopJson>(["worker", "stop"], { env: context.home.env });
    await waitFor(() => existsSync(workerLog) && readFileSync(workerLog, "utf8").includes("waiting for 1"), {
      timeoutMs: 30_000,
      what: "the worker to wait for its running job",
    });
    const second = Bun.spawn(["bun", CLI_PATH, "worker", "stop", "--timeout", "5m"], {
      env: context.home.env,
      stdin: "ignore",
      stdout: "pipe",
      stderr: "pipe",
    });
    let said = "";
    const reading = (async () => {
      for await (const chunk of second.stdout) said += new TextDecoder().decode(chunk);
    })();
    // Told before it waits, so the job is released only once the second stop has had its say.
    await waitFor(() => said.includes("already stopping"), {
      timeoutMs: 30_000,
      what: () => `the note (${said})`,
    });
    writeFileSync(release, "");
    expect(await first).toMatchObject({ stopped: [worker], forced: [], killed: [] });
    expect(await second.exited).toBe(0);
    await reading;
    expect(said).toContain(
      `1 worker(s) already stopping (PID: ${worker}): waiting for their running jobs, up to 5m`,
    );
    expect(said).toContain("Stopped 1 worker(s)");
    expect(await getJob(context.home, "calm")).toMatchObject({ state: "completed", attempts: 1 });
    expect(readFileSync(workerLog, "utf8")).not.toContain("running job(s) now");
  });

  test("the report names as forced only the workers whose running jobs were stopped", async () => {
    const started = await runCliJson<{ workers: { pid: number }[] }>(["worker", "start", "--count", "2"], {
      env: context.home.env,
    });
    const pids = started.workers.map((worker) => worker.pid);
    await enqueue(context.home, { id: "one", command: "sleep 300" });
    await waitFor(async () => (await jobState(context.home, "one")) === "processing", { what: "one to run" });
    const status = await runCliJson<{
      workers: { id: string; pid: number }[];
      running: { worker_id: string }[];
    }>(["status"], { env: context.home.env });
    const busy = status.workers.find((worker) => worker.id === status.running[0]?.worker_id)?.pid;
    const idle = pids.find((pid) => pid !== busy);
    const report = await runCliJson<StopJson>(["worker", "stop", "--timeout", "0"], {
      env: { ...context.home.env, QUEUECTL_KILL_GRACE_MS: String(KILL_GRACE_MS) },
    });
    expect(report).toEqual(expect.objectContaining({ forced: [busy], stopped: [idle], killed: [] }));
    expect(await getJob(context.home, "one")).toMatchObject({ state: "pending", attempts: 0 });
  });
});
