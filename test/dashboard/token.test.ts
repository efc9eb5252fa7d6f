/** A dashboard started with a token: every read and write needs it in a header, the page's too. */

import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { type TempHome, tempHome } from "../helpers/cli.ts";
import { enqueue, openTestStore } from "./fixtures.ts";
import { type RunningDashboard, startDashboard } from "./server.ts";

// Real processes on a busy two-core machine: generous, not the 5 s default.
setDefaultTimeout(60_000);

const TOKEN = "s3cret-token-0123456789";
let home: TempHome;
let dashboard: RunningDashboard;

function call(path: string, init: RequestInit = {}): Promise<Response> {
  return fetch(`${dashboard.origin}${path}`, init);
}

async function stateOf(id: string): Promise<string> {
  const response = await call(`/api/jobs/${id}`, { headers: { authorization: `Bearer ${TOKEN}` } });
  return String(((await response.json()) as { state: string }).state);
}

beforeAll(async () => {
  home = tempHome({ QUEUECTL_DASHBOARD_TOKEN: TOKEN });
  const store = openTestStore(home.home);
  for (const id of ["a", "b", "c"]) await enqueue(store, { id, command: "true" }, Date.now());
  await store.close();
  dashboard = await startDashboard(home.env);
});

afterAll(async () => {
  await dashboard?.stop();
  home?.cleanup();
});

describe("with a token", () => {
  test("reads without the token are refused", async () => {
    for (const path of [
      "/api/status",
      "/api/jobs",
      "/api/jobs/a",
      "/api/workers",
      "/api/events",
      "/metrics",
    ]) {
      const response = await call(path);
      expect(response.status).toBe(401);
      expect(((await response.json()) as { hint: string }).hint).toContain("Bearer");
    }
  });

  test("a wrong token is refused", async () => {
    expect(
      (await call("/api/status", { headers: { authorization: "Bearer wrong-token-0123456789" } })).status,
    ).toBe(401);
    expect((await call("/api/status", { headers: { "x-queuectl-token": "nope" } })).status).toBe(401);
  });

  test("the token opens reads as a Bearer or an X-Queuectl-Token header", async () => {
    expect((await call("/api/status", { headers: { authorization: `Bearer ${TOKEN}` } })).status).toBe(200);
    expect((await call("/metrics", { headers: { authorization: `Bearer ${TOKEN}` } })).status).toBe(200);
    expect((await call("/api/jobs", { headers: { "x-queuectl-token": TOKEN } })).status).toBe(200);
  });

  test("the page itself loads, so it can ask for the token", async () => {
    const response = await call("/");
    expect(response.status).toBe(200);
    expect(await response.text()).toContain('id="login"');
  });

  test("a header token may POST from anywhere: a cross-site form cannot send one", async () => {
    const response = await call("/api/jobs/a/cancel", {
      method: "POST",
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    expect(await response.json()).toEqual({ canceled: "a" });
  });

  test("without a token a same-origin POST is still refused", async () => {
    const response = await call("/api/jobs/b/cancel", {
      method: "POST",
      headers: { origin: dashboard.origin },
    });
    expect(response.status).toBe(401);
    expect(await stateOf("b")).toBe("pending");
  });

  test("sign-in checks the token and hands out no cookie; the page sends the header after", async () => {
    const headers = { origin: dashboard.origin, "content-type": "application/json" };
    const wrong = await call("/api/login", {
      method: "POST",
      headers,
      body: JSON.stringify({ token: "nope" }),
    });
    expect(wrong.status).toBe(401);
    const right = await call("/api/login", {
      method: "POST",
      headers,
      body: JSON.stringify({ token: TOKEN }),
    });
    expect(right.status).toBe(200);
    // Only an expired one, in case an earlier release left its cookie in the browser.
    expect(right.headers.get("set-cookie")).toContain("Max-Age=0");
    // The page keeps a session key of this process, not the token.
    const { session } = (await right.json()) as { session: string };
    expect(session).toMatch(/^[0-9a-f]{48}$/);
    const same = await call("/api/jobs/b/cancel", {
      method: "POST",
      headers: { authorization: `Bearer ${session}`, origin: dashboard.origin },
    });
    expect(await same.json()).toEqual({ canceled: "b" });
    expect(await stateOf("c")).toBe("pending");
  });

  test("a cross-origin sign-in is refused", async () => {
    const response = await call("/api/login", {
      method: "POST",
      headers: { origin: "http://evil.example", "content-type": "application/json" },
      body: JSON.stringify({ token: TOKEN }),
    });
    expect(response.status).toBe(403);
  });

  test("with a token, other host names are fine: the token is the guard", async () => {
    const port = new URL(dashboard.origin).port;
    const response = await call("/api/status", {
      headers: { host: `queue.example.com:${port}`, authorization: `Bearer ${TOKEN}` },
    });
    expect(response.status).toBe(200);
  });
});
