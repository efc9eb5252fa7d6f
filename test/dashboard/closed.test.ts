/**
 * The dashboard is closed by default. Started with no token flag, it makes a random token
 * and prints the URL that carries it; anyone without that token, another local user
 * included, reads nothing and changes nothing, whatever Origin they claim.
 */

import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { connect } from "node:net";
import { type TempHome, tempHome } from "../helpers/cli.ts";
import { enqueue, openTestStore, runJob } from "./fixtures.ts";
import { type RunningDashboard, startDashboard } from "./server.ts";

// Real processes on a busy two-core machine: generous, not the 5 s default.
setDefaultTimeout(60_000);

const SECRET_ENV = "hunter2-api-key-value";
const SECRET_OUTPUT = "top-secret-job-output";
/** Anything a stranger must not learn: ids, env, output. */
const SECRETS = ["secret-job", "victim", SECRET_ENV, SECRET_OUTPUT];

let home: TempHome;
let dashboard: RunningDashboard;

function call(path: string, init: RequestInit = {}): Promise<Response> {
  return fetch(`${dashboard.origin}${path}`, { redirect: "manual", ...init });
}

async function stateOf(id: string): Promise<string> {
  const response = await call(`/api/jobs/${id}`, { headers: dashboard.auth });
  return String(((await response.json()) as { state: string }).state);
}

function expectNoData(body: string): void {
  for (const secret of SECRETS) expect(body).not.toContain(secret);
  expect(body).not.toMatch(/"(total|pending|jobs)"/);
}

/** Sends raw bytes (fetch always adds Host) and returns the whole answer. */
function raw(request: string): Promise<string> {
  const { port } = new URL(dashboard.origin);
  return new Promise((resolve, reject) => {
    let answer = "";
    const socket = connect(Number(port), "127.0.0.1", () => socket.write(request));
    socket.on("data", (chunk) => {
      answer += chunk.toString();
    });
    socket.on("end", () => resolve(answer));
    socket.on("error", reject);
  });
}

beforeAll(async () => {
  home = tempHome();
  delete home.env.QUEUECTL_DASHBOARD_TOKEN;
  const store = openTestStore(home.home);
  const now = Date.now();
  await enqueue(store, { id: "secret-job", command: "deploy", env: { API_KEY: SECRET_ENV } }, now - 5000);
  await runJob(store, "secret-job", {
    start: now - 4000,
    end: now - 3000,
    exitCode: 0,
    output: SECRET_OUTPUT,
  });
  await enqueue(store, { id: "victim", command: "true" }, now);
  await store.close();
  dashboard = await startDashboard(home.env);
});

afterAll(async () => {
  await dashboard?.stop();
  home?.cleanup();
});

describe("closed by default", () => {
  test("a random token is made and printed in the URL, as Jupyter does", () => {
    expect(dashboard.token).toMatch(/^[0-9a-f]{48}$/);
  });

  test("without the token every read is refused and says nothing", async () => {
    for (const path of [
      "/api/status",
      "/api/jobs",
      "/api/jobs/secret-job",
      "/api/jobs/secret-job/log",
      "/api/workers",
      "/api/queues",
      "/api/schedules",
      "/api/jobs/secret-job/dependencies",
      "/api/throughput",
      "/api/sync",
      "/api/events",
      "/metrics",
    ]) {
      const response = await call(path);
      expect([path, response.status]).toEqual([path, 401]);
      expectNoData(await response.text());
    }
  });

  test("the token in a header opens reads", async () => {
    const response = await call("/api/jobs/secret-job", { headers: dashboard.auth });
    expect(response.status).toBe(200);
    expect(await response.text()).toContain(SECRET_ENV);
  });

  test("a forged same-origin POST changes nothing", async () => {
    const forgeries: Record<string, string>[] = [
      { origin: dashboard.origin },
      { origin: dashboard.origin, "sec-fetch-site": "same-origin" },
      {},
    ];
    for (const headers of forgeries) {
      for (const path of [
        "/api/jobs/secret-job/rerun",
        "/api/jobs/victim/cancel",
        "/api/jobs/victim/kill",
        "/api/queues/default/pause",
        "/api/dlq/retry",
      ]) {
        const response = await call(path, { method: "POST", headers });
        expect([401, 403]).toContain(response.status);
        expectNoData(await response.text());
      }
    }
    expect(await stateOf("secret-job")).toBe("completed");
    expect(await stateOf("victim")).toBe("pending");
    const queues = await call("/api/queues", { headers: dashboard.auth });
    expect(((await queues.json()) as { paused: boolean }[]).map((queue) => queue.paused)).toEqual([false]);
  });

  test("the printed URL hands the page a session key in the fragment, never a cookie", async () => {
    const landing = await call(`/?token=${dashboard.token}`);
    expect(landing.status).toBe(303);
    // A fragment never reaches a server; the page moves the key into its origin's storage.
    const key = landing.headers.get("location")?.match(/^\/#session=([0-9a-f]{48})$/)?.[1] ?? "";
    expect(key).not.toBe("");
    expect((await call("/api/status", { headers: { authorization: `Bearer ${key}` } })).status).toBe(200);
    const made = "0123456789abcdef".repeat(3);
    expect((await call("/api/status", { headers: { authorization: `Bearer ${made}` } })).status).toBe(401);
    // A cookie would go to every port of the host: an earlier release's is expired, none set.
    const port = new URL(dashboard.origin).port;
    expect(landing.headers.get("set-cookie")).toBe(
      `queuectl_dashboard_token_${port}=; Max-Age=0; HttpOnly; SameSite=Strict; Path=/`,
    );
  });

  test("a wrong token in the URL lands on the sign-in form without it", async () => {
    const landing = await call("/?token=0123456789abcdef0123456789abcdef");
    expect(landing.status).toBe(303);
    expect(landing.headers.get("location")).toBe("/");
    const page = await call("/");
    expect(await page.text()).toContain('id="login"');
  });

  test("a cookie holding the token opens nothing: only a header does", async () => {
    const port = new URL(dashboard.origin).port;
    for (const name of [`queuectl_dashboard_token_${port}`, "queuectl_dashboard_token_1"]) {
      const read = await call("/api/status", { headers: { cookie: `${name}=${dashboard.token}` } });
      expect(read.status).toBe(401);
      // As HTTP asks of a 401: the scheme that would be accepted.
      expect(read.headers.get("www-authenticate")).toBe('Bearer realm="queuectl dashboard"');
      const write = await call("/api/jobs/victim/cancel", {
        method: "POST",
        headers: { cookie: `${name}=${dashboard.token}`, origin: dashboard.origin },
      });
      expect(write.status).toBe(401);
    }
    expect(await stateOf("victim")).toBe("pending");
  });

  test("a request without a Host header gets a plain 400, never a stack page", async () => {
    for (const request of [
      "GET /api/status HTTP/1.0\r\n\r\n",
      "GET / HTTP/1.0\r\n\r\n",
      "GET /api/jobs/secret-job HTTP/1.1\r\nHost:\r\nConnection: close\r\n\r\n",
    ]) {
      const answer = await raw(request);
      expect(answer).toStartWith("HTTP/1.1 400");
      expect(answer).not.toContain("<html");
      expect(answer).not.toContain(".ts");
      expect(answer).not.toContain("/work");
      expectNoData(answer);
    }
  });
});

/** Root can switch to nobody, who can run curl: then a request really comes from another user. */
function nobodyCanRunCurl(): boolean {
  if (process.getuid?.() !== 0) {
    console.warn("skipping the other-user test: it needs root to act as user nobody");
    return false;
  }
  const probe = Bun.spawnSync(
    ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "curl", "--version"],
    { stdout: "ignore", stderr: "ignore" },
  );
  if (probe.exitCode !== 0) console.warn("skipping the other-user test: user nobody cannot run curl");
  return probe.exitCode === 0;
}

describe.skipIf(!nobodyCanRunCurl())("another local user (nobody, through curl)", () => {
  async function asNobody(args: string[]): Promise<{ status: number; body: string }> {
    const child = Bun.spawn(
      [
        "setpriv",
        "--reuid=65534",
        "--regid=65534",
        "--clear-groups",
        "curl",
        "-sS",
        "--max-time",
        "10",
        "-w",
        "\n%{http_code}",
        ...args,
      ],
      { stdout: "pipe", stderr: "pipe", env: { PATH: process.env.PATH ?? "/usr/bin:/bin" } },
    );
    const [out, err] = await Promise.all([
      new Response(child.stdout).text(),
      new Response(child.stderr).text(),
    ]);
    await child.exited;
    const split = out.lastIndexOf("\n");
    expect(err).toBe("");
    return { status: Number(out.slice(split + 1)), body: out.slice(0, split) };
  }

  test("reads nothing", async () => {
    for (const path of [
      "/api/status",
      "/api/jobs",
      "/api/jobs/secret-job",
      "/api/jobs/secret-job/log",
      "/metrics",
    ]) {
      const { status, body } = await asNobody([`${dashboard.origin}${path}`]);
      expect([path, status]).toEqual([path, 401]);
      expectNoData(body);
    }
  });

  test("changes nothing, whatever Origin it sends", async () => {
    for (const origin of [dashboard.origin, "http://localhost", "null"]) {
      for (const path of [
        "/api/jobs/secret-job/rerun",
        "/api/jobs/victim/cancel",
        "/api/queues/default/pause",
      ]) {
        const { status, body } = await asNobody([
          "-X",
          "POST",
          "-H",
          `Origin: ${origin}`,
          "-H",
          "Sec-Fetch-Site: same-origin",
          `${dashboard.origin}${path}`,
        ]);
        expect([401, 403]).toContain(status);
        expectNoData(body);
      }
    }
    expect(await stateOf("secret-job")).toBe("completed");
    expect(await stateOf("victim")).toBe("pending");
  });
});
