/**
 * Every `/api/…` endpoint of a real `queuectl dashboard` process, over real HTTP, against
 * a real SQLite file; read answers are compared with the CLI's own `--json` output. The
 * dashboard runs as started with no token flag: closed, with the token it printed.
 */

import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { runCliJson, type TempHome, tempHome, waitFor } from "../helpers/cli.ts";
import { enqueue, openTestStore, runJob } from "./fixtures.ts";
import { type RunningDashboard, startDashboard } from "./server.ts";

// Real processes on a busy two-core machine: generous, not the 5 s default.
setDefaultTimeout(60_000);

let home: TempHome;
let dashboard: RunningDashboard;

type Json = Record<string, unknown>;

async function get(path: string, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${dashboard.origin}${path}`, { headers: { ...dashboard.auth, ...headers } });
}

/** A POST as a script makes it: the token in a header. */
async function post(path: string): Promise<Response> {
  return fetch(`${dashboard.origin}${path}`, { method: "POST", headers: dashboard.auth });
}

async function stateOf(id: string): Promise<string> {
  const body = (await (await get(`/api/jobs/${encodeURIComponent(id)}`)).json()) as Json;
  return String(body.state);
}

beforeAll(async () => {
  home = tempHome();
  const store = openTestStore(home.home);
  const now = Date.now();
  const t = now - 300_000;
  await enqueue(store, { id: "ok-1", command: "echo one", tags: ["alpha"] }, t);
  await runJob(store, "ok-1", { start: t + 100, end: t + 2100, exitCode: 0, output: "one\n" });
  await enqueue(store, { id: "Flaky_Job", command: "./flaky.sh", max_retries: 2 }, t + 5000);
  await runJob(store, "Flaky_Job", {
    start: t + 5100,
    end: t + 5600,
    exitCode: 3,
    output: "first try failed\n",
  });
  await runJob(store, "Flaky_Job", {
    start: t + 8000,
    end: t + 9000,
    exitCode: 0,
    output: "second try ok\n",
  });
  for (const id of ["dead-1", "dead-2"]) {
    await enqueue(store, { id, command: "false", max_retries: 0, tags: ["beta"] }, t + 10_000);
    await runJob(store, id, { start: t + 10_100, end: t + 10_200, exitCode: 1 });
  }
  await enqueue(store, { id: "pend-1", command: "echo later", tags: ["alpha", "beta"] }, t + 20_000);
  await enqueue(store, { id: "cancel-me", command: "echo never" }, t + 21_000);
  await enqueue(store, { id: "nightly/backup", command: "./backup.sh" }, t + 22_000, "jobs/nightly.yaml");
  await store.workerRegister({ id: "w-1", host: "remote-host", pid: 4242, now, queues: null });
  await store.folderSyncRecord({
    folder: "/repo/jobs",
    target: "/repo/jobs",
    at: now - 5000,
    host: "remote-host",
    pid: 4343,
    by: "watch",
    files: 2,
    created: 1,
    updated: 0,
    canceled: 0,
    unchanged: 0,
    problems: 1,
    problemList: [{ file: "bad.yaml", line: 2, column: 1, message: "`max_retry` is not a job field" }],
  });
  await store.folderWatcherClaim({
    folder: "/repo/jobs",
    host: "remote-host",
    pid: 4343,
    now,
    replacePid: null,
  });
  await store.folderWatcherBeat({
    folder: "/repo/jobs",
    host: "remote-host",
    pid: 4343,
    now,
    error: "store locked",
  });
  await store.close();
  dashboard = await startDashboard(home.env);
});

afterAll(async () => {
  await dashboard?.stop();
  home?.cleanup();
});

describe("read endpoints", () => {
  test("GET /api/status is the `status --json` shape", async () => {
    const [api, cli] = await Promise.all([
      get("/api/status").then((r) => r.json() as Promise<Json>),
      runCliJson<Json>(["status"], { env: home.env }),
    ]);
    expect(api.jobs).toEqual(cli.jobs);
    expect(api.config).toEqual(cli.config);
    const strip = (workers: unknown) =>
      (workers as Json[]).map(({ heartbeat_age_ms: _age, alive: _alive, ...rest }) => rest);
    expect(strip(api.workers)).toEqual(strip(cli.workers));
    expect((api.jobs as Json).dead).toBe(2);
  });

  test("GET /api/workers lists workers with their heartbeat age", async () => {
    const workers = (await (await get("/api/workers")).json()) as Json[];
    expect(workers.map((w) => [w.id, w.host, w.pid, w.alive])).toEqual([["w-1", "remote-host", 4242, true]]);
    expect(typeof workers[0]?.heartbeat_age_ms).toBe("number");
  });

  test("GET /api/jobs is `list --json`, newest first", async () => {
    const [api, cli] = await Promise.all([
      get("/api/jobs?limit=500").then((r) => r.json() as Promise<Json[]>),
      runCliJson<Json[]>(["list"], { env: home.env }),
    ]);
    expect(api).toEqual(cli.reverse());
    const dead = (await (await get("/api/jobs?state=dead")).json()) as Json[];
    expect(dead).toEqual(
      (await runCliJson<Json[]>(["list", "--state", "dead"], { env: home.env })).reverse(),
    );
  });

  test("GET /api/jobs filters by tag and by a case-insensitive id substring", async () => {
    const ids = async (query: string) =>
      ((await (await get(`/api/jobs?${query}`)).json()) as Json[]).map((job) => job.id);
    expect(await ids("tag=alpha")).toEqual(["pend-1", "ok-1"]);
    expect(await ids("tag=beta&state=pending")).toEqual(["pend-1"]);
    expect(await ids("q=flaky")).toEqual(["Flaky_Job"]);
    expect(await ids("q=DEAD")).toEqual(["dead-2", "dead-1"]);
    // `_` and `%` are literal characters, not LIKE wildcards.
    expect(await ids("q=y_j")).toEqual(["Flaky_Job"]);
    expect(await ids("q=d_a")).toEqual([]);
    expect(await ids("q=%25")).toEqual([]);
    expect(await ids("q=%2Fback")).toEqual(["nightly/backup"]);
  });

  test("GET /api/jobs pages with limit and offset", async () => {
    const all = ((await (await get("/api/jobs")).json()) as Json[]).map((job) => job.id);
    const page = async (offset: number) =>
      ((await (await get(`/api/jobs?limit=3&offset=${offset}`)).json()) as Json[]).map((job) => job.id);
    expect(all.length).toBe(7);
    expect([...(await page(0)), ...(await page(3)), ...(await page(6))]).toEqual(all);
    expect(await page(7)).toEqual([]);
  });

  test("GET /api/jobs refuses bad parameters with a 400 naming them", async () => {
    for (const query of ["state=bogus", "limit=0", "limit=501", "offset=-1", "limit=abc"]) {
      const response = await get(`/api/jobs?${query}`);
      expect(response.status).toBe(400);
      const body = (await response.json()) as Json;
      expect(String(body.error)).toContain(query.split("=")[0] ?? "");
      expect(body.hint).toBeTruthy();
    }
  });

  test("GET /api/jobs/:id is `show --json`, also for ids with a slash", async () => {
    const [api, cli] = await Promise.all([
      get("/api/jobs/Flaky_Job").then((r) => r.json() as Promise<Json>),
      runCliJson<Json>(["show", "Flaky_Job"], { env: home.env }),
    ]);
    expect(api).toEqual(cli);
    const attempts = api.attempts as Json[];
    expect(attempts.map((a) => [a.attempt, a.exit_code, a.duration_ms])).toEqual([
      [1, 3, 500],
      [2, 0, 1000],
    ]);
    const slashed = (await (await get("/api/jobs/nightly%2Fbackup")).json()) as Json;
    expect([slashed.id, slashed.source]).toEqual(["nightly/backup", "jobs/nightly.yaml"]);
  });

  test("GET /api/jobs/:id answers 404 with a hint for an unknown id", async () => {
    const response = await get("/api/jobs/no-such-job");
    expect(response.status).toBe(404);
    expect(await response.json()).toEqual({
      error: 'no job with id "no-such-job"',
      hint: "see GET /api/jobs for the ids in the queue",
    });
    expect((await get("/api/jobs/no-such-job/log")).status).toBe(404);
  });

  test("GET /api/jobs/:id/log gives each attempt's output tail", async () => {
    const body = (await (await get("/api/jobs/Flaky_Job/log")).json()) as Json;
    expect(body.id).toBe("Flaky_Job");
    expect((body.attempts as Json[]).map((a) => [a.attempt, a.output_tail])).toEqual([
      [1, "first try failed\n"],
      [2, "second try ok\n"],
    ]);
  });

  test("GET /api/throughput counts finished attempts per minute, failures apart", async () => {
    const body = (await (await get("/api/throughput")).json()) as {
      bucket_seconds: number;
      buckets: { start: string; completed: number; failed: number }[];
    };
    expect(body.bucket_seconds).toBe(60);
    expect(body.buckets.length).toBe(60);
    const sum = (key: "completed" | "failed") => body.buckets.reduce((n, b) => n + b[key], 0);
    // ok-1 and Flaky_Job's second try completed; its first try and both dead jobs failed.
    expect([sum("completed"), sum("failed")]).toEqual([2, 3]);
    const starts = body.buckets.map((b) => Date.parse(b.start));
    expect(starts.every((start, i) => i === 0 || start - (starts[i - 1] ?? 0) === 60_000)).toBe(true);
    expect((await get("/api/throughput?minutes=0")).status).toBe(400);
    expect(((await (await get("/api/throughput?minutes=5")).json()) as Json[] & Json).buckets).toHaveLength(
      5,
    );
  });

  test("GET /api/sync lists each folder's last sync and watchers, then groups jobfile jobs by source", async () => {
    const body = (await (await get("/api/sync")).json()) as Json;
    expect(body.folders).toEqual([
      expect.objectContaining({
        folder: "/repo/jobs",
        last_sync: expect.objectContaining({ by: "watch", host: "remote-host", files: 2, problems: 1 }),
        watchers: [
          expect.objectContaining({
            host: "remote-host",
            pid: 4343,
            alive: true,
            last_error: "store locked",
          }),
        ],
      }),
    ]);
    expect(body.sources).toEqual([
      {
        source: "jobs/nightly.yaml",
        counts: { pending: 1, processing: 0, completed: 0, failed: 0, dead: 0, canceled: 0, total: 1 },
        undeclared: 0,
        jobs: [{ id: "nightly/backup", state: "pending", declared: true }],
      },
    ]);
  });

  test("GET /api/events streams the status, again after every change", async () => {
    const controller = new AbortController();
    const response = await fetch(`${dashboard.origin}/api/events`, {
      signal: controller.signal,
      headers: dashboard.auth,
    });
    expect(response.headers.get("content-type")).toBe("text/event-stream");
    const reader = (response.body as ReadableStream<Uint8Array>).getReader();
    const decoder = new TextDecoder();
    let text = "";
    const totals = () =>
      [...text.matchAll(/event: status\ndata: (.*)\n\n/g)].map(
        (m) => (JSON.parse(m[1] ?? "{}") as Json).jobs,
      );
    const readUntil = async (done: () => boolean) => {
      await waitFor(
        async () => {
          if (done()) return true;
          const { value } = await reader.read();
          text += decoder.decode(value, { stream: true });
          return done();
        },
        { timeoutMs: 15_000, what: "a status event" },
      );
    };
    await readUntil(() => totals().length >= 1);
    expect((totals()[0] as Json).total).toBe(7);
    const store = openTestStore(home.home);
    await enqueue(store, { id: "late-arrival", command: "true" }, Date.now());
    await store.close();
    await readUntil(() => totals().some((jobs) => (jobs as Json).total === 8));
    controller.abort();
  });

  test("the page and its assets load with a Content-Security-Policy", async () => {
    const page = await get("/");
    expect(page.headers.get("content-type")).toStartWith("text/html");
    expect(page.headers.get("content-security-policy")).toContain("script-src 'self'");
    expect(await page.text()).toContain('<script type="module" src="/app.js">');
    expect((await get("/app.js")).headers.get("content-type")).toStartWith("text/javascript");
    for (const sheet of ["/theme.css", "/panels.css", "/jobs.css"]) {
      expect((await get(sheet)).headers.get("content-type")).toStartWith("text/css");
    }
    expect((await get("/nope")).status).toBe(404);
  });
});

describe("actions", () => {
  test("POST /api/jobs/:id/retry moves a dead job back to pending, attempts reset", async () => {
    const response = await post("/api/jobs/dead-1/retry");
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ retried: ["dead-1"] });
    const job = (await (await get("/api/jobs/dead-1")).json()) as Json;
    expect(job.state).toBe("pending");
    const listed = ((await (await get("/api/jobs?q=dead-1")).json()) as Json[])[0];
    expect(listed?.attempts).toBe(0);
  });

  test("an action that does not fit the job's state is a 409 with the rule", async () => {
    const response = await post("/api/jobs/ok-1/retry");
    expect(response.status).toBe(409);
    expect(await response.json()).toEqual({
      error: 'job "ok-1" is completed, not dead',
      hint: "only jobs in the DLQ (dead) can be retried; it has ended: `queuectl rerun <id>` runs it again",
    });
    expect((await post("/api/jobs/no-such-job/cancel")).status).toBe(404);
  });

  test("POST /api/jobs/:id/cancel cancels a pending job once", async () => {
    expect(await (await post("/api/jobs/cancel-me/cancel")).json()).toEqual({ canceled: "cancel-me" });
    expect(await stateOf("cancel-me")).toBe("canceled");
    expect((await post("/api/jobs/cancel-me/cancel")).status).toBe(409);
  });

  test("POST /api/jobs/:id/rerun queues a finished job again", async () => {
    expect(await (await post("/api/jobs/ok-1/rerun")).json()).toEqual({ rerun: "ok-1" });
    expect(await stateOf("ok-1")).toBe("pending");
  });

  test("POST /api/dlq/retry moves every dead job", async () => {
    expect(await (await post("/api/dlq/retry")).json()).toEqual({ retried: ["dead-2"] });
    expect(await (await post("/api/dlq/retry")).json()).toEqual({ retried: [] });
  });

  test("actions answer only POST", async () => {
    const response = await get("/api/jobs/ok-1/cancel");
    expect(response.status).toBe(405);
    expect(response.headers.get("allow")).toBe("POST");
  });

  test("HEAD answers as GET does, without the body, and only with the token", async () => {
    const headers = dashboard.auth;
    for (const path of ["/api/status", "/api/jobs?state=completed", "/metrics", "/api/events"]) {
      const response = await fetch(`${dashboard.origin}${path}`, { method: "HEAD", headers });
      expect([path, response.status]).toEqual([path, 200]);
      expect(await response.text()).toBe("");
      // The length GET's body has (metrics and status move between two calls), never a false
      // 0; the event stream has no length to give.
      const length = response.headers.get("content-length");
      if (path !== "/api/events") expect([path, Number(length) > 0]).toEqual([path, true]);
      if (path.startsWith("/api/jobs")) {
        const body = await (await fetch(`${dashboard.origin}${path}`, { headers })).arrayBuffer();
        expect(length).toBe(String(body.byteLength));
      }
      const refused = await fetch(`${dashboard.origin}${path}`, { method: "HEAD" });
      expect([path, refused.status]).toEqual([path, 401]);
    }
    const wrong = await fetch(`${dashboard.origin}/api/status`, { method: "PUT", headers });
    expect([wrong.status, wrong.headers.get("allow")]).toEqual([405, "GET, HEAD"]);
  });
});
