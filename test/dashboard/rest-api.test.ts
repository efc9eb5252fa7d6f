/**
 * The job-management API of a real `queuectl dashboard` process, over real HTTP, on SQLite
 * and on PostgreSQL: enqueue (one job or a batch), list, show, logs and the moves answer as
 * the CLI does, refuse what the CLI refuses with its message, and take nothing without the
 * token or from another site.
 */

import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { join } from "node:path";
import { openStore } from "../../src/store/open.ts";
import { runCli, runCliJson, type TempHome, tempHome } from "../helpers/cli.ts";
import { testStores } from "../helpers/pg-schema.ts";
import { runJob } from "./fixtures.ts";
import { type RunningDashboard, startDashboard } from "./server.ts";

// Real processes on a busy two-core machine: generous, not the 5 s default.
setDefaultTimeout(60_000);

type Json = Record<string, unknown>;

const backends = testStores("rest-api", "qc_rest");

for (const backend of backends) {
  describe(`the REST API on ${backend.name}`, () => {
    let home: TempHome;
    let dashboard: RunningDashboard;
    const dbUrl = () => backend.db ?? join(home.home, "jobs.db");

    beforeAll(async () => {
      home = tempHome(backend.db ? { QUEUECTL_DB: backend.db } : {});
      delete home.env.QUEUECTL_DASHBOARD_TOKEN;
      dashboard = await startDashboard(home.env);
    });
    afterAll(async () => {
      await dashboard?.stop();
      home?.cleanup();
    });

    const call = (path: string, init: RequestInit = {}) =>
      fetch(`${dashboard.origin}${path}`, { redirect: "manual", ...init });
    const get = (path: string) => call(path, { headers: dashboard.auth });
    const post = (path: string, body?: string, type = "application/json") =>
      call(path, {
        method: "POST",
        headers: body === undefined ? dashboard.auth : { ...dashboard.auth, "content-type": type },
        body,
      });
    const cliJson = <T = Json>(...args: string[]) => runCliJson<T>(args, { env: home.env });
    const ids = async () => (await cliJson<Json[]>("list")).map((job) => job.id);

    test("POST /api/jobs enqueues one job with `enqueue --json`'s answer, and show sees it", async () => {
      const response = await post(
        "/api/jobs",
        JSON.stringify({ id: "one", command: "echo one", tags: ["t"] }),
      );
      expect(response.status).toBe(201);
      expect(await response.json()).toEqual({ enqueued: 1, ids: ["one"], schedules: [], canceled: [] });
      const cli = await cliJson("enqueue", JSON.stringify({ id: "two", command: "echo two" }));
      expect(cli).toEqual({ enqueued: 1, ids: ["two"], schedules: [], canceled: [] });
      const [api, shown] = await Promise.all([
        get("/api/jobs/one").then((r) => r.json() as Promise<Json>),
        cliJson("show", "one"),
      ]);
      expect(api).toEqual(shown);
      expect(api.state).toBe("pending");
    });

    test("a batch goes in whole from JSON, YAML or NDJSON, with dependencies and schedules", async () => {
      const list = await post(
        "/api/jobs",
        JSON.stringify({
          jobs: [
            { id: "build", command: "make" },
            { id: "ship", command: "make ship", after: ["build"] },
          ],
        }),
      );
      expect(await list.json()).toEqual({ enqueued: 2, ids: ["build", "ship"], schedules: [], canceled: [] });
      const yaml = await post(
        "/api/jobs",
        "- id: nightly/report\n  command: make report\n  schedule: '0 3 * * *'\n- id: y1\n  command: 'true'\n",
        "application/yaml; charset=utf-8",
      );
      expect(yaml.status).toBe(201);
      expect(await yaml.json()).toEqual({
        enqueued: 2,
        ids: ["y1", "nightly/report"],
        schedules: ["nightly/report"],
        canceled: [],
      });
      const ndjson = await post(
        "/api/jobs",
        '{"id":"n1","command":"true"}\n{"id":"n2","command":"true","queue":"emails"}\n',
        "application/x-ndjson",
      );
      expect(await ndjson.json()).toEqual({ enqueued: 2, ids: ["n1", "n2"], schedules: [], canceled: [] });
      const dependencies = (await (await get("/api/jobs/ship/dependencies")).json()) as Json;
      expect(dependencies.upstream).toEqual([{ id: "build", state: "pending" }]);
      expect((await cliJson<Json[]>("schedule", "list")).map((entry) => entry.id)).toEqual([
        "nightly/report",
      ]);
      expect(await ids()).toEqual(expect.arrayContaining(["build", "ship", "y1", "n1", "n2"]));
    });

    test("input the CLI refuses with exit 2 is a 400 with the CLI's message, and nothing is enqueued", async () => {
      const before = await ids();
      const refused = [
        '[{"id":"x1","command":"true"},{"id":"x2","command":"true","max_retry":1}]',
        '{"id":"x3"}',
        '[{"id":"x4","command":"true"},{"id":"x4","command":"true"}]',
        '[{"id":"x5","command":"true"},{"id":"one","command":"true"}]',
        '[{"id":"c1","command":"true","after":["c2"]},{"id":"c2","command":"true","after":["c1"]}]',
        '{"id":',
        "[]",
        '{"id":"x6","command":"true","delay":"15000000w"}',
      ];
      for (const body of refused) {
        const response = await post("/api/jobs", body);
        const answer = (await response.json()) as { error: string; hint: string };
        const cli = await runCli(["enqueue", "-f", "-", "--format", "json"], { env: home.env, stdin: body });
        expect([body, response.status, cli.exitCode]).toEqual([body, 400, 2]);
        const [message, hint = ""] = cli.stderr.trim().split(" — ");
        expect(`error: ${answer.error}`.replaceAll("the request body", "stdin")).toBe(message ?? "");
        // The shell's bad-JSON hint is about a file; an HTTP client gets its own.
        if (!message?.includes("invalid JSON")) expect(answer.hint).toBe(hint);
      }
      expect(await ids()).toEqual(before);
    });

    test("GET /api/jobs filters like `list` (several states, a queue, a tag) and pages", async () => {
      for (const [index, queue] of ["q1", "q2", "q1", "q1", "q2"].entries()) {
        const id = `page-${index}`;
        expect(
          (await post("/api/jobs", JSON.stringify({ id, command: "true", queue, tags: ["paged"] }))).status,
        ).toBe(201);
      }
      await cliJson("cancel", "page-2");
      const listed = async (query: string) =>
        ((await (await get(`/api/jobs?${query}`)).json()) as Json[]).map((job) => job.id);
      const cli = async (...args: string[]) =>
        (await cliJson<Json[]>("list", ...args)).map((job) => job.id).reverse();
      expect(await listed("state=pending,canceled&queue=q1")).toEqual(
        await cli("--state", "pending,canceled", "--queue", "q1"),
      );
      expect(await listed("state=canceled&state=pending&queue=q1")).toEqual(["page-3", "page-2", "page-0"]);
      expect(await listed("state=pending&queue=q1")).toEqual(["page-3", "page-0"]);
      expect(await listed("queue=q2&tag=paged")).toEqual(await cli("--queue", "q2", "--tag", "paged"));
      expect(await listed("tag=paged&state=canceled")).toEqual(["page-2"]);
      const all = await listed("tag=paged&queue=q1&limit=500");
      const paged = [
        ...(await listed("tag=paged&queue=q1&limit=2")),
        ...(await listed("tag=paged&queue=q1&limit=2&offset=2")),
      ];
      expect(paged).toEqual(all);
      const mixed = await get("/api/jobs?queue=q1&q=page");
      expect(mixed.status).toBe(400);
      expect(((await mixed.json()) as Json).error).toContain("q (id search)");
    });

    test("cancel, kill, retry, rerun and queue pause/resume answer as the CLI's --json and move the job", async () => {
      const state = async (id: string) => (await cliJson("show", id)).state;
      await post(
        "/api/jobs",
        '[{"id":"m1","command":"true"},{"id":"m2","command":"true"},{"id":"m3","command":"false","max_retries":0,"priority":100}]',
      );
      expect(await (await post("/api/jobs/m1/cancel")).json()).toEqual({ canceled: "m1" });
      expect(await state("m1")).toBe("canceled");
      expect((await post("/api/jobs/m1/cancel")).status).toBe(409);
      expect(await (await post("/api/jobs/m1/rerun")).json()).toEqual({ rerun: "m1" });
      expect(await state("m1")).toBe("pending");
      expect(await (await post("/api/jobs/m2/kill")).json()).toEqual({ killed: "m2", result: "canceled" });
      expect((await post("/api/jobs/m2/kill")).status).toBe(409);
      expect((await post("/api/jobs/m2/kill?retry=maybe")).status).toBe(400);
      const store = await openStore({ url: dbUrl() });
      try {
        // m3 has the highest priority, so it is what a worker claims next.
        const now = Date.now();
        await runJob(store, "m3", { start: now, end: now + 10, exitCode: 1, output: "it broke\n" });
      } finally {
        await store.close();
      }
      expect(await state("m3")).toBe("dead");
      const log = (await (await get("/api/jobs/m3/log")).json()) as { attempts: Json[] };
      const cliLog = await cliJson("logs", "m3");
      expect(log.attempts.map((attempt) => attempt.output_tail)).toEqual([cliLog.output_tail]);
      expect(await (await post("/api/jobs/m3/retry")).json()).toEqual({ retried: ["m3"] });
      expect(await cliJson("show", "m3")).toMatchObject({ state: "pending", attempt_count: 0 });
      expect((await post("/api/jobs/m3/retry")).status).toBe(409);
      expect((await post("/api/jobs/no-such-job/rerun")).status).toBe(404);

      expect(await (await post("/api/queues/q1/pause")).json()).toEqual({ queue: "q1", paused: true });
      const paused = async () =>
        (await cliJson<{ name: string; paused: boolean }[]>("queue", "list")).find(
          (queue) => queue.name === "q1",
        )?.paused;
      expect(await paused()).toBe(true);
      expect(await (await post("/api/queues/q1/resume")).json()).toEqual({ queue: "q1", paused: false });
      expect(await paused()).toBe(false);
      expect((await post("/api/queues/no-such-queue/pause")).status).toBe(404);
    });

    test("without the token, or from another site, nothing is enqueued; forms are not read", async () => {
      const before = await ids();
      const job = JSON.stringify({ id: "intruder", command: "touch /tmp/owned" });
      const json = { "content-type": "application/json" };
      // No token in a header: refused, whatever else the request carries.
      expect((await call("/api/jobs", { method: "POST", headers: json, body: job })).status).toBe(401);
      expect(
        (
          await call("/api/jobs", {
            method: "POST",
            headers: { ...json, origin: dashboard.origin },
            body: job,
          })
        ).status,
      ).toBe(401);
      // A cookie holding the token opens nothing, from any origin: only the header does.
      const port = new URL(dashboard.origin).port;
      const cookie = `queuectl_dashboard_token_${port}=${dashboard.token}`;
      for (const origin of ["http://evil.example", dashboard.origin]) {
        const withCookie = await call("/api/jobs", {
          method: "POST",
          headers: { ...json, cookie, origin },
          body: job,
        });
        expect(withCookie.status).toBe(401);
      }
      for (const type of [
        "application/x-www-form-urlencoded",
        "text/plain",
        "multipart/form-data; boundary=x",
      ]) {
        expect([type, (await post("/api/jobs", job, type)).status]).toEqual([type, 415]);
      }
      expect(await ids()).toEqual(before);
      // The page itself sends the token in the header, as any client does.
      const own = await call("/api/jobs", {
        method: "POST",
        headers: { ...json, authorization: `Bearer ${dashboard.token}`, origin: dashboard.origin },
        body: JSON.stringify({ id: "from-page", command: "true" }),
      });
      expect(own.status).toBe(201);
    });
  });
}
