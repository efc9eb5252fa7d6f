/**
 * What the REST API makes of its path and query input, on a real `queuectl dashboard` over
 * SQLite and PostgreSQL: a NUL answers the same on both (404 for an id, 400 naming the
 * parameter), an unknown or repeated parameter is a 400 naming it, numbers are plain
 * digits, and every documented parameter still works.
 */

import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { openApiDocument } from "../../src/dashboard/openapi.ts";
import { ROUTES } from "../../src/dashboard/routes.ts";
import { type TempHome, tempHome } from "../helpers/cli.ts";
import { testStores } from "../helpers/pg-schema.ts";
import { type RunningDashboard, startDashboard } from "./server.ts";

// Real processes on a busy two-core machine: generous, not the 5 s default.
setDefaultTimeout(60_000);

type Json = Record<string, unknown>;

const backends = testStores("query-input", "qc_qin");

test("each route reads the query parameters the OpenAPI document gives it, and may answer 400", () => {
  const paths = openApiDocument().paths as Record<
    string,
    Record<string, { parameters?: { name: string; in: string }[] }>
  >;
  for (const route of ROUTES) {
    const documented = (paths[route.path]?.[route.method.toLowerCase()]?.parameters ?? [])
      .filter((parameter) => parameter.in === "query")
      .map((parameter) => parameter.name)
      .sort();
    const key = `${route.method} ${route.path}`;
    expect([key, Object.keys(route.query ?? {}).sort()]).toEqual([key, documented]);
    if (route.query) expect([key, route.statuses]).toEqual([key, expect.arrayContaining([400])]);
  }
});

for (const backend of backends) {
  describe(`REST API input on ${backend.name}`, () => {
    let home: TempHome;
    let dashboard: RunningDashboard;

    const call = (path: string, method = "GET") =>
      fetch(`${dashboard.origin}${path}`, { method, headers: dashboard.auth, redirect: "manual" });
    const ids = async (query: string) => {
      const response = await call(`/api/jobs?${query}`);
      expect([query, response.status]).toEqual([query, 200]);
      return ((await response.json()) as Json[]).map((job) => job.id);
    };
    /** The refusal's status and body, with the status and path kept together in a failure. */
    const refusal = async (path: string, method = "GET") => {
      const response = await call(path, method);
      const body = (await response.json()) as { error: string; hint: string };
      expect(response.headers.get("x-content-type-options")).toBe("nosniff");
      return { path, status: response.status, error: body.error, hint: body.hint };
    };

    beforeAll(async () => {
      home = tempHome(backend.db ? { QUEUECTL_DB: backend.db } : {});
      delete home.env.QUEUECTL_DASHBOARD_TOKEN;
      dashboard = await startDashboard(home.env);
      const jobs = [
        { id: "a1", command: "true", tags: ["red"] },
        { id: "a2", command: "true", queue: "emails" },
        { id: "b1", command: "true", tags: ["red"], queue: "emails" },
      ];
      const response = await fetch(`${dashboard.origin}/api/jobs`, {
        method: "POST",
        headers: { ...dashboard.auth, "content-type": "application/json" },
        body: JSON.stringify(jobs),
      });
      expect(response.status).toBe(201);
    });
    afterAll(async () => {
      await dashboard?.stop();
      home?.cleanup();
    });

    test("an id or queue name holding a NUL is a 404 on every route that takes one", async () => {
      const routes: [string, string][] = [
        ["GET", "/api/jobs/%00"],
        ["GET", "/api/jobs/a%001"],
        ["GET", "/api/jobs/%00/log"],
        ["GET", "/api/jobs/%00/dependencies"],
        ["POST", "/api/jobs/%00/cancel"],
        ["POST", "/api/jobs/%00/retry"],
        ["POST", "/api/jobs/%00/rerun"],
        ["POST", "/api/jobs/%00/kill?retry=true"],
      ];
      for (const [method, path] of routes) {
        const answer = await refusal(path, method);
        expect(answer).toMatchObject({ path, status: 404, error: expect.stringContaining("no job with id") });
      }
      for (const verb of ["pause", "resume"]) {
        const path = `/api/queues/emails%00/${verb}`;
        const answer = await refusal(path, "POST");
        expect(answer).toMatchObject({ path, status: 404, error: expect.stringContaining("no queue named") });
      }
      // Nothing moved: the NUL was not cut off into a real id or queue.
      expect(await ids("state=pending")).toEqual(["b1", "a2", "a1"]);
      const queues = (await (await call("/api/queues")).json()) as { name: string; paused: boolean }[];
      expect(queues.find((queue) => queue.name === "emails")?.paused).toBe(false);
    });

    test("a query value holding a NUL is a 400 naming the parameter, never every job", async () => {
      for (const query of ["tag=%00", "q=%00", "q=%00&limit=500", "queue=%00", "state=%00", "q=a%00"]) {
        const name = query.split("=")[0] ?? "";
        const answer = await refusal(`/api/jobs?${query}`);
        expect([answer.status, answer.error.startsWith(`${name} `), answer.error.includes("NUL")]).toEqual([
          400,
          true,
          true,
        ]);
      }
    });

    test("an unknown parameter is a 400 naming it, with the nearest known one", async () => {
      const cases: [string, string, string][] = [
        ["GET", "/api/jobs?stat=pending", "state"],
        ["GET", "/api/jobs?limt=5", "limit"],
        ["GET", "/api/jobs?state=pending&tags=red", "tag"],
        ["GET", "/api/throughput?minute=5", "minutes"],
        ["POST", "/api/jobs/a1/kill?retyr=true", "retry"],
      ];
      for (const [method, path, nearest] of cases) {
        const given = path.match(/[?&]([a-z]+)=[^&]*$/)?.[1] ?? "";
        const answer = await refusal(path, method);
        expect(answer).toMatchObject({
          path,
          status: 400,
          error: expect.stringContaining(`"${given}"`),
          hint: expect.stringContaining(`\`${nearest}\``),
        });
      }
      const far = await refusal("/api/jobs?zzzzzz=1");
      expect(far).toMatchObject({ status: 400, hint: expect.stringContaining("offset") });
      // The kill above was refused before it moved anything.
      expect(await ids("state=pending&q=a1")).toEqual(["a1"]);
    });

    test("a parameter read once but given twice is a 400; state, queue and tag may repeat", async () => {
      expect(await refusal("/api/jobs?limit=1&limit=2")).toMatchObject({
        status: 400,
        error: expect.stringContaining("limit"),
      });
      expect(await refusal("/api/jobs?q=a&q=b")).toMatchObject({
        status: 400,
        error: expect.stringContaining("q"),
      });
      expect(await ids("state=pending&state=failed")).toEqual(["b1", "a2", "a1"]);
      expect(await ids("queue=default&queue=other")).toEqual(await ids("queue=default,other"));
      expect(await ids("tag=red&tag=blue")).toEqual(await ids("tag=red,blue"));
    });

    test("numbers are plain decimal digits", async () => {
      for (const value of ["0x10", "1e1", "+5", "%205", "5%20", "5.0", "-0", "0b11", "Infinity"]) {
        for (const path of [
          `/api/jobs?limit=${value}`,
          `/api/jobs?offset=${value}`,
          `/api/throughput?minutes=${value}`,
        ]) {
          const name = path.match(/\?([a-z]+)=/)?.[1] ?? "";
          expect(await refusal(path)).toMatchObject({
            path,
            status: 400,
            error: expect.stringContaining(name),
          });
        }
      }
      expect(await ids("limit=2")).toEqual(["b1", "a2"]);
      expect(await ids("limit=002&offset=01")).toEqual(["a2", "a1"]);
      const throughput = (await (await call("/api/throughput?minutes=5")).json()) as { buckets: unknown[] };
      expect(throughput.buckets).toHaveLength(5);
    });

    test("every documented parameter still works, and empty values mean no filter", async () => {
      expect(await ids("state=pending,failed&queue=emails&limit=20&offset=0")).toEqual(["b1", "a2"]);
      expect(await ids("tag=red")).toEqual(["b1", "a1"]);
      expect(await ids("q=A")).toEqual(["a2", "a1"]);
      expect(await ids("state=&queue=&tag=&q=&limit=&offset=")).toEqual(["b1", "a2", "a1"]);
      const kill = await call("/api/jobs/b1/kill?retry=false", "POST");
      expect(await kill.json()).toEqual({ killed: "b1", result: "canceled" });
      // Routes that read no parameters ignore a query string, as before.
      expect((await call("/api/jobs/a1?verbose=1")).status).toBe(200);
    });

    test("without the token a bad query is still a 401 that names nothing", async () => {
      const response = await fetch(`${dashboard.origin}/api/jobs?stat=pending&tag=%00`);
      expect(response.status).toBe(401);
      expect(await response.text()).not.toContain("stat");
      const nul = await fetch(`${dashboard.origin}/api/jobs/%00`);
      expect(nul.status).toBe(401);
    });
  });
}
