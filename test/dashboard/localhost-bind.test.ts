/**
 * `dashboard --host localhost` binds 127.0.0.1 and prints 127.0.0.1. A browser may try ::1
 * first for the name `localhost`, and a dashboard bound only to 127.0.0.1 but printed as
 * http://localhost:PORT/?token=… sent the token to whoever else listened on [::1]:PORT.
 */

import { afterAll, beforeAll, expect, setDefaultTimeout, test } from "bun:test";
import { type TempHome, tempHome } from "../helpers/cli.ts";
import { type RunningDashboard, startDashboard } from "./server.ts";

setDefaultTimeout(60_000);

let home: TempHome;
let dashboard: RunningDashboard;

beforeAll(async () => {
  home = tempHome();
  dashboard = await startDashboard(home.env, ["--host", "localhost"]);
});

afterAll(async () => {
  await dashboard?.stop();
  home?.cleanup();
});

test("the printed URL names the address bound, and it answers there with the token only", async () => {
  expect(dashboard.origin).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  expect(dashboard.token).not.toBeNull();
  expect((await fetch(`${dashboard.origin}/api/status`)).status).toBe(401);
  expect((await fetch(`${dashboard.origin}/api/status`, { headers: dashboard.auth })).status).toBe(200);
});
