/**
 * YAML merge keys (`<<: *defaults`) in jobfiles: a merged field is the same field as one
 * written out (same spec, same revision), its problems point at where it is written, an
 * anchored mapping may sit beside `jobs:`, explicit keys are still checked for repeats, and
 * merges cannot be used to make a small file expensive to read. Also: a JSON file's syntax
 * problems say JSON, and a key with no name (`~:`, `null:`, JSON's `"":`) is named and placed.
 */

import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { specRevision } from "../../src/core/spec.ts";
import { MAX_MERGED_VALUES } from "../../src/core/yaml-aliases.ts";
import { parseJobfile } from "../../src/jobfiles/parse.ts";
import { forEachBackend, jobOf, sync } from "./helpers.ts";

// Real processes on a busy two-core machine: generous, not the 5 s default.
setDefaultTimeout(60_000);

function specsOf(text: string, rel = "a.yaml") {
  const parsed = parseJobfile(text, rel);
  expect(parsed.problems).toEqual([]);
  return parsed.jobs.map((job) => job.spec);
}

function problemsOf(text: string, rel = "a.yaml") {
  const parsed = parseJobfile(text, rel);
  expect(parsed.jobs).toEqual([]);
  return parsed.problems;
}

const MERGED = "x: &d {max_retries: 1}\njobs:\n  - <<: *d\n    id: an1\n    command: echo an1\n";
const WRITTEN_OUT = "jobs:\n  - id: an1\n    command: echo an1\n    max_retries: 1\n";

describe("merge keys", () => {
  test("a merged field is the field written out: same spec, same revision", () => {
    const merged = specsOf(MERGED);
    expect(merged).toEqual([{ id: "an1", command: "echo an1", max_retries: 1 }]);
    expect(specRevision(merged[0] as never)).toBe(specRevision(specsOf(WRITTEN_OUT)[0] as never));
  });

  test("a job may merge another job, a list of mappings, and override what it merges", () => {
    const specs = specsOf(
      "jobs:\n  - &j {id: a, command: echo a, max_retries: 2}\n  - <<: *j\n    id: b\n" +
        "  - <<: [{priority: 3}, *j]\n    id: c\n    max_retries: 0\n",
    );
    expect(specs).toEqual([
      { id: "a", command: "echo a", max_retries: 2 },
      { id: "b", command: "echo a", max_retries: 2 },
      { id: "c", command: "echo a", max_retries: 0, priority: 3 },
    ]);
  });

  test("only an anchored mapping may sit beside `jobs:`", () => {
    expect(specsOf("defaults: &d {command: echo}\njobs:\n  - <<: *d\n")).toHaveLength(1);
    expect(problemsOf("defaults: {command: echo}\njobs: []\n")[0]).toMatchObject({
      line: 1,
      column: 1,
      field: "defaults",
    });
  });

  test("a merged field's problem points where it is written, once however many jobs merge it", () => {
    const problems = problemsOf(
      "x: &d {max_retries: -1, env: {OK: a, 1BAD: b}}\njobs:\n" +
        "  - {<<: *d, id: a, command: echo}\n  - {<<: *d, id: b, command: echo}\n",
    );
    expect(problems.map((problem) => [problem.line, problem.column, problem.field])).toEqual([
      [1, 8, "max_retries"],
      [1, 38, "env.1BAD"],
    ]);
  });

  test("a merged `after` is placed in its mapping for the checks across files", () => {
    const [job] = parseJobfile("x: &d {after: [b]}\njobs:\n  - <<: *d\n    command: echo\n", "a.yaml").jobs;
    expect(job?.fields.after).toEqual({ line: 1, column: 8 });
  });

  test("a key written twice is still refused; one written over a merged one is not", () => {
    expect(problemsOf("x: &d {id: a}\njobs:\n  - <<: *d\n    command: echo\n    command: echo\n")).toEqual([
      expect.objectContaining({ line: 5, column: 5, message: "invalid YAML (Map keys must be unique)" }),
    ]);
    expect(specsOf("x: &d {command: a}\njobs:\n  - <<: *d\n    command: b\n")[0]?.command).toBe("b");
  });

  test("a merge of what is no mapping, of a missing anchor or of itself is placed at the `<<`", () => {
    const [unanchored] = problemsOf("jobs:\n  - <<: *nope\n    command: echo\n");
    expect(unanchored).toMatchObject({ line: 2, column: 5, message: expect.stringContaining("*nope") });
    expect(unanchored?.hint).toContain("&nope");
    const [scalar] = problemsOf("x: &d 5\njobs:\n  - <<: *d\n    command: echo\n");
    expect(scalar).toMatchObject({ line: 3, column: 5, message: expect.stringContaining("takes a mapping") });
    const [itself] = problemsOf("x: &d {<<: *d}\njobs:\n  - <<: *d\n    command: echo\n");
    expect(itself).toMatchObject({ line: 1, column: 8, message: expect.stringContaining("merges itself") });
  });

  test("merges are capped: one mapping copied by many merges, and merges of merges", () => {
    const copies = Math.ceil(MAX_MERGED_VALUES / 2000) + 1;
    const big = `x: &d {command: echo, big: [${Array(2000).fill("1").join(",")}]}\njobs:\n${Array.from(
      { length: copies },
      (_, index) => `  - {<<: *d, id: j${index}}`,
    ).join("\n")}\n`;
    expect(problemsOf(big)).toEqual([
      expect.objectContaining({ line: 1, column: 1, message: expect.stringContaining("merge keys (`<<`)") }),
    ]);
    const rows = ["x0: &m0 {command: echo}"];
    for (let level = 1; level < 12; level++)
      rows.push(
        `x${level}: &m${level} {<<: [${Array(9)
          .fill(`*m${level - 1}`)
          .join(", ")}]}`,
      );
    const nested = problemsOf(`${rows.join("\n")}\njobs:\n  - {<<: *m11, id: a}\n`);
    expect(nested).toHaveLength(1);
    expect(nested[0]?.message).toStartWith("cannot be read:");
    // What counts is what merges copy, not the size of a file that merges a little.
    const tags = Array(MAX_MERGED_VALUES + 1)
      .fill("a")
      .join(",");
    expect(specsOf(`x: &d {command: echo}\njobs:\n  - <<: *d\n    tags: [${tags}]\n`)).toHaveLength(1);
  });
});

describe("JSON files", () => {
  test("a repeated key is invalid JSON, and `<<` is only a key there", () => {
    expect(problemsOf('{"command": "echo a", "command": "b"}\n', "dupkey.json")).toEqual([
      expect.objectContaining({
        line: 1,
        column: 23,
        message: "invalid JSON (an object's keys must be unique)",
      }),
    ]);
    expect(problemsOf('{"<<": {"id": "a"}, "command": "echo"}\n', "m.json")[0]?.field).toBe("<<");
  });
});

forEachBackend("merge keys", (t) => {
  test("writing a field out as a merge changes nothing in the queue", async () => {
    await t.setUp();
    t.fixture.write("team.yaml", WRITTEN_OUT);
    expect((await sync(t.store, t.fixture.dir)).applied?.create).toEqual(["an1"]);
    t.fixture.write("team.yaml", MERGED);
    const again = await sync(t.store, t.fixture.dir);
    expect(again.plan.errors).toEqual([]);
    expect(again.plan.changes).toEqual([]);
    expect((await jobOf(t.store, "an1")).spec).toEqual({ id: "an1", command: "echo an1", max_retries: 1 });
  });
});

describe("keys with no name", () => {
  test("a key with no name (`~`, `null`, empty) is named so, at its line, not as ``", () => {
    for (const [text, rel, line, column] of [
      ["command: echo hi\n~: 1\n", "a.yaml", 2, 1],
      ["command: echo hi\nnull: 1\n", "b.yaml", 2, 1],
      ['{"command": "echo hi",\n  "": 1}', "c.json", 2, 3],
    ] as const) {
      expect(problemsOf(text, rel)[0]).toMatchObject({
        line,
        column,
        field: "",
        message: "a key with no name (empty, `~` or `null`) is not a job field",
      });
    }
    expect(problemsOf("jobs:\n  - command: echo\n~: 3\n")[0]).toMatchObject({
      line: 3,
      column: 1,
      message: "a key with no name (empty, `~` or `null`) cannot sit next to `jobs:`",
    });
  });
});
