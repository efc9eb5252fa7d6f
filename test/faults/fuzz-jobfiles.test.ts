/**
 * Fuzzed jobfiles: thousands of random and mutated YAML and JSON files go through the
 * jobfile parser, and a few hundred through `queuectl sync` as real files. Every file is
 * either valid or rejected with problems that name the file, a real line and column, and
 * read as one line. Never an exception, never a stack trace; a file in error changes
 * nothing in the queue.
 */

import { afterAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { existsSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { stringify } from "yaml";
import { SPEC_FIELDS } from "../../src/core/spec.ts";
import { type ParsedJobfile, parseJobfile } from "../../src/jobfiles/parse.ts";
import { runCli, tempHome } from "../helpers/cli.ts";
import { testSeed } from "../helpers/seed.ts";
import { countJobs } from "./helpers.ts";

setDefaultTimeout(120_000);

const FIELDS = SPEC_FIELDS;

const VALID = [
  "command: echo hello\n",
  "id: nightly/backup\ncommand: [tar, czf, /tmp/x.tgz, .]\nmax_retries: 2\ntimeout: 5m\ntags: [nightly]\n",
  "jobs:\n  - id: a\n    command: echo a\n  - id: b\n    command: echo b\n    after: [a]\n    priority: 5\n",
  "---\nid: one\ncommand: echo 1\n---\nid: two\ncommand: echo 2\nenv:\n  A: '1'\n",
  '{"id":"j","command":"echo json","max_retries":0,"queue":"emails","delay":"90s"}',
  '{"jobs":[{"id":"x","command":["echo","x"]},{"id":"y","command":"echo y","cwd":"/tmp"}]}',
  "# comment\nid: anchors\ncommand: &c echo anchored\nenv: {A: *c}\n",
];

/** Bytes that matter to YAML and JSON, and to terminals. */
const SPECIAL = [
  ":",
  "-",
  "&",
  "*",
  "!",
  "{",
  "}",
  "[",
  "]",
  '"',
  "'",
  "#",
  "|",
  ">",
  "%",
  "@",
  "`",
  ",",
  "?",
];
const AWKWARD = [
  "\t",
  "\0",
  "\n",
  "\r",
  "\u001b[31m",
  "\uFEFF",
  "\u2028",
  "\uD800",
  "  ",
  "---\n",
  "<<: *x\n",
];

/** The invariant: no exception, and either jobs or well-placed one-line problems. */
function check(text: string, rel: string): ParsedJobfile {
  let parsed: ParsedJobfile;
  try {
    parsed = parseJobfile(text, rel);
  } catch (error) {
    throw new Error(
      `parseJobfile threw for ${JSON.stringify(text).slice(0, 300)}: ${(error as Error).stack}`,
    );
  }
  if (parsed.problems.length === 0) {
    for (const job of parsed.jobs) {
      expect(typeof job.spec.id).toBe("string");
      expect(job.spec.command).toBeDefined();
    }
    return parsed;
  }
  expect(parsed.jobs).toEqual([]);
  const lines = text.split("\n").length;
  for (const problem of parsed.problems) {
    expect(problem.file).toBe(rel);
    expect(Number.isInteger(problem.line) && problem.line >= 1 && problem.line <= lines + 1).toBe(true);
    expect(Number.isInteger(problem.column) && problem.column >= 1).toBe(true);
    expect(`${problem.message} — ${problem.hint}`).not.toMatch(/[\n\r]/);
    expect(problem.message.length).toBeGreaterThan(0);
  }
  return parsed;
}

const mutation = fc.oneof(
  fc.record({
    kind: fc.constant("insert" as const),
    at: fc.nat(),
    text: fc.oneof(fc.constantFrom(...SPECIAL, ...AWKWARD), fc.string({ maxLength: 6 })),
  }),
  fc.record({ kind: fc.constant("delete" as const), at: fc.nat(), length: fc.integer({ min: 1, max: 12 }) }),
  fc.record({ kind: fc.constant("duplicate-line" as const), at: fc.nat() }),
  fc.record({ kind: fc.constant("swap-lines" as const), at: fc.nat(), other: fc.nat() }),
  fc.record({ kind: fc.constant("indent" as const), at: fc.nat(), width: fc.integer({ min: 1, max: 5 }) }),
);
type Mutation = typeof mutation extends fc.Arbitrary<infer T> ? T : never;

function mutate(text: string, change: Mutation): string {
  const at = text.length === 0 ? 0 : change.at % (text.length + 1);
  const lines = text.split("\n");
  const line = lines.length === 0 ? 0 : change.at % lines.length;
  switch (change.kind) {
    case "insert":
      return text.slice(0, at) + change.text + text.slice(at);
    case "delete":
      return text.slice(0, at) + text.slice(at + change.length);
    case "duplicate-line":
      lines.splice(line, 0, lines[line] ?? "");
      return lines.join("\n");
    case "swap-lines": {
      const other = change.other % lines.length;
      [lines[line], lines[other]] = [lines[other] ?? "", lines[line] ?? ""];
      return lines.join("\n");
    }
    case "indent":
      lines[line] = " ".repeat(change.width) + (lines[line] ?? "");
      return lines.join("\n");
  }
}

const jobShaped = fc.dictionary(
  fc.oneof(
    fc.constantFrom(...FIELDS),
    fc.string({ maxLength: 10 }),
    fc.constant("__proto__"),
    fc.constant("<<"),
  ),
  fc.oneof(
    fc.jsonValue({ maxDepth: 3 }),
    fc.string(),
    fc.double(),
    fc.constantFrom(Number.POSITIVE_INFINITY, Number.NaN, -0, Number.MAX_VALUE, 2 ** 53 + 1),
  ),
  { maxKeys: 8 },
);

/**
 * In-process run counts are sized to the suite's time; QUEUECTL_TEST_RUNS_SCALE=<factor>
 * multiplies them (e.g. 10 after a change to the jobfile parser).
 */
const RUNS_SCALE = Number(process.env.QUEUECTL_TEST_RUNS_SCALE ?? "1");
if (!(RUNS_SCALE > 0))
  throw new Error(
    `QUEUECTL_TEST_RUNS_SCALE=${process.env.QUEUECTL_TEST_RUNS_SCALE} is not a positive number`,
  );
const runs = (count: number) => Math.ceil(count * RUNS_SCALE);
const SEED = testSeed("fuzzed jobfiles");

describe("the jobfile parser, fuzzed (in process)", () => {
  test("random text, as .yaml and .json", () => {
    fc.assert(
      fc.property(
        fc.string({ unit: "binary", maxLength: 300 }),
        fc.constantFrom("f.yaml", "f.json", "d/f.yml"),
        (text, rel) => {
          check(text, rel);
        },
      ),
      { numRuns: runs(1200), seed: SEED },
    );
  });

  test("valid jobfiles with one to four mutations", () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...VALID),
        fc.array(mutation, { minLength: 1, maxLength: 4 }),
        (valid, changes) => {
          const text = changes.reduce(mutate, valid);
          check(text, valid.startsWith("{") ? "m.json" : "m.yaml");
        },
      ),
      { numRuns: runs(2000), seed: SEED },
    );
  });

  test("job-shaped mappings with any values, written as YAML, JSON and job lists", () => {
    fc.assert(
      fc.property(
        fc.array(jobShaped, { minLength: 1, maxLength: 3 }),
        fc.constantFrom("yaml", "json", "list", "stream"),
        (jobs, form) => {
          const text =
            form === "json"
              ? JSON.stringify(jobs[0])
              : form === "list"
                ? stringify({ jobs })
                : form === "stream"
                  ? jobs.map((job) => `---\n${stringify(job)}`).join("")
                  : stringify(jobs[0]);
          check(text ?? "", form === "json" ? "s.json" : "s.yaml");
        },
      ),
      { numRuns: runs(1200), seed: SEED },
    );
  });

  /** Deep enough to overflow the parser's stack (between 5 000 and 10 000 levels on Bun 1.4), where a naive parse crashes. */
  const DEEP = 12_000;
  /** Documents in one file: each gets its own problem, so the report grows with the input only. */
  const MANY_DOCS = 1_000;

  test("hostile files are rejected, naming a place, without expanding or recursing without bound", () => {
    const bomb = [
      "a: &a [x, x, x, x, x, x, x, x, x]",
      ...["b", "c", "d", "e", "f", "g", "h"].map((name, i) => {
        const previous = "abcdefg"[i];
        return `${name}: &${name} [${Array(9).fill(`*${previous}`).join(", ")}]`;
      }),
      "command: echo",
    ].join("\n");
    const cases: [string, string][] = [
      [bomb, "bomb.yaml"],
      [`command: ${"[".repeat(DEEP)}${"]".repeat(DEEP)}`, "deep-flow.yaml"],
      [`{"command":${"[".repeat(DEEP)}${"]".repeat(DEEP)}}`, "deep.json"],
      [
        `command:\n${Array.from({ length: 3000 }, (_, i) => `${" ".repeat(i)}-`).join("\n")} x`,
        "deep-block.yaml",
      ],
      ["command: echo\0hidden", "nul.yaml"],
      ['{"command":"echo","max_retries":1e309}', "inf.json"],
      ['{"command":"echo","command":"rm -rf /"}', "dup.json"],
      ["command: echo\ncommand: rm\n", "dup.yaml"],
      ["__proto__: {command: x}\ncommand: echo", "proto.yaml"],
      ['{"constructor":{"prototype":{"polluted":1}},"command":"echo"}', "ctor.json"],
      ["command: !!js/function 'function(){}'", "tag.yaml"],
      ["base: &b {command: echo}\n<<: *b", "merge.yaml"],
      [`${"---\ncommand: echo\n".repeat(MANY_DOCS)}`, "many-docs.yaml"],
    ];
    const firstProblem = new Map<string, string | undefined>();
    for (const [text, rel] of cases) {
      const parsed = check(text, rel);
      firstProblem.set(rel, parsed.problems[0]?.message);
      expect({ rel, problems: parsed.problems.length > 0 }).toEqual({ rel, problems: true });
      // Work bounded by the input, not by what it expands to: at most one problem per document.
      expect(parsed.problems.length).toBeLessThanOrEqual(MANY_DOCS);
    }
    // The alias bomb stops at the alias cap instead of building its 9^8 nodes.
    expect(firstProblem.get("bomb.yaml")).toContain("alias");
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});

describe("queuectl sync on fuzzed files (real CLI)", () => {
  const home = tempHome();
  afterAll(() => home.cleanup());

  test("every round: exit 0 or 2, problems as file:line:col lines, no stack; files in error change nothing", async () => {
    const dir = join(home.home, "jobs");
    const db = join(home.home, "jobs.db");
    const samples = fc.sample(
      fc.tuple(fc.constantFrom(...VALID), fc.array(mutation, { minLength: 1, maxLength: 3 })),
      { numRuns: 150, seed: 6 },
    );
    const hostile: [string, Uint8Array | string][] = [
      [
        "utf8/invalid.yaml",
        new Uint8Array([0x63, 0x6f, 0x6d, 0x6d, 0x61, 0x6e, 0x64, 0x3a, 0x20, 0xc3, 0x28, 0xff]),
      ],
      ["utf8/nul.json", '{"command":"echo\u0000"}'],
      ["huge.yaml", `command: ${"x".repeat(1024 * 1024 + 10)}`],
      [
        "bomb.yaml",
        `a: &a [x,x,x,x,x,x,x,x,x,x]\n${"bcdefghij"
          .split("")
          .map((c, i) => `${c}: &${c} [${Array(10).fill(`*${"abcdefghij"[i]}`).join(",")}]`)
          .join("\n")}\ncommand: echo`,
      ],
      ["esc.yaml", "command: echo\nmax_retry\u001b[2J: 3\n"],
    ];
    const rounds = 6;
    for (let round = 0; round < rounds; round++) {
      rmSync(dir, { recursive: true, force: true });
      mkdirSync(dir, { mode: 0o700 });
      const batch = samples.slice(round * 25, round * 25 + 25);
      batch.forEach(([valid, changes], i) => {
        const text = changes.reduce(mutate, valid);
        writeFileSync(join(dir, `f${round}-${i}.${valid.startsWith("{") ? "json" : "yaml"}`), text, {
          mode: 0o600,
        });
      });
      const [name, content] = hostile[round % hostile.length] ?? ["none.yaml", "command: echo"];
      mkdirSync(join(dir, "utf8"), { recursive: true, mode: 0o700 });
      writeFileSync(join(dir, name), content, { mode: 0o600 });
      const before = existsSync(db) ? countJobs(db) : 0;

      const result = await runCli(["sync", dir], { env: home.env });
      expect([0, 2]).toContain(result.exitCode);
      expect(`${result.stdout}${result.stderr}`).not.toMatch(/\n\s+at |this is a bug/);
      expect(`${result.stdout}${result.stderr}`).not.toContain("\u001b");
      const problems = result.stdout.split("\n").filter((line) => line.includes("! error"));
      if (result.exitCode === 2) {
        expect(problems.length).toBeGreaterThan(0);
        expect(result.stderr.trimEnd().split("\n")).toHaveLength(1);
      }
      for (const line of problems) expect(line).toMatch(/! error\s+\S+\.(ya?ml|json):\d+:\d+: \S/);
      // The hostile file of the round is always among the problems.
      expect(problems.some((line) => line.includes(name))).toBe(true);
      // What was created matches what sync says it created, nothing more.
      const created = result.stdout.split("\n").filter((line) => /^\s*\+ \S+\s+create\b/.test(line)).length;
      expect(countJobs(db)).toBeGreaterThanOrEqual(before);
      expect(countJobs(db) - before).toBeLessThanOrEqual(created);
    }
  });
});
