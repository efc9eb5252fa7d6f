import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { jsonErrorOffset } from "../../src/core/json-text.ts";
import { specRevision } from "../../src/core/spec.ts";
import { idFromPath, parseJobfile } from "../../src/jobfiles/parse.ts";

// Real processes on a busy two-core machine: generous, not the 5 s default.
setDefaultTimeout(60_000);

function only(text: string, rel = "a.yaml") {
  const parsed = parseJobfile(text, rel);
  expect(parsed.problems).toEqual([]);
  return parsed.jobs.map((job) => job.spec);
}

function problemOf(text: string, rel = "a.yaml") {
  const parsed = parseJobfile(text, rel);
  expect(parsed.jobs).toEqual([]);
  const [problem] = parsed.problems;
  if (!problem) throw new Error(`no problem found in ${JSON.stringify(text)}`);
  return problem;
}

describe("YAML no job is read from", () => {
  test("!!omap, !!set and a list as a key are problems placed where they are written", () => {
    expect(problemOf('command: x\nenv: !!omap [ {A: "1"} ]\n')).toMatchObject({
      line: 2,
      column: 13,
      message: "invalid YAML (!!omap is not read here: write a plain mapping or list)",
    });
    expect(problemOf("? [a, b]\n: 1\ncommand: x\n")).toMatchObject({
      line: 1,
      column: 3,
      message: "invalid YAML (a key must be a plain value, not a list or mapping)",
    });
  });
});

describe("nesting deeper than the parser's stack", () => {
  test("is one problem, at the bracket past 512 levels, the same on every read and in any stack", () => {
    const depth = 100_000;
    const yaml = `command: x\nenv: ${"[".repeat(depth)}${"]".repeat(depth)}\n`;
    const json = `{"command":"x","env":${"[".repeat(depth)}${"]".repeat(depth)}}`;
    // An apostrophe in a plain scalar is no quote: the brackets after it still count.
    const apostrophe = `command: echo don't\nenv: ${"[".repeat(depth)}${"]".repeat(depth)}\n`;
    for (const [text, rel, kind, line, column] of [
      [yaml, "a.yaml", "YAML", 2, 6 + 512],
      [apostrophe, "b.yaml", "YAML", 2, 6 + 512],
      // The outer `{` is the first level.
      [json, "a.json", "JSON", 1, 22 + 511],
    ] as const) {
      const read = () => parseJobfile(text, rel).problems;
      // Deeper in the stack, the parser runs out of it at another place.
      const nested = (levels: number): ReturnType<typeof read> =>
        levels === 0 ? read() : nested(levels - 1);
      for (const problems of [read(), read(), nested(500)]) {
        expect(problems).toHaveLength(1);
        expect(problems[0]).toMatchObject({
          line,
          column,
          message: `invalid ${kind} (nested too deeply: more than 512 levels of lists or mappings)`,
        });
      }
    }
  });

  test("brackets inside quotes and comments are not counted", () => {
    const quoted = `command: "${"[".repeat(600)}"\nenv: {A: '${"{".repeat(600)}'}\n# ${"[".repeat(600)}\n`;
    expect(only(quoted)).toHaveLength(1);
  });
});

describe("file forms", () => {
  test("one job as a mapping takes its id from the path", () => {
    expect(only("command: echo hi\n", "nightly/backup.yaml")).toEqual([
      { id: "nightly/backup", command: "echo hi" },
    ]);
    expect(idFromPath("deep/er/x.JSON")).toBe("deep/er/x");
  });

  test("an explicit id wins over the path", () => {
    expect(only("id: mine\ncommand: echo hi\n", "x.yml")[0]?.id).toBe("mine");
  });

  test("a jobs: list and a multi-document stream", () => {
    const list = only("jobs:\n  - id: a\n    command: echo a\n  - id: b\n    command: [echo, b]\n");
    expect(list.map((spec) => spec.id)).toEqual(["a", "b"]);
    const stream = only("id: a\ncommand: echo a\n---\njobs:\n  - id: b\n    command: echo b\n---\n");
    expect(stream.map((spec) => spec.id)).toEqual(["a", "b"]);
  });

  test("a single job in a jobs: list also takes the path id; an empty list declares nothing", () => {
    expect(only("jobs:\n  - command: echo a\n", "one.yaml")[0]?.id).toBe("one");
    expect(only("jobs: []\n")).toEqual([]);
  });

  test("a hint's example is written as the file writes it: a bare key in YAML, a quoted one in JSON", () => {
    const hint = (text: string, rel: string) =>
      parseJobfile(text, rel).problems.map((problem) => problem.hint);
    expect(hint("command: 12345\n", "a.yaml")).toEqual(['e.g. command: "echo hello"']);
    expect(hint('{"command": 12345}', "a.json")).toEqual(['e.g. "command": "echo hello"']);
  });

  test("JSON files, with an editor's $schema key ignored", () => {
    const specs = only(
      '{"$schema": "../schema/jobfile.schema.json", "command": ["echo", "hi"], "tags": ["b", "a"]}',
      "j.json",
    );
    expect(specs).toEqual([{ id: "j", command: ["echo", "hi"], tags: ["a", "b"] }]);
  });

  test("numbers read as YAML reads them: `id: 007` stays job 7, as existing stores know it", () => {
    // Enqueue keeps "007"; a jobfile may not, or the next sync would cancel job 7 and queue 007.
    const [spec] = only("id: 007\ncommand: x\nenv:\n  VERSION: 1.10\n");
    expect(spec).toEqual({ id: "7", command: "x", env: { VERSION: "1.1" } });
    expect(only('id: "007"\ncommand: x\n')[0]?.id).toBe("007");
  });

  test("formatting, comments, quoting and key order do not change the revision", () => {
    const a = only('command: "echo hi"\nmax_retries: 2\ntags: [x, y]\nenv: {B: "2", A: 1}\n');
    const b = only(
      "# a comment\nenv:\n  A: '1'\n  B: 2\ntags:\n  - y\n  - x\nmax_retries: 2   # trailing\ncommand: echo hi\n",
    );
    const c = only(
      '{"env":{"A":"1","B":"2"},"tags":["x","y"],"command":"echo hi","max_retries":2}',
      "a.json",
    );
    expect(specRevision(a[0] as never)).toBe(specRevision(b[0] as never));
    expect(specRevision(a[0] as never)).toBe(specRevision(c[0] as never));
  });
});

describe("problems name file, line, column and field", () => {
  test("an unknown field suggests the nearest one", () => {
    const problem = problemOf("command: echo hi\nmax_retry: 2\n", "jobs/x.yaml");
    expect(problem).toMatchObject({ file: "jobs/x.yaml", line: 2, column: 1, field: "max_retry" });
    expect(problem.hint).toContain("max_retries");
  });

  test("a bad value inside a jobs: list points at the key, nested fields too", () => {
    const text =
      "jobs:\n  - id: a\n    command: echo a\n  - id: b\n    command: echo b\n    env:\n      1BAD: x\n";
    expect(problemOf(text)).toMatchObject({ line: 7, column: 7, field: "env.1BAD" });
    expect(problemOf("command: echo\ntimeout: soon\n")).toMatchObject({
      line: 2,
      column: 1,
      field: "timeout",
    });
  });

  test("a missing command points at the job", () => {
    expect(problemOf("jobs:\n  - id: a\n    command: echo a\n  - id: b\n    priority: 1\n")).toMatchObject({
      line: 4,
      column: 5,
      field: "command",
    });
  });

  test("several jobs in one file need ids; one bad job keeps the whole file out", () => {
    const parsed = parseJobfile("jobs:\n  - command: echo a\n  - id: b\n    command: echo b\n", "x.yaml");
    expect(parsed.jobs).toEqual([]);
    expect(parsed.problems[0]).toMatchObject({ line: 2, column: 5, field: "id" });
    expect(parsed.knownIds).toEqual(["b"]);
  });

  test("YAML syntax errors and duplicate keys carry a position", () => {
    expect(problemOf("command: [echo\nid: x\n")).toMatchObject({ line: 2, field: null });
    expect(problemOf("command: echo a\ncommand: echo b\n")).toMatchObject({ line: 2, column: 1 });
  });

  test("invalid JSON is located, including what YAML would have accepted", () => {
    expect(problemOf('{\n  "command": "echo",\n}\n', "x.json")).toMatchObject({
      line: 3,
      column: 1,
      field: null,
    });
    expect(problemOf("command: echo hi\n", "x.json").message).toContain("invalid JSON");
  });

  test("NDJSON in a .json jobfile is named as such, once, with the way to write it", () => {
    const text = '{"id":"a","command":"x"}\n{"id":"b","command":"x"}\n';
    const parsed = parseJobfile(text, "n.json");
    expect(parsed.jobs).toEqual([]);
    expect(parsed.problems).toHaveLength(1);
    expect(parsed.problems[0]).toMatchObject({
      line: 1,
      column: 1,
      message: "holds one JSON job per line (NDJSON), and a jobfile is one JSON document",
    });
    expect(parsed.problems[0]?.hint).toStartWith(
      'put the jobs in one object under "jobs" ({"jobs": [{…}, {…}]}',
    );
    // One object across lines is JSON gone wrong, not NDJSON.
    expect(problemOf('{"id":"a",\n"command":"x"\n', "x.json").message).toContain("invalid JSON");
  });

  test("empty files, bare lists, scalars and unknown tags are refused", () => {
    expect(problemOf("").message).toContain("holds no jobs");
    expect(problemOf("# only a comment\n").message).toContain("holds no jobs");
    expect(problemOf("- command: echo\n").hint).toContain("jobs:");
    expect(problemOf("just text\n").message).toContain("mapping");
    expect(problemOf("command: !!js/function 'x'\n").message).toContain("invalid YAML");
    expect(problemOf("jobs:\n  - id: a\n    command: echo\nextra: 1\n")).toMatchObject({
      line: 4,
      field: "extra",
    });
  });

  test("a billion-laughs file is refused quickly", () => {
    const rows = ["a: &a [x, x, x, x, x, x, x, x, x]"];
    for (let i = 1; i < 9; i++) {
      const prev = String.fromCharCode(96 + i);
      rows.push(
        `${String.fromCharCode(97 + i)}: &${String.fromCharCode(97 + i)} [${Array(9).fill(`*${prev}`).join(", ")}]`,
      );
    }
    const problem = problemOf(`${rows.join("\n")}\ncommand: echo\n`);
    expect(problem.message).toContain("alias");
  });

  test("binary content is refused", () => {
    expect(problemOf("command: echo\0hi\n").message).toContain("NUL");
  });
});

describe("jsonErrorOffset", () => {
  test("valid JSON has no error offset", () => {
    for (const text of ['{"a": [1, -2.5e3, true, false, null, "\\u00e9\\n"]}', "[]", " 3 ", '"x"']) {
      expect(jsonErrorOffset(text)).toBeNull();
    }
  });

  test("finds the first offending character", () => {
    expect(jsonErrorOffset('{"a": 1,}')).toBe(8);
    expect(jsonErrorOffset('{"a" 1}')).toBe(5);
    expect(jsonErrorOffset("[1, 2] x")).toBe(7);
    expect(jsonErrorOffset('{"a": tru}')).toBe(9);
    expect(jsonErrorOffset('{"a": "x\\q"}')).toBe(9);
    expect(jsonErrorOffset("[01]")).toBe(2);
    expect(jsonErrorOffset("")).toBe(0);
  });
});

describe("every problem", () => {
  test("a file with five mistakes lists all five, each at its own line and column", () => {
    const text = [
      "jobs:",
      "  - id: a",
      "    command: 5",
      "    max_retry: 1",
      "    timeout: soon",
      "  - id: b",
      "    command: echo b",
      "    priority: high",
      "    tags: nightly",
      "",
    ].join("\n");
    const parsed = parseJobfile(text, "five.yaml");
    expect(parsed.jobs).toEqual([]);
    expect(parsed.problems.map((p) => [p.line, p.column, p.field])).toEqual([
      [3, 5, "command"],
      [4, 5, "max_retry"],
      [5, 5, "timeout"],
      [8, 5, "priority"],
      [9, 5, "tags"],
    ]);
    expect(parsed.knownIds).toEqual(["a", "b"]);
  });

  test("an id a file declares twice is listed beside the file's other problems", () => {
    const text = "id: p\ncommand: a\n---\nid: p\ncommand: b\n---\nid: q\ncommand: c\ntimeout: soon\n";
    const parsed = parseJobfile(text, "list.yaml");
    expect(parsed.problems.map((p) => [p.line, p.column, p.field, p.message])).toEqual([
      [1, 1, "id", 'id "p" is also declared at list.yaml:4:1'],
      [4, 1, "id", 'id "p" is also declared at list.yaml:1:1'],
      [9, 1, "timeout", '`timeout` "soon" is not a duration'],
    ]);
    // With no other problem, the planner reports it, with the ids of every other file.
    expect(parseJobfile("id: p\ncommand: a\n---\nid: p\ncommand: b\n", "list.yaml").problems).toEqual([]);
  });

  test("a missing command does not hide the other fields' problems", () => {
    const parsed = parseJobfile("max_retries: -1\nqueue: 7\n", "a.yaml");
    expect(parsed.problems.map((p) => p.field)).toEqual(["command", "max_retries", "queue"]);
  });

  test("every YAML syntax error of every document is listed", () => {
    const parsed = parseJobfile("a: [1\n---\nb: {\n", "a.yaml");
    expect(parsed.problems.length).toBeGreaterThanOrEqual(2);
    expect(new Set(parsed.problems.map((p) => p.line)).size).toBeGreaterThanOrEqual(2);
  });

  test("one mistake the parser words twice at the same place is listed once", () => {
    const parsed = parseJobfile("command: echo\n  bad: indent", "a.yaml");
    expect(parsed.problems.map((p) => [p.line, p.column])).toEqual([[1, 10]]);
  });
});

describe("matrix declarations", () => {
  test("expand in a file of one job, from its path, and in a `jobs:` list", () => {
    // biome-ignore lint/suspicious/noTemplateCurlyInString: matrix placeholder syntax, not a template
    expect(only("command: echo ${{ matrix.n }}\nmatrix: {n: [1, 2]}\n", "x/y.yaml")).toEqual([
      { id: "x/y-1", command: "echo 1" },
      { id: "x/y-2", command: "echo 2" },
    ]);
    const list = only(
      "jobs:\n  - id: a\n    command: echo\n    matrix: {n: [1]}\n  - id: b\n    command: echo\n",
    );
    expect(list.map((spec) => spec.id)).toEqual(["a-1", "b"]);
  });

  test("a matrix problem names the file, the line and the key", () => {
    expect(problemOf("command: echo\nmatrix:\n  region: [eu]\n  size: []\n", "m.yaml")).toEqual({
      file: "m.yaml",
      line: 4,
      column: 3,
      field: "matrix.size",
      message: "`matrix.size` is an empty list",
      hint: "give it at least one value, or remove the key",
    });
    // biome-ignore lint/suspicious/noTemplateCurlyInString: matrix placeholder syntax, not a template
    expect(problemOf("command: echo\nenv:\n  A: ${{ matrix.x }}\nmatrix: {n: [1]}\n")).toMatchObject({
      line: 3,
      column: 3,
      field: "env.A",
    });
  });

  test("a spec problem of some combinations names the first of them, one shared by all is said once", () => {
    const parsed = parseJobfile(
      // biome-ignore lint/suspicious/noTemplateCurlyInString: matrix placeholder syntax, not a template
      "command: echo\nmax_retries: ${{ matrix.r }}\nmatrix: {r: [1, x, y]}\n",
      "a.yaml",
    );
    expect(parsed.problems.map((problem) => [problem.line, problem.message])).toEqual([
      [2, "`max_retries` must be a whole number (matrix: r=x)"],
    ]);
    const shared = parseJobfile("command: echo\nqueue: 'a b'\nmatrix: {r: [1, 2]}\n", "a.yaml");
    expect(shared.problems.map((problem) => problem.message)).toEqual([
      "`queue` must be a name of 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit",
    ]);
  });

  test("an expanded id another declaration of the file also has is an error at both", () => {
    const parsed = parseJobfile(
      "jobs:\n  - id: b\n    command: echo\n    matrix: {n: [1]}\n  - id: b-1\n    command: echo\n  - id: c\n    command: 5\n",
      "a.yaml",
    );
    expect(parsed.knownIds).toEqual(["b-1", "b-1", "c"]);
    expect(
      parsed.problems.filter((problem) => problem.field === "id").map((problem) => problem.line),
    ).toEqual([2, 5]);
  });
});

describe("placeholders outside a matrix", () => {
  // Spelled in parts: a `${` in a string literal is what the linter takes for a template slip.
  const placeholder = (key: string) => `$\{{ matrix.${key} }}`;
  test("a placeholder in a declaration without matrix is a problem, not text for sh", () => {
    expect(problemOf(`id: a\ncommand: echo ${placeholder("r")}\n`)).toMatchObject({
      field: "command",
      message: `\`command\` uses \`${placeholder("r")}\`, but the declaration has no \`matrix\``,
    });
    const plain = `command: echo '$\{ not a placeholder }'\n`;
    expect(only(plain)[0]?.command).toBe(`echo '$\{ not a placeholder }'`);
  });
});

describe("an id taken from the file's path", () => {
  test("a problem of it says to rename the file or give an id, not to fix a field the file lacks", () => {
    const spaced = parseJobfile("command: echo\n", " lead.yaml").problems[0];
    expect(spaced).toMatchObject({
      field: "id",
      message: `the id this file's path gives, " lead", starts or ends with white space`,
      hint: "rename the file (or its folder), or give the job an `id` of its own",
    });
    const deep = `${"a".repeat(200)}/${"b".repeat(60)}.yaml`;
    expect(parseJobfile("command: echo\n", deep).problems[0]?.message).toEndWith(
      "is longer than 255 characters",
    );
    // An `id` of its own is the user's to fix, and is named as before.
    expect(parseJobfile("id: ' lead'\ncommand: echo\n", "x.yaml").problems[0]?.hint).toBe(
      'write it without: "lead"',
    );
  });
});
