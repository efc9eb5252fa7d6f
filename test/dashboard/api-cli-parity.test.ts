/**
 * The REST API and the CLI agree where the README says they do: POST /api/jobs takes and
 * refuses exactly the bytes `enqueue -f` takes and refuses, with the same message (naming
 * the request body for the file), and GET /api/status is `status --json`. A real dashboard
 * on a real temporary store, compared with the real CLI.
 */

import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseConfigValue } from "../../src/core/config.ts";
import { runCli, runCliJson, type TempHome, tempHome } from "../helpers/cli.ts";
import { enqueue, openTestStore } from "./fixtures.ts";
import { type RunningDashboard, startDashboard } from "./server.ts";

// Real processes on a busy two-core machine: generous, not the 5 s default.
setDefaultTimeout(60_000);

type Json = Record<string, unknown>;

/** The dashboard's store, and a second one for the CLI, so the same ids can go into both. */
let home: TempHome;
let cliHome: TempHome;
let dashboard: RunningDashboard;

beforeAll(async () => {
  home = tempHome();
  cliHome = tempHome();
  delete home.env.QUEUECTL_DASHBOARD_TOKEN;
  // A job a worker runs and a synced jobs folder: the parts of `status --json` beyond counts.
  const store = openTestStore(home.home);
  const now = Date.now();
  await enqueue(store, { id: "busy", command: "sleep 60" }, now);
  await store.jobClaim({ workerId: "parity-worker", host: "parity-host", now, leaseMs: 600_000 });
  // Config values that are JSON themselves: both answers carry them as JSON.
  await store.configSet({ key: "notify", value: parseConfigValue("notify", '["http://a.example/h"]') });
  await store.configSet({ key: "limits", value: parseConfigValue("limits", '{"processes":100}') });
  await store.close();
  const folder = join(home.home, "jobs");
  mkdirSync(folder, { mode: 0o700 });
  writeFileSync(join(folder, "nightly.yaml"), 'command: "true"\n');
  writeFileSync(join(folder, "broken.yaml"), "command: [\n");
  expect((await runCli(["sync", folder], { env: home.env })).exitCode).toBe(2);
  dashboard = await startDashboard(home.env);
});

afterAll(async () => {
  await dashboard?.stop();
  home?.cleanup();
  cliHome?.cleanup();
});

const utf16le = (text: string) => Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(text, "utf16le")]);
const utf16be = (text: string) => utf16le(text).swap16();

function postJobs(body: Buffer | string): Promise<Response> {
  return fetch(`${dashboard.origin}/api/jobs`, {
    method: "POST",
    headers: { ...dashboard.auth, "content-type": "application/json" },
    body: typeof body === "string" ? body : new Uint8Array(body),
  });
}

/** What `enqueue -f` does with `bytes` as a file: the ids it enqueued, or its error line. */
async function cliVerdict(name: string, bytes: Buffer): Promise<Json> {
  const file = join(cliHome.home, `${name}.json`);
  writeFileSync(file, bytes);
  const result = await runCli(["enqueue", "-f", file, "--json"], { env: cliHome.env });
  if (result.exitCode === 0) return { ids: (JSON.parse(result.stdout) as { ids: string[] }).ids };
  expect(result.exitCode).toBe(2);
  return { refused: result.stderr.trim().replaceAll(file, "the request body") };
}

/** The same for the API: 201 and its ids, or 400 and its `{error, hint}` as the CLI's line. */
async function apiVerdict(bytes: Buffer): Promise<Json> {
  const response = await postJobs(bytes);
  const body = (await response.json()) as { ids?: string[]; error?: string; hint?: string };
  if (response.status === 201) return { ids: body.ids };
  expect(response.status).toBe(400);
  return { refused: `error: ${body.error} — ${body.hint}` };
}

describe("POST /api/jobs decodes bodies as `enqueue -f` decodes files", () => {
  const job = (id: string) => JSON.stringify({ id, command: "true" });
  const cases: [string, Buffer, "takes" | "refuses"][] = [
    [
      "invalid UTF-8",
      Buffer.concat([Buffer.from('{"id":"bad'), Buffer.from([0xff]), Buffer.from('"}')]),
      "refuses",
    ],
    ["UTF-16LE with a byte-order mark", utf16le(job("u16le")), "takes"],
    ["UTF-16BE with a byte-order mark", utf16be(job("u16be")), "takes"],
    [
      "UTF-8 with a byte-order mark",
      Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(job("u8bom"))]),
      "takes",
    ],
    [
      "UTF-16LE cut in the middle of a character",
      Buffer.concat([utf16le(job("cut")), Buffer.from([0x41])]),
      "refuses",
    ],
    ["UTF-16 without a byte-order mark", Buffer.from(job("nobom"), "utf16le"), "refuses"],
  ];
  for (const [what, bytes, expected] of cases) {
    test(`${what}: the API ${expected} it as the CLI does, with the same message`, async () => {
      const cli = await cliVerdict(what.replaceAll(" ", "-"), bytes);
      expect(Object.keys(cli)).toEqual([expected === "takes" ? "ids" : "refused"]);
      expect(await apiVerdict(bytes)).toEqual(cli);
    });
  }

  test("an invalid byte is refused, never replaced by U+FFFD and stored", async () => {
    const response = await postJobs(
      Buffer.from([...Buffer.from('{"id":"bad'), 0xff, ...Buffer.from('","command":"x"}')]),
    );
    expect(response.status).toBe(400);
    expect(await response.json()).toEqual({
      error: "the request body is not UTF-8 text",
      hint: "save it as UTF-8 and try again",
    });
    const list = (await (
      await fetch(`${dashboard.origin}/api/jobs?q=bad`, { headers: dashboard.auth })
    ).json()) as Json[];
    expect(list).toEqual([]);
  });

  test("bad JSON gets the CLI's message and a hint for an HTTP client, not for a shell", async () => {
    const text = '{"id":"j1","command":"echo hi"';
    const cli = (await cliVerdict("bad-json", Buffer.from(text))).refused as string;
    expect(cli).toContain("give one job object or an array of them");
    const response = await postJobs(text);
    expect(response.status).toBe(400);
    const body = (await response.json()) as { error: string; hint: string };
    expect(`error: ${body.error}`).toBe(cli.split(" — ")[0] ?? "");
    expect(body.hint).not.toBe(cli.split(" — ")[1]);
    expect(body.hint).toContain('{"id":"job1","command":"echo hi"}');
  });

  test("NDJSON sent as application/json: the CLI names the format, the API the content type", async () => {
    const text = '{"id":"n1","command":"true"}\n{"id":"n2","command":"true"}\n';
    const cli = (await cliVerdict("ndjson-as-json", Buffer.from(text))).refused as string;
    expect(cli).toContain("pass --format ndjson");
    const response = await postJobs(text);
    expect(response.status).toBe(400);
    const body = (await response.json()) as { error: string; hint: string };
    expect(`error: ${body.error}`).toBe(cli.split(" — ")[0] ?? "");
    expect(body.hint).toBe("send it with content-type application/x-ndjson");
  });
});

/** Ages move between two reads; everything else must be the same. */
function withoutAges(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutAges);
  if (typeof value !== "object" || value === null) return value;
  return Object.fromEntries(
    Object.entries(value)
      .filter(([key]) => !key.endsWith("_ms"))
      .map(([key, inner]) => [key, withoutAges(inner)]),
  );
}

describe("GET /api/status", () => {
  test("is `status --json`: the same keys, running jobs and jobfile folders", async () => {
    const response = await fetch(`${dashboard.origin}/api/status`, { headers: dashboard.auth });
    expect(response.status).toBe(200);
    const api = (await response.json()) as Json;
    const cli = await runCliJson<Json>(["status"], { env: home.env });
    expect(Object.keys(api)).toEqual(Object.keys(cli));
    expect(Object.keys(api)).toEqual(["jobs", "workers", "running", "folders", "config"]);
    expect(withoutAges(api)).toEqual(withoutAges(cli));
    expect(api.config).toMatchObject({
      notify: [{ url: "http://a.example/h", events: ["completed", "failed", "dead"] }],
      limits: { processes: 100 },
    });
    expect((api.running as Json[]).map((job) => [job.id, job.worker_id])).toEqual([
      ["busy", "parity-worker"],
    ]);
    const [folder] = api.folders as { folder: string; last_sync: { problems: number } }[];
    expect(folder?.folder).toBe(join(home.home, "jobs"));
    expect(folder?.last_sync.problems).toBe(1);
  });
});
