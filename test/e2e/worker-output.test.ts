/**
 * Job output end to end: captured by a real worker, read back with `queuectl logs`.
 * Covers huge output (capped files, flat worker memory), stdin, a background child that
 * holds stdout, following a running attempt, and reading from another host.
 *
 * `logs` always runs as its own process; the jobs are enqueued and run in process (a
 * `Worker` on the same file and home, under this host's name), except where the worker
 * process itself is measured.
 */

import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { hostName } from "../../src/core/home.ts";
import { LOG_CAP_BYTES } from "../../src/worker/log-files.ts";
import { Worker } from "../../src/worker/loop.ts";
import { OK } from "../flow/helpers.ts";
import { CLI_PATH, runCli, runCliJson, waitFor } from "../helpers/cli.ts";
import { enqueueSpecs } from "../helpers/enqueue.ts";
import { ForegroundWorker, getJob, jobState, ok, withStore, workerTestContext } from "../worker/helpers.ts";

// Real processes on a busy two-core machine: generous, not the 5 s default.
setDefaultTimeout(60_000);

const context = workerTestContext();

const cli = (...args: string[]) => runCli(args, { env: context.home.env });

function enqueue(spec: Record<string, unknown>): Promise<void> {
  return withStore(context.home, (store) => enqueueSpecs(store, [spec]));
}

/** Runs every job there is with an in-process worker, as `worker run --drain` would, and returns. */
function drain(): Promise<void> {
  return withStore(context.home, (store) =>
    new Worker({
      store,
      home: context.home.home,
      host: hostName(context.home.env),
      concurrency: 1,
      queues: null,
      drain: true,
      onEvent: () => {},
    }).run(),
  );
}

function rssKb(pid: number): number {
  const match = readFileSync(`/proc/${pid}/status`, "utf8").match(/^VmRSS:\s+(\d+)/m);
  return Number(match?.[1] ?? 0);
}

interface LogsJson {
  attempt: number;
  source: string;
  stdout: string | null;
  stderr: string | null;
  stdout_bytes: number;
  output_tail?: string;
  note?: string;
}

describe("job output", () => {
  test("50 MB of output: the log keeps a capped tail, the total is recorded, worker memory stays flat", async () => {
    const total = 50 * 1024 * 1024;
    const worker = new ForegroundWorker(context.home);
    context.spawned.push(worker);
    await worker.waitForOutput("started (pid");
    const baseline = rssKb(worker.pid);
    await enqueue({
      id: "loud",
      command: `for i in 1 2 3 4 5; do head -c ${total / 5} /dev/zero | tr '\\0' 'x'; done; echo; echo last-line`,
    });
    let peak = baseline;
    await waitFor(
      async () => {
        peak = Math.max(peak, rssKb(worker.pid));
        return (await jobState(context.home, "loud")) === "completed";
      },
      { timeoutMs: 60_000, intervalMs: 20, what: "the loud job to complete" },
    );
    // Holding the output would add 50 MB; streaming adds buffers and garbage, a few MB.
    expect(peak - baseline).toBeLessThan(40 * 1024);

    const files = readdirSync(join(context.home.home, "logs"));
    const onDisk = files.reduce((sum, file) => sum + statSync(join(context.home.home, "logs", file)).size, 0);
    expect(onDisk).toBeLessThanOrEqual(LOG_CAP_BYTES);
    for (const file of files)
      expect(statSync(join(context.home.home, "logs", file)).mode & 0o777).toBe(0o600);

    const shown = await cli("logs", "loud");
    expect(shown.exitCode).toBe(0);
    expect(shown.stdout.endsWith("xxxx\nlast-line\n")).toBe(true);
    expect(shown.stdout.length).toBeLessThanOrEqual(LOG_CAP_BYTES);
    expect(shown.stderr).toContain(`only the last ${shown.stdout.length} of ${total + 11} bytes were kept`);
    const json = await runCliJson<LogsJson>(["logs", "loud"], { env: context.home.env });
    expect(json.stdout_bytes).toBe(total + 11);
    // Followed, the same attempt says as much rather than pass over what rotated away.
    const followed = await runCli(["logs", "loud", "--follow"], { env: context.home.env, process: true });
    expect(followed.exitCode).toBe(0);
    expect(followed.stdout).toBe(shown.stdout);
    expect(followed.stderr).toContain(`(stdout: ${shown.stdout.length} of ${total + 11} bytes shown;`);
  }, 120_000);

  test("stdin is at EOF, and a background child holding stdout does not hang the job", async () => {
    await enqueue({ id: "reader", command: "cat; echo read-all" });
    await enqueue({ id: "bg", command: "sleep 300 & echo main-exits" });
    await drain();
    expect(await getJob(context.home, "reader")).toMatchObject({ state: "completed" });
    expect(await getJob(context.home, "bg")).toMatchObject({ state: "completed" });
    expect(ok(await cli("logs", "reader"))).toBe("read-all\n");
    expect(ok(await cli("logs", "bg"))).toBe("main-exits\n");
  }, 60_000);

  test("logs picks attempts and streams: --attempt, --stderr, and stdout/stderr split by default", async () => {
    await withStore(context.home, (store) => store.configSet({ key: "backoff-base", value: "1" }));
    await enqueue({
      id: "twice",
      command: 'echo "out $QUEUECTL_ATTEMPT"; echo "err $QUEUECTL_ATTEMPT" >&2; [ "$QUEUECTL_ATTEMPT" = 2 ]',
      max_retries: 1,
    });
    await drain();
    expect(await jobState(context.home, "twice")).toBe("completed");
    const latest = await cli("logs", "twice");
    expect(latest).toMatchObject({ exitCode: 0, stdout: "out 2\n", stderr: "err 2\n" });
    expect(ok(await cli("logs", "twice", "--attempt", "1", "--stderr"))).toBe("err 1\n");
    const json = await runCliJson<LogsJson>(["logs", "twice", "--attempt", "1"], { env: context.home.env });
    expect(json).toMatchObject({ attempt: 1, source: "files", stdout: "out 1\n", stderr: "err 1\n" });

    const missing = await cli("logs", "twice", "--attempt", "7");
    expect(missing.exitCode).toBe(2);
    expect(missing.stderr).toContain("has no attempt #7; its attempts are #1, #2 — ");
    const unknown = await cli("logs", "nope");
    expect(unknown.exitCode).toBe(2);
  }, 60_000);

  test("on this host without the log files, logs prints the tail with both streams, and --stderr refuses to pass it off as stderr", async () => {
    await enqueue({ id: "homeless", command: "echo OUT1; echo ERR1 >&2" });
    await drain();
    // Another QUEUECTL_HOME on this host, so the files are not where it looks.
    const other = {
      ...context.home.env,
      QUEUECTL_HOME: join(context.home.home, "elsewhere"),
      QUEUECTL_DB: join(context.home.home, "jobs.db"),
    };
    const result = await runCli(["logs", "homeless"], { env: other });
    expect(result.exitCode).toBe(0);
    expect(result.stdout).toBe("OUT1\nERR1\n");
    expect(result.stderr).toContain("stdout and stderr together");
    expect(result.stderr).toContain("(removed, or written under another QUEUECTL_HOME)");
    const onlyErrors = await runCli(["logs", "homeless", "--stderr"], { env: other });
    expect(onlyErrors.exitCode).toBe(2);
    expect(onlyErrors.stdout).toBe("");
    expect(onlyErrors.stderr).toContain("--stderr cannot pick stderr out");
    expect(onlyErrors.stderr.trimEnd().split("\n")).toHaveLength(1);
  }, 60_000);

  test("from another host, logs prints the tail kept in the store and says where the files are", async () => {
    await enqueue({ id: "far", command: "echo from-far-away" });
    await drain();
    const remote = await runCli(["logs", "far"], {
      env: { ...context.home.env, QUEUECTL_HOST: "somewhere-else" },
    });
    expect(remote.exitCode).toBe(0);
    expect(remote.stdout).toBe("from-far-away\n");
    expect(remote.stderr).toMatch(
      /the full log is on host \S+ in \$QUEUECTL_HOME\/logs\/[0-9a-f]{32}-1\.out/,
    );
  }, 60_000);

  test("an attempt still running on another host: logs says its output is there until it ends", async () => {
    await enqueue({ id: "running-far", command: "true", priority: 1_000_000 });
    const token = await withStore(context.home, async (store) => {
      const claimed = await store.jobClaim({
        workerId: "far-worker",
        host: "far-host",
        now: Date.now(),
        leaseMs: 600_000,
      });
      expect(claimed?.id).toBe("running-far");
      return claimed?.token ?? 0;
    });
    const result = await cli("logs", "running-far");
    expect(result.exitCode).toBe(0);
    expect(result.stdout).toBe("");
    expect(result.stderr).toContain(
      "(attempt #1: it is still running on host far-host, which keeps its output until it ends;",
    );
    const json = await runCliJson<{ note: string; output_tail: null }>(["logs", "running-far", "--json"], {
      env: context.home.env,
    });
    expect(json).toMatchObject({
      output_tail: null,
      note: expect.stringContaining("still running on host far-host"),
    });
    // Ended, so that no later test waits for it.
    await withStore(context.home, (store) =>
      store.jobComplete({ id: "running-far", token, now: Date.now(), result: OK }),
    );
  }, 60_000);

  test("logs --follow waits for the job, streams its output while it runs, and ends with it", async () => {
    // The job waits for the test after its first tick: a follower slow to start on a busy
    // machine must still see the job running.
    const go = join(context.home.home, "go");
    await enqueue({
      id: "ticker",
      command: `echo tick 1; while [ ! -e '${go}' ]; do sleep 0.05; done; echo tick 2; sleep 0.3; echo tick 3; echo boom >&2; exit 2`,
      max_retries: 0,
    });
    const follower = Bun.spawn(["bun", CLI_PATH, "logs", "ticker", "--follow"], {
      env: context.home.env,
      stdout: "pipe",
      stderr: "pipe",
    });
    let seen = "";
    const reading = (async () => {
      const decoder = new TextDecoder();
      for await (const chunk of follower.stdout) seen += decoder.decode(chunk, { stream: true });
    })();
    const running = drain();
    // Output arrives while the job still runs.
    await waitFor(() => seen.includes("tick 1"), { timeoutMs: 20_000, what: "the first tick" });
    expect(await jobState(context.home, "ticker")).toBe("processing");
    writeFileSync(go, "");
    // The job exited 2, so the follow exits as `wait` would: 1.
    expect(await follower.exited).toBe(1);
    await reading;
    expect(seen).toBe("tick 1\ntick 2\ntick 3\n");
    const stderr = await new Response(follower.stderr).text();
    expect(stderr).toContain("boom");
    expect(stderr).toContain("(attempt 1: exited with code 2: boom)");
    expect(stderr).toContain('error: job "ticker" ended dead');
    await running;
  }, 60_000);

  test("logs of a job that has not run is a user error", async () => {
    await enqueue({ id: "waiting", command: "true" });
    const result = await cli("logs", "waiting");
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toContain("has not run yet");
  });
});
