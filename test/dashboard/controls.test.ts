/**
 * The dashboard's controls and the reads behind its panels, over real HTTP against a real
 * `queuectl dashboard` process: queues with pause and resume, schedules with their next
 * run, a job's dependencies both ways, kill, and the live
 * output of a job that a real `queuectl worker run` process is running.
 */

import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { normalizeSpec, specRevision } from "../../src/core/spec.ts";
import { CLI_PATH, runCliJson, type TempHome, tempHome, waitFor } from "../helpers/cli.ts";
import { enqueue, openTestStore } from "./fixtures.ts";
import { type RunningDashboard, startDashboard } from "./server.ts";

// Real processes on a busy two-core machine: generous, not the 5 s default.
setDefaultTimeout(60_000);

let home: TempHome;
let dashboard: RunningDashboard;
let worker: ReturnType<typeof Bun.spawn> | undefined;

type Json = Record<string, unknown>;

async function get<T = Json>(path: string): Promise<T> {
  const response = await fetch(`${dashboard.origin}${path}`, { headers: dashboard.auth });
  if (!response.ok) throw new Error(`GET ${path}: ${response.status} ${await response.text()}`);
  return (await response.json()) as T;
}

function post(path: string): Promise<Response> {
  return fetch(`${dashboard.origin}${path}`, { method: "POST", headers: dashboard.auth });
}

beforeAll(async () => {
  home = tempHome({ QUEUECTL_HOST: "dashboard-test-host" });
  const store = openTestStore(home.home);
  const now = Date.now();
  await enqueue(store, { id: "build", command: "true", queue: "ci" }, now);
  await enqueue(store, { id: "test", command: "true", queue: "ci", after: ["build"] }, now + 1);
  await enqueue(store, { id: "ship", command: "true", queue: "ci", after: ["build", "test"] }, now + 2);
  await store.queueSet({ name: "ci", paused: true, concurrency: 2 });
  const spec = normalizeSpec({ id: "nightly", command: "./backup.sh", schedule: "0 3 * * *" });
  await store.scheduleUpsert({
    id: "nightly",
    spec,
    revision: specRevision(spec),
    source: null,
    nextAt: Date.UTC(2030, 0, 2, 3),
    now,
  });
  await store.close();
  dashboard = await startDashboard(home.env);
});

afterAll(async () => {
  // Lets the job waiting on its gate end, should the test have failed before opening it.
  if (home) writeFileSync(join(home.home, "gate"), "");
  if (worker) {
    worker.kill("SIGTERM");
    await worker.exited;
  }
  await dashboard?.stop();
  home?.cleanup();
});

describe("queues", () => {
  test("GET /api/queues is `queue list --json`", async () => {
    const [api, cli] = await Promise.all([
      get<Json[]>("/api/queues"),
      runCliJson<Json[]>(["queue", "list"], { env: home.env }),
    ]);
    expect(api).toEqual(cli);
    const ci = api.find((queue) => queue.name === "ci") ?? {};
    expect([ci.paused, ci.concurrency, (ci.counts as Json).pending]).toEqual([true, 2, 3]);
  });

  test("POST /api/queues/<name>/resume and /pause flip the switch", async () => {
    expect(await (await post("/api/queues/ci/resume")).json()).toEqual({ queue: "ci", paused: false });
    const paused = async () =>
      ((await get<Json[]>("/api/queues")).find((queue) => queue.name === "ci") as Json).paused;
    expect(await paused()).toBe(false);
    expect(await (await post("/api/queues/ci/pause")).json()).toEqual({ queue: "ci", paused: true });
    expect(await paused()).toBe(true);
  });

  test("an unknown queue is a 404 and is not created", async () => {
    const response = await post("/api/queues/nope/pause");
    expect(response.status).toBe(404);
    expect(((await response.json()) as Json).hint).toContain("/api/queues");
    expect((await get<Json[]>("/api/queues")).map((queue) => queue.name)).not.toContain("nope");
  });
});

describe("schedules and dependencies", () => {
  test("GET /api/schedules is `schedule list --json`, with the next run", async () => {
    const [api, cli] = await Promise.all([
      get<Json[]>("/api/schedules"),
      runCliJson<Json[]>(["schedule", "list"], { env: home.env }),
    ]);
    expect(api).toEqual(cli);
    expect(api.map((schedule) => [schedule.id, schedule.next_run_at])).toEqual([
      ["nightly", "2030-01-02T03:00:00.000Z"],
    ]);
  });

  test("GET /api/jobs/<id>/dependencies gives upstream and downstream with states", async () => {
    expect(await get("/api/jobs/ship/dependencies")).toEqual({
      id: "ship",
      upstream: [
        { id: "build", state: "pending" },
        { id: "test", state: "pending" },
      ],
      downstream: [],
      downstream_total: 0,
    });
    expect(await get("/api/jobs/build/dependencies")).toEqual({
      id: "build",
      upstream: [],
      downstream: [
        { id: "test", state: "pending" },
        { id: "ship", state: "pending" },
      ],
      downstream_total: 2,
    });
    const missing = await fetch(`${dashboard.origin}/api/jobs/nope/dependencies`, {
      headers: dashboard.auth,
    });
    expect(missing.status).toBe(404);
  });
});

describe("kill", () => {
  test("POST /api/jobs/<id>/kill cancels a job that has not started, and refuses one that ended", async () => {
    const store = openTestStore(home.home);
    await enqueue(store, { id: "doomed", command: "true", queue: "ci" }, Date.now());
    await store.jobTransition({
      id: "doomed",
      from: ["pending"],
      to: "canceled",
      resetAttempts: false,
      now: Date.now(),
    });
    await enqueue(store, { id: "waiting", command: "true", queue: "ci" }, Date.now());
    await store.close();
    const response = await post("/api/jobs/waiting/kill");
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ killed: "waiting", result: "canceled" });
    expect((await get("/api/jobs/waiting")).state).toBe("canceled");
    const ended = await post("/api/jobs/doomed/kill");
    expect(ended.status).toBe(409);
    expect(((await ended.json()) as Json).error).toContain("only pending, failed or running jobs");
    expect((await post("/api/jobs/nope/kill")).status).toBe(404);
  });
});

describe("live output", () => {
  test("a running job's output shows while it runs, then the stored tail once it ends", async () => {
    const gate = join(home.home, "gate");
    const store = openTestStore(home.home);
    await enqueue(
      store,
      {
        id: "printer",
        command: `echo live-line-1; echo warn-line >&2; while [ ! -e '${gate}' ]; do sleep 0.05; done; echo last-line`,
      },
      Date.now(),
    );
    await store.close();
    worker = Bun.spawn(["bun", CLI_PATH, "worker", "run"], {
      env: home.env,
      stdout: "ignore",
      stderr: "ignore",
    });
    type Log = { attempts: { running: boolean; live: boolean; host: string; output_tail: string | null }[] };
    const running = await waitFor(
      async () => {
        const log = await get<Log>("/api/jobs/printer/log");
        const attempt = log.attempts[0];
        // Each stream reaches its own log file in its own time: wait for both lines.
        const tail = attempt?.output_tail ?? "";
        return tail.includes("live-line-1") && tail.includes("warn-line") ? attempt : null;
      },
      { timeoutMs: 30_000, what: "the running job's live output" },
    );
    expect(running.running).toBe(true);
    expect(running.live).toBe(true);
    expect(running.host).toBe("dashboard-test-host");
    expect(running.output_tail).toBe("live-line-1\nwarn-line\n");
    expect((await get("/api/jobs/printer")).state).toBe("processing");

    writeFileSync(gate, "");
    const ended = await waitFor(
      async () => {
        const attempt = (await get<Log>("/api/jobs/printer/log")).attempts[0];
        return attempt && !attempt.running ? attempt : null;
      },
      { timeoutMs: 30_000, what: "the job to end" },
    );
    expect(ended.live).toBe(false);
    expect(ended.output_tail).toContain("last-line");
  });
});
