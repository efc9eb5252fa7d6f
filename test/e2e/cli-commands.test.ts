/**
 * Every read and state-changing command through the real CLI. Jobs reach `processing`,
 * `failed`, `completed` and `dead` without a worker: the test claims and finishes them
 * through the store, exactly as a worker would. Set-up (enqueueing, canceling) goes through
 * the store too: those commands have files of their own, and a CLI process per set-up step
 * made this file one of the slowest on a busy machine.
 */

import { afterEach, beforeEach, describe, expect, setDefaultTimeout, test } from "bun:test";
import { join } from "node:path";
import { moveJob } from "../../src/flow/moves.ts";
import { openStore } from "../../src/store/open.ts";
import type { RunResult, Store } from "../../src/store/store.ts";
import { type CliResult, runCli, runCliJson, type TempHome, tempHome } from "../helpers/cli.ts";
import { enqueueSpecs } from "../helpers/enqueue.ts";

// Real processes on a busy two-core machine: generous, not the 5 s default.
setDefaultTimeout(60_000);

interface JobJson {
  id: string;
  state: string;
  attempts: number;
  max_retries: number;
  exit_code: number | null;
  last_error: string | null;
  [key: string]: unknown;
}

let home: TempHome;
beforeEach(() => {
  home = tempHome();
});
afterEach(() => home.cleanup());

const cli = (...args: string[]) => runCli(args, { env: home.env });
const json = <T>(...args: string[]) => runCliJson<T>(args, { env: home.env });
const ids = (jobs: JobJson[]) => jobs.map((job) => job.id);
/** The cells of `id`'s row in `list`'s table. */
const row = (table: string, id: string): string[] =>
  (table.split("\n").find((line) => line.startsWith(`${id} `)) ?? "").split(/ {2,}/);

function ok(result: CliResult): string {
  if (result.exitCode !== 0) throw new Error(`exit ${result.exitCode}: ${result.stderr}`);
  expect(result.stderr).toBe("");
  return result.stdout;
}

function userError(result: CliResult, fragment: string): void {
  expect(result.exitCode).toBe(2);
  expect(result.stdout).toBe("");
  expect(result.stderr).toStartWith("error: ");
  expect(result.stderr).toContain(fragment);
  expect(result.stderr.trimEnd().split("\n")).toHaveLength(1);
}

/** The test plays the worker: it opens the same SQLite file the CLI uses. */
async function withStore<T>(work: (store: Store) => Promise<T>): Promise<T> {
  const store = await openStore({ url: join(home.home, "jobs.db") });
  try {
    return await work(store);
  } finally {
    await store.close();
  }
}

/** Enqueues as `queuectl enqueue '<json>'` does, without a process. */
const enqueue = (spec: Record<string, unknown>) => withStore((store) => enqueueSpecs(store, [spec]));

/** Every job as the store holds it: refused commands must leave this as it was. */
const snapshot = () => withStore((store) => store.jobList({}));

const exited = (exitCode: number): RunResult => ({
  exitCode,
  signal: null,
  error: exitCode === 0 ? null : `exited with code ${exitCode}`,
  stdoutBytes: 3,
  stderrBytes: 0,
  logPath: null,
  outputTail: null,
});

/**
 * Claims the next job (which must be `id`) and records one outcome: `completed`, `failed`
 * (claimable again after `retryInMs`), `dead`, or left `processing`.
 */
async function run(
  id: string,
  outcome: "completed" | "failed" | "dead" | "processing",
  retryInMs = 3_600_000,
): Promise<void> {
  await withStore(async (store) => {
    const now = Date.now();
    const job = await store.jobClaim({ workerId: "test-worker", host: "test-host", now, leaseMs: 60_000 });
    expect(job?.id).toBe(id);
    if (!job || outcome === "processing") return;
    if (outcome === "completed") {
      expect(await store.jobComplete({ id, token: job.token, now: now + 1, result: exited(0) })).toBe(true);
    } else {
      const nextRunAt = outcome === "failed" ? now + retryInMs : now + 1;
      expect(
        await store.jobFail({
          id,
          token: job.token,
          now: now + 1,
          state: outcome,
          nextRunAt,
          result: exited(1),
        }),
      ).toBe(true);
    }
  });
}

/** One job in each state: c completed, f failed, d dead, r processing, p pending, x canceled. */
async function everyState(): Promise<void> {
  for (const id of ["c", "f", "d", "r", "p", "x"]) {
    await enqueue({ id, command: `echo ${id}`, tags: id === "c" || id === "p" ? ["nightly"] : [] });
  }
  await run("c", "completed");
  await run("f", "failed");
  await run("d", "dead");
  await run("r", "processing");
  await withStore((store) => moveJob(store, "x", "cancel", Date.now()));
}

describe("list", () => {
  test("--state for every state, --tag, --limit, --json", async () => {
    await everyState();
    const expected: Record<string, string[]> = {
      pending: ["p"],
      processing: ["r"],
      completed: ["c"],
      failed: ["f"],
      dead: ["d"],
      canceled: ["x"],
    };
    for (const [state, want] of Object.entries(expected)) {
      const jobs = await json<JobJson[]>("list", "--state", state);
      expect(ids(jobs)).toEqual(want);
      expect(jobs[0]?.state).toBe(state);
      const human = ok(await cli("list", "--state", state));
      expect(human).toStartWith("ID ");
      expect(row(human, want[0] ?? "")[1]).toBe(state);
      expect(human).toEndWith("\n1 job\n");
    }
    expect(ids(await json<JobJson[]>("list"))).toEqual(["c", "f", "d", "r", "p", "x"]);
    expect(ids(await json<JobJson[]>("list", "--tag", "nightly"))).toEqual(["c", "p"]);
    expect(ids(await json<JobJson[]>("list", "--limit", "2"))).toEqual(["c", "f"]);
    expect(ids(await json<JobJson[]>("list", "--tag", "nightly", "--state", "pending"))).toEqual(["p"]);
    expect(await json<JobJson[]>("list", "--tag", "none")).toEqual([]);
    expect(ok(await cli("list", "--tag", "none"))).toBe("No jobs found.\n");
    expect(ids(await json<JobJson[]>("list", "--state", "DEAD"))).toEqual(["d"]);
  });

  test("--queue filters by named queue", async () => {
    await enqueue({ id: "a", command: "echo a" });
    await enqueue({ id: "m", command: "echo m", queue: "emails" });
    expect(ids(await json<JobJson[]>("list", "--queue", "emails"))).toEqual(["m"]);
    expect(ids(await json<JobJson[]>("list", "--queue", "default"))).toEqual(["a"]);
    expect(row(ok(await cli("list", "--queue", "emails")), "m")[3]).toBe("emails");
  });

  test("--json has the documented fields", async () => {
    await enqueue({ id: "a", command: "echo a" });
    const [job] = await json<JobJson[]>("list");
    for (const field of [
      "id",
      "command",
      "state",
      "attempts",
      "max_retries",
      "priority",
      "created_at",
      "updated_at",
      "next_run_at",
      "last_error",
      "exit_code",
      "tags",
    ]) {
      expect(job).toHaveProperty(field);
    }
  });

  test("the failed and completed jobs carry their outcome", async () => {
    await everyState();
    const jobs = await json<JobJson[]>("list");
    const byId = Object.fromEntries(jobs.map((job) => [job.id, job]));
    expect(byId.c).toMatchObject({ state: "completed", attempts: 1, exit_code: 0, last_error: null });
    expect(byId.f).toMatchObject({
      state: "failed",
      attempts: 1,
      exit_code: 1,
      last_error: "exited with code 1",
    });
    expect(byId.d).toMatchObject({ state: "dead", attempts: 1, exit_code: 1 });
    const [, state, attempts, , time] = row(ok(await cli("list", "--state", "failed")), "f");
    expect([state, attempts]).toEqual(["failed", "1/4"]);
    expect(time).toMatch(/^in (59m[0-5]?\ds|1h)$/);
    expect(row(ok(await cli("list")), "c")[4]).toMatch(/^took \d+ms$/);
  });
});

describe("show", () => {
  test("the spec, the state and every attempt", async () => {
    await enqueue({ id: "flaky", command: "exit 1", max_retries: 1, tags: ["t"] });
    const fresh = await json<{ attempts: unknown[]; state: string }>("show", "flaky");
    expect(fresh.state).toBe("pending");
    expect(fresh.attempts).toEqual([]);
    expect(ok(await cli("show", "flaky"))).toContain("(no attempts yet)");

    await run("flaky", "failed", 0);
    await run("flaky", "dead");
    const shown = await json<{
      id: string;
      state: string;
      spec: unknown;
      attempts: { attempt: number; exit_code: number; error: string; host: string; finished_at: string }[];
    }>("show", "flaky");
    expect(shown).toMatchObject({ id: "flaky", state: "dead", spec: { id: "flaky", command: "exit 1" } });
    expect(shown.attempts.map((a) => [a.attempt, a.exit_code, a.error, a.host])).toEqual([
      [1, 1, "exited with code 1", "test-host"],
      [2, 1, "exited with code 1", "test-host"],
    ]);
    expect(shown.attempts.every((a) => !Number.isNaN(Date.parse(a.finished_at)))).toBe(true);

    const human = ok(await cli("show", "flaky"));
    expect(human).toStartWith("ID: flaky\n");
    expect(human).toContain("  State: dead\n");
    expect(human).toContain("  Attempts: 2/2\n");
    expect(human).toMatch(/#1 .*exit 1.*\(test-host\)/);
    expect(human).toMatch(/#2 .*exit 1.*\(test-host\)/);
  });

  test("the human form shows the declared fields", async () => {
    await enqueue({
      id: "full",
      command: ["echo", "a b"],
      max_retries: 0,
      timeout: "5m",
      run_at: "2030-01-01T09:00:00Z",
      cwd: "/srv/app",
      env: { TOKEN: "secret-value", MODE: "fast" },
    });
    const human = ok(await cli("show", "full"));
    expect(human).toContain('  Command: echo "a b"\n');
    expect(human).toContain("  Max retries: 0 (at most 1 run)\n");
    expect(human).toContain("  Timeout: 5m\n");
    expect(human).toContain("  Run at: 2030-01-01T09:00:00.000Z\n");
    expect(human).toContain("  Working folder: /srv/app\n");
    expect(human).toContain("  Environment: MODE, TOKEN\n");
    expect(human).not.toContain("secret-value");
    await enqueue({ id: "plain", command: "x" });
    expect(ok(await cli("show", "plain"))).toContain("  Timeout: the job-timeout config\n");
  });

  test("a running attempt shows as running", async () => {
    await enqueue({ id: "slow", command: "sleep 1" });
    await run("slow", "processing");
    const shown = await json<{ attempts: { finished_at: string | null }[] }>("show", "slow");
    expect(shown.attempts).toHaveLength(1);
    expect(shown.attempts[0]?.finished_at).toBeNull();
    expect(ok(await cli("show", "slow"))).toMatch(/#1 .*running/);
  });
});

describe("status", () => {
  test("--json has exactly {jobs, workers, running, folders, config}", async () => {
    await everyState();
    const status = await json<Record<string, unknown>>("status");
    expect(Object.keys(status).sort()).toEqual(["config", "folders", "jobs", "running", "workers"]);
    expect(status.jobs).toEqual({
      pending: 1,
      processing: 1,
      completed: 1,
      failed: 1,
      dead: 1,
      canceled: 1,
      total: 6,
    });
    expect(status.workers).toEqual([]);
    expect(status.config).toMatchObject({
      "max-retries": 3,
      "backoff-base": 2,
      "backoff-max": 3600,
      "poll-interval": 1,
      "job-timeout": 3600,
      lease: 30,
    });
  });

  test("workers: every registered one is listed and judged by its heartbeat; status removes none", async () => {
    const env = { ...home.env, QUEUECTL_HOST: "here" };
    const gone = Bun.spawn(["true"]);
    await gone.exited;
    await withStore(async (store) => {
      const now = Date.now();
      await store.workerRegister({ id: "live", host: "here", pid: process.pid, now, queues: null });
      await store.workerRegister({ id: "gone", host: "here", pid: gone.pid, now, queues: null });
      await store.workerRegister({
        id: "remote",
        host: "elsewhere",
        pid: gone.pid,
        now: now - 3_600_000,
        queues: ["q"],
      });
    });
    const status = await runCliJson<{ workers: Record<string, unknown>[] }>(["status"], { env });
    const byId = Object.fromEntries(status.workers.map((worker) => [worker.id, worker]));
    // "gone" has no process here, but its heartbeat is fresh: another container may run it.
    expect(Object.keys(byId).sort()).toEqual(["gone", "live", "remote"]);
    expect(byId.gone).toMatchObject({ alive: true });
    expect(byId.live).toMatchObject({
      host: "here",
      pid: process.pid,
      alive: true,
      stop_requested: false,
      queues: null,
    });
    expect(byId.remote).toMatchObject({ host: "elsewhere", alive: false, queues: ["q"] });
    for (const field of ["started_at", "heartbeat_at", "heartbeat_age_ms"])
      expect(byId.live).toHaveProperty(field);
    const human = ok(await runCli(["status"], { env }));
    expect(human).toContain("Active Workers: 2");
    expect(human).toContain(`Worker (PID: ${process.pid}) - Running`);
    expect(human).toContain("Lost (no heartbeat for");
    expect((await withStore((store) => store.workerList())).map((worker) => worker.id).sort()).toEqual([
      "gone",
      "live",
      "remote",
    ]);
  });

  test("an empty queue, and the human form", async () => {
    const status = await json<{ jobs: Record<string, number> }>("status");
    expect(status.jobs).toEqual({
      pending: 0,
      processing: 0,
      completed: 0,
      failed: 0,
      dead: 0,
      canceled: 0,
      total: 0,
    });
    await enqueue({ id: "a", command: "x" });
    const human = ok(await cli("status"));
    expect(human).toStartWith("=== QueueCTL Status ===\n\nJob States:\n");
    expect(human).toContain("  pending         1\n");
    expect(human).toContain("  total           1\n");
    expect(human).toContain("Active Workers: 0");
    expect(human).toContain("Configuration:\n  max-retries: 3\n");
  });
});

describe("worker --queue", () => {
  test("a queue name that looks like a number is taken as typed", async () => {
    await enqueue({ id: "dated", command: "true", queue: "2024.10" });
    await enqueue({ id: "other", command: "true", queue: "2024.1" });
    ok(await cli("worker", "run", "--queue", "2024.10", "--drain"));
    const states = Object.fromEntries(
      (await json<JobJson[]>("list", "--json")).map((job) => [job.id, job.state]),
    );
    expect(states).toEqual({ dated: "completed", other: "pending" });
  });
});

describe("dlq", () => {
  test("list shows only dead jobs; retry <id> moves one back with attempts reset", async () => {
    await everyState();
    expect(ids(await json<JobJson[]>("dlq", "list"))).toEqual(["d"]);
    const human = ok(await cli("dlq", "list"));
    expect(human).toContain("Found 1 job(s):");
    expect(human).toContain("ID: d\n");
    expect(ok(await cli("dlq", "retry", "d"))).toContain("Job d moved back to pending (attempts reset)");
    expect(ids(await json<JobJson[]>("list", "--state", "pending"))).toEqual(["d", "p"]);
    expect((await json<JobJson>("show", "d")).state).toBe("pending");
    expect((await json<JobJson[]>("list")).find((j) => j.id === "d")?.attempts).toBe(0);
    expect(ok(await cli("dlq", "list"))).toBe("The DLQ is empty.\n");
    expect(await json<JobJson[]>("dlq", "list")).toEqual([]);
  });

  test("retry --all empties the DLQ; retrying a job that is not dead is exit 2", async () => {
    for (const id of ["d1", "d2", "ok"]) await enqueue({ id, command: "x", max_retries: 0 });
    await run("d1", "dead");
    await run("d2", "dead");
    await run("ok", "completed");
    const before = await snapshot();
    userError(await cli("dlq", "retry", "ok"), 'job "ok" is completed, not dead');
    expect(await snapshot()).toEqual(before);
    expect(await json<{ retried: string[] }>("dlq", "retry", "--all")).toEqual({ retried: ["d1", "d2"] });
    expect(ids(await json<JobJson[]>("list", "--state", "pending"))).toEqual(["d1", "d2"]);
    expect(ok(await cli("dlq", "retry", "--all"))).toContain("0 job(s) moved");
  });
});

describe("cancel and rerun", () => {
  test("cancel: pending and failed jobs; running or finished ones are exit 2", async () => {
    await everyState();
    ok(await cli("cancel", "p"));
    expect(await json<{ canceled: string }>("cancel", "f")).toEqual({ canceled: "f" });
    expect(ids(await json<JobJson[]>("list", "--state", "canceled"))).toEqual(["f", "p", "x"]);
    const before = await snapshot();
    userError(await cli("cancel", "r"), 'job "r" is processing');
    userError(await cli("cancel", "c"), 'job "c" is completed');
    userError(await cli("cancel", "x"), 'job "x" is canceled');
    expect(await snapshot()).toEqual(before);
  });

  test("rerun: completed, dead and canceled jobs run again with attempts reset", async () => {
    await everyState();
    expect(ok(await cli("rerun", "c"))).toContain("Job c queued to run again");
    expect(await json<{ rerun: string }>("rerun", "d")).toEqual({ rerun: "d" });
    ok(await cli("rerun", "x"));
    const jobs = await json<JobJson[]>("list", "--state", "pending");
    expect(ids(jobs)).toEqual(["c", "d", "p", "x"]);
    expect(jobs.map((job) => job.attempts)).toEqual([0, 0, 0, 0]);
    const before = await snapshot();
    userError(await cli("rerun", "p"), "not finished");
    userError(await cli("rerun", "r"), "not finished");
    expect(await snapshot()).toEqual(before);
  });
});

describe("config", () => {
  test("get: every key, one key, --json", async () => {
    const all = await json<Record<string, number>>("config", "get");
    expect(all).toEqual(
      expect.objectContaining({
        "max-retries": 3,
        "backoff-base": 2,
        "backoff-max": 3600,
        "poll-interval": 1,
        "job-timeout": 3600,
        lease: 30,
      }),
    );
    expect(ok(await cli("config", "get", "max-retries"))).toBe("3\n");
    expect(await json("config", "get", "lease")).toEqual({ lease: 30 });
    expect(ok(await cli("config", "get"))).toMatch(/^max-retries +3 /m);
  });

  test.each([
    ["max-retries", "5", 5],
    ["max-retries", "0", 0],
    ["backoff-base", "3", 3],
    ["backoff-max", "5m", 300],
    ["poll-interval", "2", 2],
    ["poll-interval", "500ms", 0.5],
    ["job-timeout", "2h", 7200],
    ["job-timeout", "90s", 90],
    ["lease", "30s", 30],
    ["lease", "5m", 300],
  ])("set %s %s", async (key, value, stored) => {
    expect(ok(await cli("config", "set", key, value))).toContain(`${key} = ${stored}`);
    expect(ok(await cli("config", "get", key))).toBe(`${stored}\n`);
    expect(await json("config", "get", key)).toEqual({ [key]: stored });
    const status = await json<{ config: Record<string, number> }>("status");
    expect(status.config[key]).toBe(stored);
  });

  test("the original's underscore spelling works", async () => {
    ok(await cli("config", "set", "max_retries", "4"));
    expect(ok(await cli("config", "get", "max_retries"))).toBe("4\n");
  });
});

describe("version and help", () => {
  test("--version", async () => {
    expect(ok(await cli("--version"))).toBe("queuectl, version 1.0.0\n");
  });

  test("--help and no arguments list every command", async () => {
    const help = ok(await cli("--help"));
    expect(ok(await cli())).toBe(help);
    for (const command of [
      "enqueue",
      "list",
      "show",
      "status",
      "worker start",
      "worker stop",
      "dlq list",
      "dlq retry",
      "cancel",
      "rerun",
      "config get",
      "config set",
    ]) {
      expect(help).toContain(`  ${command}`);
    }
  });

  test.each([
    ["enqueue", "--file"],
    ["list", "--state"],
    ["show", "<id>"],
    ["status", "--json"],
    ["dlq list", "--json"],
    ["dlq retry", "--all"],
    ["cancel", "<id>"],
    ["rerun", "<id>"],
    ["config get", "[key]"],
    ["config set", "max-retries"],
    ["worker start", "Usage"],
  ])("%s --help", async (command, fragment) => {
    const out = ok(await cli(...command.split(" "), "--help"));
    expect(out).toContain(`$ queuectl ${command}`);
    expect(out).toContain(fragment);
    expect(ok(await cli(...command.split(" "), "-h"))).toBe(out);
  });

  test.each(["worker", "dlq", "config"])("%s --help lists its subcommands", async (group) => {
    const out = ok(await cli(group, "--help"));
    expect(out).toContain(`Usage: queuectl ${group} <`);
    expect(out).toMatch(new RegExp(`queuectl ${group} \\w+ +\\S`));
  });

  test("help never touches the database", async () => {
    ok(await runCli(["list", "--help"], { env: { ...home.env, QUEUECTL_DB: "/proc/nowhere/jobs.db" } }));
  });
});
