import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { resolveConfig } from "../../src/core/config.ts";
import { UserError } from "../../src/core/errors.ts";
import { ARGUMENT_NAME, formatFromName, parseJobInput, prepareJobs } from "../../src/core/job-input.ts";

// Real processes on a busy two-core machine: generous, not the 5 s default.
setDefaultTimeout(60_000);

const config = resolveConfig({});
const now = 1_700_000_000_000;

function ids(text: string, name = "input", format?: "json" | "yaml" | "ndjson"): string[] {
  return prepareJobs(parseJobInput(text, name, format), name, config, now).map((job) => job.spec.id);
}

function refusal(work: () => unknown): string {
  try {
    work();
  } catch (error) {
    expect(error).toBeInstanceOf(UserError);
    expect((error as UserError).exitCode).toBe(2);
    return `${(error as UserError).message} — ${(error as UserError).hint}`;
  }
  throw new Error("expected a refusal");
}

describe("input forms", () => {
  test("format from the file name", () => {
    expect(["a.json", "a.yaml", "a.YML", "a.ndjson", "a.jsonl", "a.txt"].map(formatFromName)).toEqual([
      "json",
      "yaml",
      "yaml",
      "ndjson",
      "ndjson",
      undefined,
    ]);
  });

  test("JSON: one job, a list, or {jobs: [...]}", () => {
    expect(ids('{"id":"a","command":"x"}')).toEqual(["a"]);
    expect(ids('[{"id":"a","command":"x"},{"id":"b","command":"x"}]')).toEqual(["a", "b"]);
    expect(ids('{"jobs":[{"id":"a","command":"x"}]}')).toEqual(["a"]);
    // Something beside the list is named, not `jobs` (which the whole, read as one job, would blame).
    expect(refusal(() => ids('{"jobs":[{"id":"a","command":"x"}],"extra":1}', "jobs.json"))).toStartWith(
      "jobs.json: `extra` cannot sit next to `jobs`",
    );
    expect(
      refusal(() => ids("jobs:\n  - id: a\n    command: x\nretries: 2\n", "jobs.yaml", "yaml")),
    ).toStartWith("jobs.yaml: `retries` cannot sit next to `jobs`");
    // `jobs` that holds no list, nor a job, is said to be meant as one.
    for (const text of ['{"jobs":{}}', '{"jobs":3}', '{"jobs":null}']) {
      expect(refusal(() => ids(text, "jobs.json"))).toStartWith("jobs.json: `jobs` must be a list of jobs");
    }
    expect(ids('{"jobs":{"id":"a","command":"x"}}')).toEqual(["a"]);
    // As in a jobfile, a mapping anchored beside `jobs:` only lends its fields (`<<: *d`).
    const lent = "defaults: &d {max_retries: 1}\njobs:\n  - {id: y1, <<: *d, command: x}\n";
    expect(ids(lent, "jobs.yaml", "yaml")).toEqual(["y1"]);
    expect(parseJobInput(lent, "jobs.yaml", "yaml")[0]?.value).toEqual({
      id: "y1",
      max_retries: 1,
      command: "x",
    });
    // A job's own fields beside a `jobs` that holds no list: one job, and `jobs` no field of it.
    expect(refusal(() => ids('{"id":"a","command":"x","jobs":{"id":"b","command":"y"}}'))).toContain(
      "`jobs` is not a job field",
    );
    expect(ids('{\n  "id": "pretty",\n  "command": "x"\n}', "in", "json")).toEqual(["pretty"]);
  });

  test("YAML: one job, a list, jobs:, several documents", () => {
    expect(ids("id: a\ncommand: x\n", "f", "yaml")).toEqual(["a"]);
    expect(ids("- id: a\n  command: x\n- id: b\n  command: x\n", "f", "yaml")).toEqual(["a", "b"]);
    expect(ids("jobs:\n  - id: a\n    command: x\n", "f", "yaml")).toEqual(["a"]);
    expect(ids("---\nid: a\ncommand: x\n---\nid: b\ncommand: x\n---\n", "f", "yaml")).toEqual(["a", "b"]);
  });

  test("YAML keeps the characters of numeric-looking ids and env values", () => {
    const [item] = parseJobInput(
      "id: 007\ncommand: x\nenv:\n  VERSION: 1.10\n  PORT: 8080\nmax_retries: 3\n",
      "f",
      "yaml",
    );
    expect(item?.value).toEqual({
      id: "007",
      command: "x",
      env: { VERSION: "1.10", PORT: "8080" },
      max_retries: 3,
    });
    expect(ids("jobs:\n  - id: 1e3\n    command: x\n", "f", "yaml")).toEqual(["1e3"]);
  });

  test("NDJSON, with blank lines and CRLF", () => {
    expect(ids('{"id":"a","command":"x"}\r\n\r\n{"id":"b","command":"x"}\r\n', "f", "ndjson")).toEqual([
      "a",
      "b",
    ]);
  });

  test("detection without a hint: JSON, then NDJSON, then YAML", () => {
    expect(ids('{"id":"a","command":"x"}\n{"id":"b","command":"x"}\n')).toEqual(["a", "b"]);
    expect(ids("id: y\ncommand: x\n")).toEqual(["y"]);
  });
});

describe("refusals name where they happened", () => {
  test("an NDJSON syntax error names its line", () => {
    const text = '{"id":"a","command":"x"}\n{"id":"b",\n';
    expect(refusal(() => parseJobInput(text, "jobs.ndjson", "ndjson"))).toStartWith(
      "jobs.ndjson, line 2: invalid JSON",
    );
  });

  test("an NDJSON line too deep to check is said to be nested too deeply, not a crash", () => {
    const deep = `{"id":"d","command":"x","env":{"A":${"[".repeat(100_000)}${"]".repeat(100_000)}}}`;
    expect(refusal(() => parseJobInput(`{"id":"a","command":"x"}\n${deep}\n`, "jobs.ndjson", "ndjson"))).toBe(
      "jobs.ndjson, line 2: nested too deeply: more than 512 levels of lists or mappings — nothing was enqueued",
    );
  });

  test("bad JSON gets the fix that fits its source: the argument, a file of NDJSON, a file", () => {
    const hint = (text: string, name: string, format?: "json") =>
      refusal(() => parseJobInput(text, name, format));
    expect(hint('{"id":"a",}', ARGUMENT_NAME)).toContain("quote the job in single quotes");
    const ndjson = '{"id":"a","command":"x"}\n{"id":"b","command":"x"}\n';
    expect(hint(ndjson, "jobs.json", "json")).toBe(
      "jobs.json: one JSON job per line is NDJSON, not one JSON document — name the file .ndjson or pass --format ndjson; nothing was enqueued",
    );
    for (const [text, format] of [
      ['{"id":"a","command":"x",}', "json"],
      ['[{"id":"a"} {"id":"b"}]', undefined],
    ] as const) {
      const refused = hint(text, "jobs.json", format);
      // Placed, as a YAML error is: line and column of the first character JSON cannot read.
      expect(refused).toMatch(/^jobs\.json:1:\d+: invalid JSON \(/);
      expect(refused).toEndWith("give one job object or an array of them; nothing was enqueued");
    }
    const list = '[{"id":"a","command":"x"},\n{"id":"b" "command":"x"}]';
    expect(hint(list, "l.json")).toStartWith("l.json:2:11: invalid JSON (");
  });

  test("a spec error in a bulk file names its line, also for durations", () => {
    const text = '{"id":"a","command":"x"}\n{"id":"b","command":"x","timeout":"5 minutes"}\n';
    expect(refusal(() => ids(text, "jobs.ndjson", "ndjson"))).toStartWith(
      'jobs.ndjson, line 2: `timeout` "5 minutes" is not a duration',
    );
  });

  test("a spec error in a list names its item", () => {
    expect(refusal(() => ids('[{"id":"a","command":"x"},{"id":"b","comand":"x"}]', "l.json"))).toStartWith(
      "l.json, item 2: `comand` is not a job field — did you mean `command`?",
    );
  });

  test("a file holding one bad job names the file", () => {
    expect(refusal(() => ids("hello\n", "notes.txt"))).toStartWith("notes.txt: a job must be a JSON object");
  });

  test("a repeated id inside one input names both places", () => {
    const text = '{"id":"a","command":"x"}\n{"id":"b","command":"x"}\n{"id":"a","command":"y"}\n';
    expect(refusal(() => ids(text, "jobs.ndjson", "ndjson"))).toStartWith(
      'jobs.ndjson, line 3: the id "a" is already used by line 1',
    );
  });

  test("a YAML syntax error names line and column", () => {
    expect(refusal(() => parseJobInput("id: a\ncommand: [\n", "job.yaml", "yaml"))).toMatch(
      /^job\.yaml:\d+:\d+: invalid YAML/,
    );
    expect(refusal(() => parseJobInput("id: a\ncommand: x\nid: b\n", "job.yaml", "yaml"))).toMatch(
      /^job\.yaml:3:1: invalid YAML \(Map keys must be unique\)/,
    );
  });

  test("YAML a job cannot be read from is refused where it is written, never read as empty", () => {
    // !!omap and !!set read as a Map or Set: `env` and `limits` would have been stored as {}.
    expect(
      refusal(() => parseJobInput('id: a\ncommand: x\nenv: !!omap [ {A: "1"} ]\n', "j.yaml", "yaml")),
    ).toStartWith("j.yaml:3:13: invalid YAML (!!omap is not read here: write a plain mapping or list)");
    expect(refusal(() => parseJobInput("id: a\ncommand: x\nlimits: !!set {memory}\n", "j.yaml"))).toStartWith(
      "j.yaml:3:15: invalid YAML (!!set is not read here",
    );
    expect(refusal(() => parseJobInput("? [a, b]\n: 1\ncommand: x\n", "j.yaml"))).toStartWith(
      "j.yaml:1:3: invalid YAML (a key must be a plain value, not a list or mapping)",
    );
  });

  test("empty, blank, NUL and empty lists", () => {
    expect(refusal(() => parseJobInput("", "e.json"))).toStartWith("e.json is empty");
    expect(refusal(() => parseJobInput(" \n\n", "e.json"))).toStartWith("e.json is empty");
    expect(refusal(() => parseJobInput('{"id":"a\u0000","command":"x"}', "n.json"))).toContain("NUL");
    expect(refusal(() => ids("[]", "l.json"))).toStartWith("l.json holds no jobs");
    expect(refusal(() => ids('{"jobs":[]}', "l.json"))).toStartWith("l.json holds no jobs");
    expect(refusal(() => ids("---\n---\n", "l.yaml", "yaml"))).toStartWith("l.yaml holds no jobs");
  });

  test("a YAML alias bomb is refused without expanding it", () => {
    const levels = ["a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]"];
    for (let level = 1; level < 10; level++) {
      const prev = String.fromCharCode(96 + level);
      const name = String.fromCharCode(97 + level);
      levels.push(`${name}: &${name} [${Array(9).fill(`*${prev}`).join(", ")}]`);
    }
    expect(refusal(() => parseJobInput(levels.join("\n"), "bomb.yaml", "yaml"))).toContain("bomb.yaml");
  });

  test("no message spans two lines", () => {
    const inputs = [
      '{"id":"a\\n\\u001b[2Jb","command":"x"}',
      '{"id":"a","command":"x","bad\\nkey\\u001b":1}',
      '{"id":"a","command":"x","run_at":"\\u001b]0;t\\u0007"}',
    ];
    for (const input of inputs) {
      const text = refusal(() => ids(input));
      expect(text).not.toContain("\n");
      expect(text).not.toContain("\u001b");
      expect(text).not.toContain("\u0007");
    }
  });
});

describe("prepared jobs", () => {
  test("max_retries falls back to the config; next_run_at honours delay and run_at", () => {
    const jobs = prepareJobs(
      parseJobInput(
        '[{"id":"a","command":"x"},{"id":"b","command":"x","max_retries":0,"delay":"90s"},{"id":"c","command":"x","run_at":"2030-01-01T00:00:00Z"}]',
        "in",
      ),
      "in",
      resolveConfig({ "max-retries": "7" }),
      now,
    );
    expect(jobs.map((job) => [job.maxRetries, job.nextRunAt])).toEqual([
      [7, now],
      [0, now + 90_000],
      [7, Date.parse("2030-01-01T00:00:00Z")],
    ]);
  });
});
