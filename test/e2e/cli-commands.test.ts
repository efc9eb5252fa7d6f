/**
 * The read commands (list, show, status) through the real CLI, over jobs in every state.
 * Jobs reach `processing`, `failed`, `completed` and `dead` without a worker (see
 * helpers/job-states.ts).
 */

import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { runCli, runCliJson, succeeded } from "../helpers/cli.ts";
import { cliHomePerTest, DEFAULT_CONFIG } from "../helpers/cli-home.ts";
import { ids, type JobJson } from "../helpers/job-states.ts";

// CLI calls run in this process; the few that spawn one get time on a busy machine.
setDefaultTimeout(60_000);

const testHome = cliHomePerTest();
const { cli, json } = testHome;

/** The cells of `id`'s row in `list`'s table. */
const row = (table: string, id: string): string[] =>
  (table.split("\n").find((line) => line.startsWith(`${id} `)) ?? "").split(/ {2,}/);

describe("list", () => {
  test("--state for every state, --tag, --limit, --json", async () => {
    await testHome.setup.everyState();
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
      const human = succeeded(await cli("list", "--state", state));
      expect(human).toStartWith("ID ");
      expect(row(human, want[0] ?? "")[1]).toBe(state);
      expect(human).toEndWith("\n1 job\n");
    }
    expect(ids(await json<JobJson[]>("list"))).toEqual(["c", "f", "d", "r", "p", "x"]);
    expect(ids(await json<JobJson[]>("list", "--tag", "nightly"))).toEqual(["c", "p"]);
    // The two newest, as the table shows them, in the JSON order: oldest first.
    expect(ids(await json<JobJson[]>("list", "--limit", "2"))).toEqual(["p", "x"]);
    expect(ids(await json<JobJson[]>("list", "--tag", "nightly", "--state", "pending"))).toEqual(["p"]);
    expect(await json<JobJson[]>("list", "--tag", "none")).toEqual([]);
    expect(succeeded(await cli("list", "--tag", "none"))).toBe("No jobs found.\n");
    expect(ids(await json<JobJson[]>("list", "--state", "DEAD"))).toEqual(["d"]);
  });

  test("--queue filters by named queue", async () => {
    await testHome.setup.enqueue({ id: "a", command: "echo a" });
    await testHome.setup.enqueue({ id: "m", command: "echo m", queue: "emails" });
    expect(ids(await json<JobJson[]>("list", "--queue", "emails"))).toEqual(["m"]);
    expect(ids(await json<JobJson[]>("list", "--queue", "default"))).toEqual(["a"]);
    expect(row(succeeded(await cli("list", "--queue", "emails")), "m")[3]).toBe("emails");
  });

  test("--json has the documented fields", async () => {
    await testHome.setup.enqueue({ id: "a", command: "echo a" });
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
    await testHome.setup.everyState();
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
    const [, state, attempts, , time] = row(succeeded(await cli("list", "--state", "failed")), "f");
    expect([state, attempts]).toEqual(["failed", "1/4"]);
    expect(time).toMatch(/^in (59m[0-5]?\ds|1h)$/);
    expect(row(succeeded(await cli("list")), "c")[4]).toMatch(/^took \d+ms$/);
  });
});

describe("show", () => {
  test("the spec, the state and every attempt", async () => {
    await testHome.setup.enqueue({ id: "flaky", command: "exit 1", max_retries: 1, tags: ["t"] });
    const fresh = await json<{ attempts: unknown[]; state: string }>("show", "flaky");
    expect(fresh.state).toBe("pending");
    expect(fresh.attempts).toEqual([]);
    expect(succeeded(await cli("show", "flaky"))).toContain("(no attempts yet)");

    await testHome.setup.run("flaky", "failed", 0);
    await testHome.setup.run("flaky", "dead");
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

    const human = succeeded(await cli("show", "flaky"));
    expect(human).toStartWith("ID: flaky\n");
    expect(human).toContain("  State: dead\n");
    expect(human).toContain("  Attempts: 2/2\n");
    expect(human).toMatch(/#1 .*exit 1.*\(test-host\)/);
    expect(human).toMatch(/#2 .*exit 1.*\(test-host\)/);
  });

  test("the human form shows the declared fields", async () => {
    await testHome.setup.enqueue({
      id: "full",
      command: ["echo", "a b"],
      max_retries: 0,
      timeout: "5m",
      run_at: "2030-01-01T09:00:00Z",
      cwd: "/srv/app",
      env: { TOKEN: "secret-value", MODE: "fast" },
      limits: { memory: "256M", cpu_time: "10m" },
      notify: [{ url: "https://hooks.example.com/t/secret-path?key=k", events: ["dead"] }],
    });
    const human = succeeded(await cli("show", "full"));
    expect(human).toContain("  Limits: memory 256 MB, cpu 10m\n");
    expect(human).toContain("  Webhooks: hooks.example.com (dead)\n");
    expect(human).not.toContain("secret-path");
    // As a shell would take it back: single quotes keep $, * and ` as they are.
    expect(human).toContain("  Command: echo 'a b'\n");
    expect(human).toContain("  Max retries: 0 (at most 1 run)\n");
    expect(human).toContain("  Timeout: 5m\n");
    expect(human).toContain("  Run at: 2030-01-01T09:00:00.000Z\n");
    expect(human).toContain("  Working folder: /srv/app\n");
    expect(human).toContain("  Environment: MODE, TOKEN\n");
    expect(human).not.toContain("secret-value");
    await testHome.setup.enqueue({ id: "plain", command: "x" });
    expect(succeeded(await cli("show", "plain"))).toContain("  Timeout: the job-timeout config\n");
  });

  test("a running attempt shows as running", async () => {
    await testHome.setup.enqueue({ id: "slow", command: "sleep 1" });
    await testHome.setup.run("slow", "processing");
    const shown = await json<{ attempts: { finished_at: string | null }[] }>("show", "slow");
    expect(shown.attempts).toHaveLength(1);
    expect(shown.attempts[0]?.finished_at).toBeNull();
    expect(succeeded(await cli("show", "slow"))).toMatch(/#1 .*running/);
  });
});

describe("status", () => {
  test("--json has exactly {jobs, workers, running, folders, config}", async () => {
    await testHome.setup.everyState();
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
    expect(status.config).toMatchObject(DEFAULT_CONFIG);
  });

  test("workers: every registered one is listed and judged by its heartbeat; status removes none", async () => {
    const env = { ...testHome.home.env, QUEUECTL_HOST: "here" };
    const gone = Bun.spawn(["true"]);
    await gone.exited;
    await testHome.setup.with(async (store) => {
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
    const human = succeeded(await runCli(["status"], { env }));
    expect(human).toContain("Active Workers: 2");
    expect(human).toContain(`Worker (PID: ${process.pid}) - Running`);
    expect(human).toContain("Lost (no heartbeat for");
    expect(
      (await testHome.setup.with((store) => store.workerList())).map((worker) => worker.id).sort(),
    ).toEqual(["gone", "live", "remote"]);
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
    await testHome.setup.enqueue({ id: "a", command: "x" });
    const human = succeeded(await cli("status"));
    expect(human).toStartWith("=== QueueCTL Status ===\n\nJob States:\n");
    expect(human).toContain("  pending         1\n");
    expect(human).toContain("  total           1\n");
    expect(human).toContain("Active Workers: 0");
    expect(human).toContain("Configuration:\n  max-retries: 3\n");
  });
});

describe("worker --queue", () => {
  test("a queue name that looks like a number is taken as typed", async () => {
    await testHome.setup.enqueue({ id: "dated", command: "true", queue: "2024.10" });
    await testHome.setup.enqueue({ id: "other", command: "true", queue: "2024.1" });
    succeeded(await cli("worker", "run", "--queue", "2024.10", "--drain"));
    const states = Object.fromEntries(
      (await json<JobJson[]>("list", "--json")).map((job) => [job.id, job.state]),
    );
    expect(states).toEqual({ dated: "completed", other: "pending" });
  });
});
