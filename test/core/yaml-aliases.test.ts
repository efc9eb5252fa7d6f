/**
 * An alias inside the node it stands for (`&c {A: *c}`) reads, in the YAML library, as a
 * value that contains itself: every walk of it (placeholders, revisions, the checks of each
 * field) would recurse without end. It is refused at the alias, as every other alias problem is.
 */

import { describe, expect, test } from "bun:test";
import { parseJobInput } from "../../src/core/job-input.ts";
import { documentValue, YamlAliasError } from "../../src/core/yaml-aliases.ts";
import { readYaml } from "../../src/core/yaml-text.ts";
import { parseJobfile } from "../../src/jobfiles/parse.ts";

/** The value of each document, or the alias error of the first that has one, placed. */
function read(text: string): { values: unknown[] } | { line: number; column: number; message: string } {
  const yaml = readYaml(text, { numbersAsWritten: "none" });
  expect(yaml.errors).toEqual([]);
  try {
    return { values: yaml.documents.map(documentValue) };
  } catch (error) {
    if (!(error instanceof YamlAliasError)) throw error;
    return { ...yaml.place(error.offset), message: error.message };
  }
}

describe("an alias inside its own anchor", () => {
  test("is refused at the alias, in a mapping, a list, deeper down and in a flow or block node", () => {
    const cases: [string, number, number][] = [
      ["command: &c {A: *c}\n", 1, 17],
      ["id: x\ncommand: &c [a, *c]\n", 2, 17],
      ["env: &e\n  A: 1\n  B:\n    - [*e]\n", 4, 8],
      ["a: &a {b: &b [*b]}\n", 1, 15],
      // The latest anchor of a name is the one an alias stands for, even when an earlier one exists.
      ["x: &a [1]\ny: &a [*a]\n", 2, 8],
      ["---\ncommand: echo\n---\ncommand: &c {A: *c}\n", 4, 17],
    ];
    for (const [text, line, column] of cases) {
      const outcome = read(text);
      expect({ text, outcome }).toEqual({
        text,
        outcome: {
          line,
          column,
          message: expect.stringMatching(/^the alias \*\w sits inside the value anchored &\w/),
        },
      });
    }
  });

  test("an alias of a node finished before it, or of an earlier anchor of the same name, still reads", () => {
    expect(read("a: &a {b: [1]}\nc: *a\n")).toEqual({ values: [{ a: { b: [1] }, c: { b: [1] } }] });
    expect(read("x: &a [1]\ny: [*a, &a [2], *a]\n")).toEqual({ values: [{ x: [1], y: [[1], [2], [2]] }] });
    expect(read("a: &a [1]\nb: {c: *a, d: [*a]}\n")).toEqual({
      values: [{ a: [1], b: { c: [1], d: [[1]] } }],
    });
  });

  test("a jobfile holding one is a problem of the file, placed at the alias; nothing throws", () => {
    const parsed = parseJobfile("# comment\nid: anchors\ncommand: &c {A: *c}\n", "m.yaml");
    expect(parsed.jobs).toEqual([]);
    expect(parsed.problems).toEqual([
      expect.objectContaining({
        file: "m.yaml",
        line: 3,
        column: 17,
        message: expect.stringContaining("the alias *c sits inside"),
      }),
    ]);
    expect(parsed.problems[0]?.hint).toContain("write this part out");
  });

  test("enqueue input holding one is a one-line error with the place and the fix", () => {
    expect(() => parseJobInput("id: x\ncommand: echo\nenv: &e {A: *e}\n", "jobs.yaml", "yaml")).toThrow(
      "jobs.yaml:3:13: the alias *e sits inside the value anchored &e",
    );
  });
});
