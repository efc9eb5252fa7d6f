/**
 * A jobfile problem reads as one line wherever its text comes from: a key or an id the file
 * writes with a CR or a newline in it is shown escaped.
 */

import { describe, expect, test } from "bun:test";
import { parseJobfile } from "../../src/jobfiles/parse.ts";

describe("control characters in keys and ids", () => {
  test("a key holding a CR or a newline beside `jobs:` is named on one line, as every problem is", () => {
    for (const text of ["jobs:\n  - command: x\n\r  priority: 5\n", 'jobs:\n  - command: x\n"x\\ny": 1\n']) {
      const [problem] = parseJobfile(text, "f.yaml").problems;
      expect(problem?.message).toEndWith("cannot sit next to `jobs:`");
      expect(problem?.message).not.toMatch(/[\n\r]/);
    }
  });

  test("an id holding a CR that two jobs declare is named on one line, with its escape", () => {
    const text = 'jobs:\n  - id: "\\r a"\n    command: x\n  - id: "\\r a"\n    command: y\n';
    const repeated = parseJobfile(text, "f.yaml").problems.filter((problem) =>
      problem.message.includes("also"),
    );
    expect(repeated.map((problem) => problem.message)).toEqual([
      'id "\\r a" is also declared at f.yaml:4:5',
      'id "\\r a" is also declared at f.yaml:2:5',
    ]);
  });
});
