/**
 * /api/openapi.json says what the server does: every route of the server's table is in the
 * document with its method and statuses, every documented operation is a route, and a real
 * `queuectl dashboard` answers each documented operation only with documented statuses.
 */

import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { ROUTES, routeStatuses } from "../../src/dashboard/routes.ts";
import { type TempHome, tempHome } from "../helpers/cli.ts";
import { enqueue, openTestStore, runJob } from "./fixtures.ts";
import { type RunningDashboard, startDashboard } from "./server.ts";

// Real processes on a busy two-core machine: generous, not the 5 s default.
setDefaultTimeout(60_000);

type Json = Record<string, unknown>;
interface Operation {
  responses: Record<string, unknown>;
}

let home: TempHome;
let dashboard: RunningDashboard;
let document: { openapi: string; paths: Record<string, Record<string, Operation>> } & Json;

function operations(): { method: string; path: string; statuses: number[] }[] {
  return Object.entries(document.paths).flatMap(([path, item]) =>
    Object.entries(item).map(([method, operation]) => ({
      method: method.toUpperCase(),
      path,
      statuses: Object.keys(operation.responses).map(Number).sort(),
    })),
  );
}

beforeAll(async () => {
  home = tempHome();
  delete home.env.QUEUECTL_DASHBOARD_TOKEN;
  const store = openTestStore(home.home);
  const now = Date.now();
  for (const id of ["probe/job", "probe/kill", "probe/cancel"])
    await enqueue(store, { id, command: "true" }, now);
  // One job each for retry (dead) and rerun (completed), so every move can succeed.
  for (const [id, exitCode] of [
    ["probe/retry", 1],
    ["probe/rerun", 0],
  ] as const) {
    await enqueue(store, { id, command: "true", max_retries: 0, priority: 9 }, now);
    await runJob(store, id, { start: now, end: now + 1, exitCode });
  }
  await store.close();
  dashboard = await startDashboard(home.env);
  const response = await fetch(`${dashboard.origin}/api/openapi.json`, { headers: dashboard.auth });
  expect(response.status).toBe(200);
  document = (await response.json()) as typeof document;
});

afterAll(async () => {
  await dashboard?.stop();
  home?.cleanup();
});

/** The job a route is probed with: for a move, one in a state it applies to. */
function probeJob(path: string): string {
  const verb = path.match(/\/(kill|cancel|retry|rerun)$/)?.[1];
  return verb ? `probe/${verb}` : "probe/job";
}

describe("the OpenAPI document", () => {
  test("is served only with the token, and is OpenAPI 3.1 whose every $ref resolves", async () => {
    expect((await fetch(`${dashboard.origin}/api/openapi.json`)).status).toBe(401);
    expect(document.openapi).toBe("3.1.0");
    const refs = JSON.stringify(document).match(/"\$ref":"[^"]*"/g) ?? [];
    expect(refs.length).toBeGreaterThan(10);
    for (const ref of new Set(refs)) {
      const pointer = ref.slice('"$ref":"#/'.length, -1).split("/");
      let target: unknown = document;
      for (const key of pointer) target = (target as Json | undefined)?.[key];
      expect([ref, target !== undefined]).toEqual([ref, true]);
    }
  });

  test("documents every route of the server with its method and statuses, and nothing else", () => {
    const documented = operations();
    const served = ROUTES.map((route) => ({
      method: route.method,
      path: route.path,
      statuses: routeStatuses(route),
    }));
    const key = (entry: { method: string; path: string }) => `${entry.method} ${entry.path}`;
    expect(documented.map(key).sort()).toEqual(served.map(key).sort());
    for (const route of served) {
      expect([key(route), documented.find((entry) => key(entry) === key(route))?.statuses]).toEqual([
        key(route),
        route.statuses,
      ]);
    }
  });

  test("the real server answers each documented operation only with documented statuses", async () => {
    const seen = new Set<string>();
    const bodies: Record<string, (string | undefined)[]> = {
      "POST /api/jobs": ['{"id":"probe-2","command":"true"}', '{"id":"probe-3"}', undefined],
      "POST /api/login": [JSON.stringify({ token: dashboard.token }), '{"token":"wrong-wrong-wrong-wrong"}'],
    };
    // `dlq retry --all` last: it would take the dead job that `retry <id>` is probed with.
    const ordered = operations().sort(
      (a, b) => Number(a.path === "/api/dlq/retry") - Number(b.path === "/api/dlq/retry"),
    );
    for (const { method, path, statuses } of ordered) {
      const concrete = [
        path.replace("{id}", encodeURIComponent(probeJob(path))).replace("{name}", "default"),
        path.replace("{id}", "no-such-job").replace("{name}", "no-such-queue"),
      ];
      for (const url of new Set(concrete)) {
        for (const body of bodies[`${method} ${path}`] ?? [undefined]) {
          for (const headers of [dashboard.auth, {}] as Record<string, string>[]) {
            const response = await fetch(
              `${dashboard.origin}${url}${path.endsWith("/kill") ? "?retry=false" : ""}`,
              {
                method,
                headers: body === undefined ? headers : { ...headers, "content-type": "application/json" },
                body,
                redirect: "manual",
              },
            );
            await response.body?.cancel(); // /api/events never ends
            expect([method, url, response.status, statuses.includes(response.status)]).toEqual([
              method,
              url,
              response.status,
              true,
            ]);
            seen.add(`${method} ${path} ${response.status}`);
          }
        }
      }
    }
    // The probe reached every route's success answer, not only refusals.
    for (const route of ROUTES) {
      const ok = route.statuses.find((status) => status < 300);
      expect(seen).toContain(`${route.method} ${route.path} ${ok}`);
    }
  });
});
