/**
 * `queuectl dashboard --no-token`, the explicit opt-out: loopback only, and still no writes
 * from another origin and no answers to another Host (DNS rebinding).
 */

import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { type TempHome, tempHome } from "../helpers/cli.ts";
import { enqueue, openTestStore } from "./fixtures.ts";
import { type RunningDashboard, startDashboard } from "./server.ts";

// Real processes on a busy two-core machine: generous, not the 5 s default.
setDefaultTimeout(60_000);

let home: TempHome;
let dashboard: RunningDashboard;

type Json = Record<string, unknown>;

function get(path: string, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${dashboard.origin}${path}`, { headers });
}

function post(path: string, headers: Record<string, string>): Promise<Response> {
  return fetch(`${dashboard.origin}${path}`, { method: "POST", headers });
}

async function stateOf(id: string): Promise<string> {
  return String(((await (await get(`/api/jobs/${id}`)).json()) as Json).state);
}

beforeAll(async () => {
  home = tempHome({ QUEUECTL_DASHBOARD_TOKEN: "from-env-but-overridden-0123" });
  const store = openTestStore(home.home);
  for (const id of ["pend-1", "pend-2", "pend-3"]) await enqueue(store, { id, command: "true" }, Date.now());
  await store.close();
  dashboard = await startDashboard(home.env, ["--no-token"]);
});

afterAll(async () => {
  await dashboard?.stop();
  home?.cleanup();
});

describe("with --no-token", () => {
  test("prints no token, warns, and reads need none (--no-token wins over the environment)", async () => {
    expect(dashboard.token).toBeNull();
    expect((await get("/api/status")).status).toBe(200);
  });

  test("a cross-origin POST is refused and changes nothing", async () => {
    const response = await post("/api/jobs/pend-1/cancel", { origin: "http://evil.example" });
    expect(response.status).toBe(403);
    expect(((await response.json()) as Json).error).toBe("cross-origin request refused");
    expect(await stateOf("pend-1")).toBe("pending");
  });

  test("a POST that cannot prove its origin is refused", async () => {
    expect((await post("/api/jobs/pend-1/cancel", {})).status).toBe(403);
    expect((await post("/api/jobs/pend-1/cancel", { "sec-fetch-site": "cross-site" })).status).toBe(403);
    expect((await post("/api/jobs/pend-1/cancel", { "sec-fetch-site": "same-site" })).status).toBe(403);
    expect(await stateOf("pend-1")).toBe("pending");
  });

  test("the page's own host over https (a TLS proxy in front) counts as same-origin", async () => {
    const https = dashboard.origin.replace("http://", "https://");
    expect((await post("/api/jobs/pend-1/cancel", { origin: `${https}.evil.example` })).status).toBe(403);
    expect((await post("/api/jobs/pend-2/cancel", { origin: https })).status).toBe(200);
  });

  test("Sec-Fetch-Site: same-origin is accepted when Origin is absent", async () => {
    const response = await post("/api/jobs/pend-3/cancel", { "sec-fetch-site": "same-origin" });
    expect(response.status).toBe(200);
  });

  test("a request naming another host (DNS rebinding) is refused", async () => {
    const port = new URL(dashboard.origin).port;
    expect((await get("/api/status", { host: `evil.example:${port}` })).status).toBe(403);
    expect((await get("/metrics", { host: `evil.example:${port}` })).status).toBe(403);
    expect((await get("/api/status", { host: `localhost:${port}` })).status).toBe(200);
  });
});
