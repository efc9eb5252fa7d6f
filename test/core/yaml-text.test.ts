import { describe, expect, test } from "bun:test";
import { documentValue } from "../../src/core/yaml-aliases.ts";
import { firstLine, invalidYamlMessage, readYaml } from "../../src/core/yaml-text.ts";

const values = (text: string, numbersAsWritten: "job fields" | "none") =>
  readYaml(text, { numbersAsWritten }).documents.map(documentValue);

describe("readYaml", () => {
  test("job fields keep the characters written where YAML would read a number", () => {
    const text = "id: 007\ncommand: x\npriority: 010\nenv:\n  VERSION: 1.10\n";
    expect(values(text, "job fields")).toEqual([
      { id: "007", command: "x", priority: 10, env: { VERSION: "1.10" } },
    ]);
    expect(values(text, "none")).toEqual([{ id: 7, command: "x", priority: 10, env: { VERSION: 1.1 } }]);
  });

  test("in a list, a `jobs:` list and every document, but nowhere deeper", () => {
    const text = "- id: 01\n---\njobs:\n  - id: 02\n---\nnested:\n  id: 03\n";
    expect(values(text, "job fields")).toEqual([
      [{ id: "01" }],
      { jobs: [{ id: "02" }] },
      { nested: { id: 3 } },
    ]);
  });

  test("a job field merged in (`<<`) keeps its characters as one written out does", () => {
    const text = "- <<: {id: 007, env: {VERSION: 1.10}}\n  command: x\n";
    expect(values(text, "job fields")).toEqual([[{ id: "007", command: "x", env: { VERSION: "1.10" } }]]);
  });

  test("syntax errors and repeated keys are collected with line and column, one line each", () => {
    const yaml = readYaml("a: 1\nb: [\n---\nc: 1\nc: 2\n", { numbersAsWritten: "none" });
    expect(yaml.errors.map((error) => [error.line, error.column])).toEqual([
      [3, 1],
      [5, 1],
    ]);
    expect(yaml.errors.every((error) => !error.message.includes("\n"))).toBe(true);
    const [, repeated] = yaml.errors;
    if (repeated === undefined) throw new Error("expected two errors");
    expect(invalidYamlMessage("f.yaml", repeated)).toBe("f.yaml:5:1: invalid YAML (Map keys must be unique)");
  });

  test("an error at the very end of a file is placed on its last line, not on one after it", () => {
    const at = (text: string) =>
      readYaml(text, { numbersAsWritten: "none" }).errors.map((e) => [e.line, e.column]);
    expect(at("command: [unclosed\n")).toEqual([[1, 19]]);
    expect(at("a: 1\r\nb: 2\r\ncommand: [x\r\n")).toEqual([[3, 12]]);
    expect(at("command: [unclosed")).toEqual([[1, 19]]);
  });

  test("what the library only warns about is kept apart from errors", () => {
    const yaml = readYaml("command: !foo x\n", { numbersAsWritten: "none" });
    expect(yaml.errors).toEqual([]);
    expect(yaml.warnings.map((warning) => [warning.line, warning.column])).toEqual([[1, 10]]);
  });

  test("alias expansion is capped", () => {
    const lines = ['a: &a ["x","x","x","x","x","x","x","x","x","x"]'];
    for (let level = 1; level < 8; level++)
      lines.push(
        `${"abcdefgh"[level]}: &${"abcdefgh"[level]} [${Array(10)
          .fill(`*${"abcdefgh"[level - 1]}`)
          .join(",")}]`,
      );
    const { documents } = readYaml(`${lines.join("\n")}\n`, { numbersAsWritten: "none" });
    expect(() => documents.map(documentValue)).toThrow(/alias/i);
  });

  test("firstLine drops the library's trailing position", () => {
    expect(firstLine("Map keys must be unique at line 2, column 1:\n\na: 2\n^")).toBe(
      "Map keys must be unique",
    );
  });
});

describe("repeated keys", () => {
  test("are found at their line in any mapping, block or flow, however many keys it has", () => {
    const keys = Array.from({ length: 5000 }, (_, i) => `  K${i}: v`).join("\n");
    const text = `id: a\ncommand: echo\nenv:\n${keys}\n  K17: w\n`;
    const { errors } = readYaml(text, { numbersAsWritten: "none" });
    expect(errors.map((error) => [error.line, error.message])).toEqual([[5004, "Map keys must be unique"]]);
    const flow = readYaml("{a: 1, b: {c: 2, c: 3}, a: 4}", { numbersAsWritten: "none" });
    expect(flow.errors.map((error) => [error.line, error.column, error.message])).toEqual([
      [1, 18, "Map keys must be unique"],
      [1, 25, "Map keys must be unique"],
    ]);
    // A number and a string of the same digits are different keys, as the library has it.
    expect(readYaml("1: a\n'1': b\n", { numbersAsWritten: "none" }).errors).toEqual([]);
  });
});
