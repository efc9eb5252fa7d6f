/** `queuectl dashboard` flags: refusals are one line and exit 2; a good start serves and stops cleanly. */

import { afterEach, describe, expect, setDefaultTimeout, test } from "bun:test";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { runCli, type TempHome, tempHome } from "../helpers/cli.ts";
import { startDashboard } from "./server.ts";

// Real processes on a busy two-core machine: generous, not the 5 s default.
setDefaultTimeout(60_000);

let home: TempHome | undefined;

afterEach(() => {
  home?.cleanup();
  home = undefined;
});

/** A home of its own for the next call; one made earlier in the same test is removed first. */
function freshHome(env: Record<string, string> = {}): TempHome {
  home?.cleanup();
  home = tempHome(env);
  return home;
}

async function refused(args: string[], env: Record<string, string> = {}) {
  const home = freshHome(env);
  const result = await runCli(["dashboard", ...args], { env: home.env });
  expect(result.exitCode).toBe(2);
  expect(result.stdout).toBe("");
  expect(result.stderr.trim().split("\n")).toHaveLength(1);
  return result.stderr;
}

describe("queuectl dashboard", () => {
  test("binding beyond loopback with --no-token is refused with the way out", async () => {
    const stderr = await refused(["--host", "0.0.0.0", "--port", "0", "--no-token"]);
    expect(stderr).toStartWith("error: binding the dashboard to 0.0.0.0 without a token");
    expect(stderr).toContain("drop --no-token");
  });

  test("--help documents --no-token as dangerous and the generated token as the default", async () => {
    home = freshHome();
    const result = await runCli(["dashboard", "--help"], { env: home.env });
    expect(result.exitCode).toBe(0);
    expect(result.stdout).toMatch(/--no-token\s+DANGEROUS/);
    expect(result.stdout).toContain("else a random one, printed in the URL");
  });

  test("--no-token beside --token is refused, whichever comes last", async () => {
    const token = "abcdefghijklmnopqrstu";
    for (const args of [
      ["--token", token, "--no-token"],
      ["--no-token", `--token=${token}`],
    ])
      expect(await refused([...args, "--port", "0"])).toContain(
        "--token and --no-token contradict each other",
      );
  });

  test("--token without a value is refused, not read as an opt-out", async () => {
    expect(await refused(["--token", "--port", "0"])).toContain("--token");
  });

  test.each(["0.0.0.0", "0"])(
    "binding beyond loopback (--host %s) with no token flag generates one and requires it",
    async (bind) => {
      home = freshHome();
      delete home.env.QUEUECTL_DASHBOARD_TOKEN;
      const dashboard = await startDashboard(home.env, ["--host", bind]);
      try {
        expect(dashboard.token).toMatch(/^[0-9a-f]{48}$/);
        // The printed address is one a browser can open, not 0.0.0.0 (nor http://0:…).
        expect(dashboard.origin).toStartWith("http://127.0.0.1:");
        const url = `${dashboard.origin}/api/status`;
        expect((await fetch(url)).status).toBe(401);
        expect((await fetch(url, { headers: dashboard.auth })).status).toBe(200);
      } finally {
        await dashboard.stop();
      }
    },
  );

  test("a short token, or one with spaces no request could match, is refused", async () => {
    expect(await refused(["--token", "short", "--port", "0"])).toContain("at least 16 characters");
    expect(
      await refused(["--host", "0.0.0.0", "--port", "0"], { QUEUECTL_DASHBOARD_TOKEN: "short" }),
    ).toContain("at least 16 characters");
    // HTTP strips a header value's ends: this token could never be sent back as it is.
    // And a header's bytes are Latin-1: a token with `ä` could be typed in the form, never sent by a script.
    for (const token of [" abcdefghijklmnopqrs ", " ".repeat(20), "pässwörd-pässwörd-123"]) {
      expect(await refused(["--port", "0"], { QUEUECTL_DASHBOARD_TOKEN: token })).toContain("without spaces");
    }
  });

  test("a --db that names no store is refused, not made, as status refuses it", async () => {
    const { home, env } = freshHome();
    const typo = join(home, "jobz.db");
    const result = await runCli(["--db", typo, "dashboard", "--port", "0"], { env });
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toStartWith(`error: there is no queue at ${typo}`);
    expect(existsSync(typo)).toBe(false);
  });

  test("a bad port is refused", async () => {
    expect(await refused(["--port", "70000"])).toContain("--port must be 65535 or less");
    expect(await refused(["--port", "http"])).toContain("--port must be a whole number");
  });

  test("with a token from the environment it binds every address and answers with the token", async () => {
    home = freshHome({ QUEUECTL_DASHBOARD_TOKEN: "env-token-0123456789abcdef" });
    const dashboard = await startDashboard(home.env, ["--host", "0.0.0.0"]);
    try {
      const port = new URL(dashboard.origin).port;
      const url = `http://127.0.0.1:${port}/api/status`;
      expect((await fetch(url)).status).toBe(401);
      const response = await fetch(url, { headers: { authorization: "Bearer env-token-0123456789abcdef" } });
      expect(response.status).toBe(200);
    } finally {
      await dashboard.stop();
    }
    expect(await dashboard.process.exited).toBe(0);
  });

  test("a --token of digits is the token as typed, not a number rounded to another one", async () => {
    home = freshHome();
    const token = "1234567890123456789";
    const dashboard = await startDashboard(home.env, ["--token", token]);
    try {
      const url = `${dashboard.origin}/api/status`;
      expect((await fetch(url, { headers: { authorization: `Bearer ${token}` } })).status).toBe(200);
      expect((await fetch(url, { headers: { authorization: "Bearer 1234567890123456800" } })).status).toBe(
        401,
      );
    } finally {
      await dashboard.stop();
    }
    // Other local users can read a process's arguments, so the flag warns and names the way out.
    const stderr = await new Response(dashboard.process.stderr).text();
    expect(stderr).toContain("readable by every user of this machine (ps); set QUEUECTL_DASHBOARD_TOKEN");
    expect(stderr).not.toContain(token);
  });

  test("a token from QUEUECTL_DASHBOARD_TOKEN is used without a warning", async () => {
    home = freshHome();
    const token = "an-env-token-of-enough-length";
    const dashboard = await startDashboard({ ...home.env, QUEUECTL_DASHBOARD_TOKEN: token });
    try {
      const url = `${dashboard.origin}/api/status`;
      expect((await fetch(url, { headers: { authorization: `Bearer ${token}` } })).status).toBe(200);
    } finally {
      await dashboard.stop();
    }
    expect(await new Response(dashboard.process.stderr).text()).not.toContain("warning");
  });

  test("a port in use is a runtime error (exit 1) naming the port", async () => {
    home = freshHome();
    const first = await startDashboard(home.env);
    try {
      const port = new URL(first.origin).port;
      const result = await runCli(["dashboard", "--port", port], { env: home.env });
      expect(result.exitCode).toBe(1);
      expect(result.stderr).toContain(`port ${port} on 127.0.0.1 is in use`);
    } finally {
      await first.stop();
    }
  });
});
