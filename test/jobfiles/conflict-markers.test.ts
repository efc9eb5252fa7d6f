/**
 * A jobfile git left with an unresolved merge conflict is one problem, at the first marker,
 * saying what it is; the jobs it declared before stay as they were, on every backend.
 */

import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { parseJobfile } from "../../src/jobfiles/parse.ts";
import { forEachBackend, jobOf, sync } from "./helpers.ts";

// Real processes on a busy two-core machine: generous, not the 5 s default.
setDefaultTimeout(60_000);

const CONFLICTED =
  "id: deploy\n<<<<<<< HEAD\ncommand: echo ours\n=======\ncommand: echo theirs\n>>>>>>> topic\nmax_retries: 2\n";

describe("parseJobfile", () => {
  test("a conflict is one problem at its first marker, with how to resolve it", () => {
    const parsed = parseJobfile(CONFLICTED, "deploy.yaml");
    expect(parsed.jobs).toEqual([]);
    expect(parsed.problems).toEqual([
      {
        file: "deploy.yaml",
        line: 2,
        column: 1,
        field: null,
        message: "has an unresolved git merge conflict",
        hint: expect.stringContaining("git mergetool") as never,
      },
    ]);
  });

  test("in JSON, with CRLF line ends, and in diff3 style, but not in a text value", () => {
    const json = '{\n<<<<<<< HEAD\n  "command": "a"\n=======\n  "command": "b"\n>>>>>>> topic\n}\n';
    expect(parseJobfile(json, "a.json").problems).toEqual([
      expect.objectContaining({ line: 2, message: "has an unresolved git merge conflict" }),
    ]);
    const crlf = CONFLICTED.replaceAll("\n", "\r\n");
    expect(parseJobfile(crlf, "a.yaml").problems.map((problem) => problem.line)).toEqual([2]);
    const diff3 = "command: echo\n<<<<<<< HEAD\nid: a\n||||||| base\nid: o\n=======\nid: b\n>>>>>>> topic\n";
    expect(parseJobfile(diff3, "a.yaml").problems).toHaveLength(1);
    // Seven `=` in a text value, with no conflict's start or end, is text.
    expect(parseJobfile("command: |\n  =======\n  echo\n", "a.yaml").problems).toEqual([]);
  });
});

forEachBackend("conflict markers", (t) => {
  test("a conflicted jobfile is one error and keeps the last good revision", async () => {
    await t.setUp();
    t.fixture.write("deploy.yaml", "id: deploy\ncommand: echo ours\n");
    await sync(t.store, t.fixture.dir);
    const before = await jobOf(t.store, "deploy");
    t.fixture.write("deploy.yaml", CONFLICTED);
    const outcome = await sync(t.store, t.fixture.dir);
    expect(outcome.plan.errors.map((error) => [error.file, error.line, error.message])).toEqual([
      ["deploy.yaml", 2, "has an unresolved git merge conflict"],
    ]);
    expect(outcome.plan.changes).toEqual([]);
    expect(await jobOf(t.store, "deploy")).toMatchObject({ revision: before.revision, state: "pending" });
  });
});
