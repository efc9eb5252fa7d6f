/**
 * /api/openapi.json says what the server does: every route of the server's table is in the
 * document with its method and statuses, every documented operation is a route, and a real
 * `queuectl dashboard` answers each documented operation only with documented statuses and
 * bodies that its schemas accept, as a real JSON Schema validator (ajv) judges them.
 */

import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { join } from "node:path";
import Ajv2020 from "ajv/dist/2020";
import { parseConfigValue } from "../../src/core/config.ts";
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
// OpenAPI 3.1 schemas are JSON Schema 2020-12.
const validator = new Ajv2020({ strict: false, allErrors: true });
validator.addFormat("date-time", /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/);

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
  // Bodies with something in every list: an attempt in the detail, a running job and a
  // synced folder in the status, so their item schemas are checked too.
  await enqueue(store, { id: "probe/job", command: "true", priority: 9 }, now);
  await runJob(store, "probe/job", { start: now, end: now + 1, exitCode: 0, output: "ok\n" });
  await enqueue(store, { id: "probe/running", command: ["sleep", "60"], priority: 9 }, now);
  await store.jobClaim({ workerId: "probe-worker", host: "probe-host", now, leaseMs: 60_000 });
  await store.folderSyncRecord({
    folder: join(home.home, "jobs"),
    target: join(home.home, "jobs"),
    at: now,
    host: "probe-host",
    pid: 1,
    by: "sync",
    files: 1,
    created: 0,
    updated: 0,
    canceled: 0,
    unchanged: 0,
    problems: 1,
    problemList: [{ file: "a.yaml", line: 1, column: 1, message: "bad" }],
  });
  for (const id of ["probe/kill", "probe/cancel"]) await enqueue(store, { id, command: "true" }, now);
  // The config's JSON values, a list and an object, so the status schema is checked for them too.
  const notify = [{ url: "http://a.example/h", events: ["dead"] }];
  await store.configSet({ key: "notify", value: parseConfigValue("notify", JSON.stringify(notify)) });
  await store.configSet({
    key: "limits",
    value: parseConfigValue("limits", '{"memory":"256M","cpu_time":"10m"}'),
  });
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
  validator.addSchema({ ...document, $id: "openapi" });
});

afterAll(async () => {
  await dashboard?.stop();
  home?.cleanup();
});

const pointerPart = (key: string) => key.replaceAll("~", "~0").replaceAll("/", "~1");

/**
 * The validator for what the document says `method path` answers with `status` as `type`,
 * or the reason there is none. The response may be a $ref to a shared one.
 */
function documentedBody(method: string, path: string, status: number, type: string) {
  let pointer = `/paths/${pointerPart(path)}/${method.toLowerCase()}/responses/${status}`;
  const at = (where: string) =>
    where
      .split("/")
      .slice(1)
      .reduce<unknown>(
        (node, key) => (node as Json | undefined)?.[key.replaceAll("~1", "/").replaceAll("~0", "~")],
        document,
      ) as Json | undefined;
  let response = at(pointer);
  const ref = response?.$ref;
  if (typeof ref === "string") {
    pointer = ref.slice(1);
    response = at(pointer);
  }
  if (!(response?.content as Json | undefined)?.[type]) return `${type} is not documented for ${status}`;
  const schema = `${pointer}/content/${pointerPart(type)}/schema`;
  return (
    validator.getSchema(`openapi#${schema.split("/").map(encodeURIComponent).join("/")}`) ??
    `no schema at ${schema}`
  );
}

/** "valid", or why the body does not fit what the document says of it. */
async function bodyVerdict(method: string, path: string, response: Response): Promise<string> {
  const type = (response.headers.get("content-type") ?? "").split(";")[0]?.trim() ?? "";
  const validate = documentedBody(method, path, response.status, type);
  if (typeof validate === "string") return validate;
  // Only JSON is read: /api/events never ends, and /metrics is checked by metrics.test.ts.
  if (type !== "application/json") return "valid";
  const body = await response.json();
  return validate(body) ? "valid" : validator.errorsText(validate.errors);
}

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

  test("the real server answers each documented operation only with documented statuses and bodies", async () => {
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
            const documented = statuses.includes(response.status);
            const verdict = documented ? await bodyVerdict(method, path, response) : "undocumented";
            if (!response.bodyUsed) await response.body?.cancel(); // /api/events never ends
            expect([method, url, response.status, verdict]).toEqual([method, url, response.status, "valid"]);
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
