/**
 * `queuectl enqueue` through the real CLI: every input form, every spec field as `--json`
 * shows it, the revision, and bulk input that is all-or-nothing.
 */

import { afterEach, beforeEach, describe, expect, setDefaultTimeout, test } from "bun:test";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { type CliResult, runCli, runCliJson, type TempHome, tempHome } from "../helpers/cli.ts";

// Real processes on a busy two-core machine: generous, not the 5 s default.
setDefaultTimeout(60_000);

interface JobJson {
  id: string;
  command: string | string[];
  state: string;
  attempts: number;
  max_retries: number;
  priority: number;
  queue: string;
  tags: string[];
  timeout: number | null;
  cwd: string | null;
  env: Record<string, string>;
  created_at: string;
  updated_at: string;
  next_run_at: string;
  last_error: string | null;
  exit_code: number | null;
  source: string | null;
  revision: string;
}

let home: TempHome;
beforeEach(() => {
  home = tempHome();
});
afterEach(() => home.cleanup());

const cli = (args: string[], stdin?: string) => runCli(args, { env: home.env, stdin });
const list = () => runCliJson<JobJson[]>(["list"], { env: home.env });

/** Writes an input file beside the database and returns its path. */
function inputFile(name: string, text: string): string {
  const folder = join(home.home, "input");
  mkdirSync(folder, { recursive: true });
  const path = join(folder, name);
  writeFileSync(path, text);
  return path;
}

function expectOk(result: CliResult): CliResult {
  if (result.exitCode !== 0) throw new Error(`exit ${result.exitCode}: ${result.stderr}`);
  expect(result.stderr).toBe("");
  return result;
}

/** A user error: exit 2, one `error: … — …` line on stderr, nothing on stdout, no stack. */
function expectUserError(result: CliResult, fragment: string): void {
  expect(result.exitCode).toBe(2);
  expect(result.stdout).toBe("");
  expect(result.stderr).toStartWith("error: ");
  expect(result.stderr).toContain(" — ");
  expect(result.stderr).toContain(fragment);
  expect(result.stderr.trimEnd().split("\n")).toHaveLength(1);
  expect(result.stderr).not.toContain("    at ");
}

describe("enqueue '<json>'", () => {
  test("the README's first job", async () => {
    const result = expectOk(await cli(["enqueue", '{"id":"job1","command":"echo Hello World"}']));
    expect(result.stdout).toBe("✓ Enqueued job job1\n");
    const [job] = await list();
    expect(job).toMatchObject({
      id: "job1",
      command: "echo Hello World",
      state: "pending",
      attempts: 0,
      max_retries: 3,
      priority: 0,
      queue: "default",
      tags: [],
      timeout: null,
      cwd: null,
      env: {},
      last_error: null,
      exit_code: null,
      source: null,
    });
    expect(job?.revision).toMatch(/^[0-9a-f]{16}$/);
    expect(job?.created_at).toBe(job?.next_run_at as string);
    expect(Number.isNaN(Date.parse(job?.created_at ?? ""))).toBe(false);
  });

  test("a missing id is generated, unique, and printed", async () => {
    const first = await runCliJson<{ enqueued: number; ids: string[] }>(["enqueue", '{"command":"echo a"}'], {
      env: home.env,
    });
    const second = await runCliJson<{ enqueued: number; ids: string[] }>(
      ["enqueue", '{"command":"echo a"}'],
      { env: home.env },
    );
    expect(first.enqueued).toBe(1);
    expect(first.ids[0]).toMatch(/^job-[0-9a-z]+-[0-9a-f]{8}$/);
    expect(second.ids[0]).not.toBe(first.ids[0]);
    expect((await list()).map((job) => job.id)).toEqual([first.ids[0] ?? "", second.ids[0] ?? ""]);
  });

  test("every spec field, normalized in list --json and show --json", async () => {
    const spec = {
      id: "full",
      command: ["echo", "a b"],
      max_retries: 0,
      timeout: "5m",
      priority: 7,
      run_at: "2030-01-01T09:00:00+02:00",
      cwd: "/tmp",
      env: { B: "2", A: 1 },
      tags: ["z", "a", "a"],
      queue: "emails",
      state: "pending",
    };
    expectOk(await cli(["enqueue", JSON.stringify(spec)]));
    const [job] = await list();
    expect(job).toMatchObject({
      id: "full",
      command: ["echo", "a b"],
      state: "pending",
      max_retries: 0,
      timeout: 300,
      priority: 7,
      next_run_at: "2030-01-01T07:00:00.000Z",
      cwd: "/tmp",
      env: { A: "1", B: "2" },
      tags: ["a", "z"],
      queue: "emails",
    });
    const shown = await runCliJson<{ spec: unknown; attempts: unknown[] }>(["show", "full"], {
      env: home.env,
    });
    expect(shown.spec).toEqual({
      id: "full",
      command: ["echo", "a b"],
      max_retries: 0,
      timeout: 300,
      priority: 7,
      run_at: "2030-01-01T07:00:00.000Z",
      cwd: "/tmp",
      env: { A: "1", B: "2" },
      tags: ["a", "z"],
      queue: "emails",
    });
    expect(shown.attempts).toEqual([]);
  });

  test("timeout: seconds, 90s, 5m, 2h", async () => {
    const timeouts = [90, "90s", "5m", "2h"];
    const lines = timeouts.map((timeout, i) => JSON.stringify({ id: `t${i}`, command: "x", timeout }));
    expectOk(await cli(["enqueue", "-f", inputFile("t.ndjson", lines.join("\n"))]));
    expect((await list()).map((job) => job.timeout)).toEqual([90, 90, 300, 7200]);
  });

  test("delay sets next_run_at after created_at; run_at is kept in UTC", async () => {
    expectOk(await cli(["enqueue", '{"id":"d","command":"x","delay":"5m"}']));
    expectOk(await cli(["enqueue", '{"id":"r","command":"x","run_at":"2031-05-06T07:08:09Z"}']));
    const [delayed, scheduled] = await list();
    expect(Date.parse(delayed?.next_run_at ?? "") - Date.parse(delayed?.created_at ?? "")).toBe(300_000);
    expect(scheduled?.next_run_at).toBe("2031-05-06T07:08:09.000Z");
  });

  test("max_retries: 0 is kept; a missing one takes the config at enqueue time", async () => {
    expectOk(await cli(["enqueue", '{"id":"zero","command":"x","max_retries":0}']));
    expectOk(await cli(["enqueue", '{"id":"default","command":"x"}']));
    expectOk(await cli(["config", "set", "max-retries", "5"]));
    expectOk(await cli(["enqueue", '{"id":"after","command":"x"}']));
    expect((await list()).map((job) => [job.id, job.max_retries])).toEqual([
      ["zero", 0],
      ["default", 3],
      ["after", 5],
    ]);
    expect((await cli(["list", "--state", "pending"])).stdout).toMatch(/^zero +pending +0\/1 /m);
  });

  test("the revision ignores key order, formatting and defaults, and follows the content", async () => {
    const other = tempHome();
    try {
      expectOk(
        await cli([
          "enqueue",
          '{"id":"r","command":"echo","tags":["b","a"],"env":{"X":"1","Y":"2"},"timeout":300}',
        ]),
      );
      const yaml =
        "tags:\n  - a\n  - b\nenv:\n  Y: '2'\n  X: 1\ntimeout: 5m\npriority: 0\ncommand: echo\nid: r\n";
      const path = inputFile("r.yaml", yaml);
      expectOk(await runCli(["enqueue", "-f", path], { env: other.env }));
      expectOk(await runCli(["enqueue", '{"id":"s","command":"echo 2"}'], { env: other.env }));
      const [mine] = await list();
      const theirs = await runCliJson<JobJson[]>(["list"], { env: other.env });
      expect(theirs[0]?.revision).toBe(mine?.revision as string);
      expect(theirs[1]?.revision).not.toBe(mine?.revision as string);
    } finally {
      other.cleanup();
    }
  });
});

describe("enqueue -f", () => {
  const job = (id: string) => ({ id, command: `echo ${id}` });

  test.each([
    ["one.json", JSON.stringify(job("a")), ["a"]],
    ["list.json", JSON.stringify([job("a"), job("b")]), ["a", "b"]],
    ["wrapped.json", JSON.stringify({ jobs: [job("a"), job("b")] }), ["a", "b"]],
    ["pretty.json", JSON.stringify([job("a")], null, 2), ["a"]],
    ["one.yaml", "id: a\ncommand: echo a\n", ["a"]],
    ["list.yml", "- id: a\n  command: echo a\n- id: b\n  command: [echo, b]\n", ["a", "b"]],
    ["multi.yaml", "---\nid: a\ncommand: echo a\n---\nid: b\ncommand: echo b\n", ["a", "b"]],
    ["wrapped.yaml", "jobs:\n  - id: a\n    command: echo a\n", ["a"]],
    ["jobs.ndjson", `${JSON.stringify(job("a"))}\n${JSON.stringify(job("b"))}\n`, ["a", "b"]],
    ["jobs.jsonl", `${JSON.stringify(job("a"))}\n\n${JSON.stringify(job("b"))}`, ["a", "b"]],
  ])("%s", async (name, text, ids) => {
    const result = expectOk(await cli(["enqueue", "-f", inputFile(name, text)]));
    expect(result.stdout).toBe(
      ids.length === 1 ? `✓ Enqueued job ${ids[0]}\n` : `✓ Enqueued ${ids.length} jobs\n`,
    );
    expect((await list()).map((j) => j.id)).toEqual(ids);
  });

  test("--file is the long form; --json prints the ids", async () => {
    const path = inputFile("jobs.json", JSON.stringify([job("a"), job("b")]));
    const result = expectOk(await cli(["enqueue", "--file", path, "--json"]));
    expect(JSON.parse(result.stdout)).toMatchObject({ enqueued: 2, ids: ["a", "b"] });
  });

  test("-f - reads stdin: JSON, NDJSON and YAML", async () => {
    expectOk(await cli(["enqueue", "-f", "-"], JSON.stringify(job("json"))));
    expectOk(
      await cli(["enqueue", "--file", "-"], `${JSON.stringify(job("nd1"))}\n${JSON.stringify(job("nd2"))}\n`),
    );
    expectOk(await cli(["enqueue", "-f", "-"], "id: yaml\ncommand: echo\n"));
    expect((await list()).map((j) => j.id)).toEqual(["json", "nd1", "nd2", "yaml"]);
    // A whole object and then any other JSON value is NDJSON with a bad line, two lines as three.
    for (const lines of [
      ...[[job("x2")], 42, "x", null].map((value) => [job("x0"), value]),
      [job("x0"), job("x1"), [job("x2")]],
    ].map((values) => values.map((value) => JSON.stringify(value)))) {
      expectUserError(
        await cli(["enqueue", "-f", "-"], `${lines.join("\n")}\n`),
        `stdin, line ${lines.length}: a job must be a JSON object`,
      );
    }
  });

  test("--format overrides the extension", async () => {
    const path = inputFile("jobs.txt", `${JSON.stringify(job("a"))}\n${JSON.stringify(job("b"))}\n`);
    expectOk(await cli(["enqueue", "-f", path, "--format", "ndjson"]));
    expect((await list()).map((j) => j.id)).toEqual(["a", "b"]);
    expectUserError(await cli(["enqueue", "-f", path, "--format", "xml"]), 'unknown --format "xml"');
  });
});

describe("bulk input is all or nothing", () => {
  test("10,000 NDJSON lines enqueue", async () => {
    const lines = Array.from({ length: 10_000 }, (_, i) =>
      JSON.stringify({ id: `bulk-${i}`, command: `echo ${i}` }),
    );
    const result = expectOk(await cli(["enqueue", "-f", inputFile("bulk.ndjson", lines.join("\n"))]));
    expect(result.stdout).toBe("✓ Enqueued 10000 jobs\n");
    const status = await runCliJson<{ jobs: { pending: number; total: number } }>(["status"], {
      env: home.env,
    });
    expect(status.jobs).toMatchObject({ pending: 10_000, total: 10_000 });
    const last = await runCliJson<JobJson>(["show", "bulk-9999"], { env: home.env });
    expect(last.command).toBe("echo 9999");
  });

  const thousand = () =>
    Array.from({ length: 1000 }, (_, i) => JSON.stringify({ id: `j${i}`, command: "x" }));

  test("one bad line in the middle of 1,000 names its line and enqueues nothing", async () => {
    expectOk(await cli(["enqueue", '{"id":"existing","command":"x"}']));
    const before = await list();
    const lines = thousand();
    lines[499] = JSON.stringify({ id: "j499", command: "x", max_retry: 3 });
    expectUserError(
      await cli(["enqueue", "-f", inputFile("bad.ndjson", lines.join("\n"))]),
      "line 500: `max_retry` is not a job field — did you mean `max_retries`?",
    );
    const syntax = thousand();
    syntax[699] = '{"id":"j699","command":';
    expectUserError(
      await cli(["enqueue", "-f", inputFile("syntax.ndjson", syntax.join("\n"))]),
      "line 700: invalid JSON",
    );
    const duration = thousand();
    duration[99] = JSON.stringify({ id: "j99", command: "x", timeout: "ages" });
    expectUserError(
      await cli(["enqueue", "-f", inputFile("duration.ndjson", duration.join("\n"))]),
      "line 100:",
    );
    expect(await list()).toEqual(before);
  });

  test("a duplicate id inside a bulk file enqueues nothing and names both lines", async () => {
    const lines = thousand();
    lines[800] = JSON.stringify({ id: "j3", command: "again" });
    expectUserError(
      await cli(["enqueue", "-f", inputFile("dup.ndjson", lines.join("\n"))]),
      'line 801: the id "j3" is already used by line 4',
    );
    expect(await list()).toEqual([]);
  });

  test("NDJSON streams in batches: a problem past the first batch still enqueues nothing", async () => {
    const lines = Array.from({ length: 12_000 }, (_, i) => JSON.stringify({ id: `s${i}`, command: "x" }));
    const repeated = [...lines];
    repeated[11_000] = JSON.stringify({ id: "s3", command: "again" });
    // stdin is copied aside before anything is stored, so it too is read again for the first line.
    expectUserError(
      await cli(["enqueue", "-f", "-"], repeated.join("\n")),
      'stdin, line 11001: the id "s3" is already used by line 4',
    );
    expectUserError(
      await cli(["enqueue", "-f", inputFile("late.ndjson", repeated.join("\n"))]),
      'line 11001: the id "s3" is already used by line 4',
    );
    const bad = [...lines, '{"id":"tail","command":'];
    expectUserError(
      await cli(["enqueue", "-f", inputFile("bad.ndjson", bad.join("\n"))]),
      "line 12001: invalid JSON",
    );
    const cycle = [
      JSON.stringify({ id: "a", command: "x", after: ["b"] }),
      ...lines,
      JSON.stringify({ id: "b", command: "x", after: ["a"] }),
    ];
    expectUserError(await cli(["enqueue", "-f", inputFile("cycle.ndjson", cycle.join("\n"))]), "cycle");
    const schedule = [JSON.stringify({ id: "nightly", command: "x", schedule: "0 3 * * *" }), ...lines];
    schedule.push(JSON.stringify({ id: "nightly", command: "x" }));
    expectUserError(
      await cli(["enqueue", "-f", inputFile("schedule.ndjson", schedule.join("\n"))]),
      'line 12002: the id "nightly" is already used by line 1',
    );
    const jobFirst = [JSON.stringify({ id: "nightly", command: "x" }), ...lines, schedule[0]];
    expectUserError(
      await cli(["enqueue", "-f", inputFile("job-first.ndjson", jobFirst.join("\n"))]),
      'line 12002: the id "nightly" is already used by line 1',
    );
    expect(await list()).toEqual([]);
    const one = expectOk(await cli(["enqueue", "-f", inputFile("one.ndjson", `${lines[0]}\n`)]));
    expect(one.stdout).toBe("✓ Enqueued job s0\n");
    const ok = expectOk(await cli(["enqueue", "-f", "-", "--json"], lines.slice(1).join("\n")));
    expect(JSON.parse(ok.stdout)).toMatchObject({ enqueued: 11_999 });
    expect(JSON.parse(ok.stdout).ids.at(-1)).toBe("s11999");
  });

  test("a bulk file that repeats an id already queued enqueues nothing", async () => {
    expectOk(await cli(["enqueue", '{"id":"j500","command":"x"}']));
    const before = await list();
    expectUserError(
      await cli(["enqueue", "-f", inputFile("clash.ndjson", thousand().join("\n"))]),
      'clash.ndjson, line 501: job id "j500" already exists',
    );
    const items = JSON.stringify([
      { id: "fresh", command: "x" },
      { id: "j500", command: "x" },
    ]);
    expectUserError(
      await cli(["enqueue", "-f", inputFile("clash.json", items)]),
      'clash.json, item 2: job id "j500" already exists',
    );
    expect(await list()).toEqual(before);
  });

  test("a bad item in a YAML list names the item", async () => {
    const path = inputFile("jobs.yaml", "- id: a\n  command: x\n- id: b\n  comand: x\n");
    expectUserError(
      await cli(["enqueue", "-f", path]),
      "item 2: `comand` is not a job field — did you mean `command`?",
    );
    expect(await list()).toEqual([]);
  });
});
