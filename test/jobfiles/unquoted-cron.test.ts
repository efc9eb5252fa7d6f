/**
 * A cron pattern left unquoted (`schedule: * * * * *`) is a YAML alias to the parser, which
 * said so once per `*`. It is one problem, where the pattern starts, saying to quote it and
 * how; in a jobs folder on every backend, and for `enqueue -f`. Other syntax errors read as
 * before.
 */

import { afterEach, beforeEach, describe, expect, setDefaultTimeout, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseJobfile } from "../../src/jobfiles/parse.ts";
import { refused, runCli, type TempHome, tempHome } from "../helpers/cli.ts";
import { forEachBackend, sync } from "./helpers.ts";

// Real processes on a busy two-core machine: generous, not the 5 s default.
setDefaultTimeout(60_000);

const problems = (text: string) =>
  parseJobfile(text, "a.yaml").problems.map((p) => `${p.line}:${p.column}: ${p.message} — ${p.hint}`);

const UNTIL = "until then the jobs it declared stay as they are";

describe("parseJobfile", () => {
  test("`schedule: */5 * * * *` is one problem at the pattern, with the line quoted", () => {
    expect(problems('command: "true"\nschedule: */5 * * * *\n')).toEqual([
      `2:11: the schedule's cron expression starts with *, which YAML reads as an alias — quote it: schedule: "*/5 * * * *"; ${UNTIL}`,
    ]);
  });

  test("`* * * * *`, a trailing comment, a `jobs:` list and a quoted key", () => {
    expect(problems("command: x\nschedule: * * * * *   # every minute\n")).toEqual([
      `2:11: the schedule's cron expression starts with *, which YAML reads as an alias — quote it: schedule: "* * * * *"; ${UNTIL}`,
    ]);
    const list = 'jobs:\n  - id: a\n    command: x\n    "schedule": */2 * * * *\n  - id: b\n    command: y\n';
    expect(problems(list)).toEqual([
      `4:17: the schedule's cron expression starts with *, which YAML reads as an alias — quote it: "schedule": "*/2 * * * *"; ${UNTIL}`,
    ]);
    expect(problems("- schedule: */5 * * * *\r\n")).toEqual([
      `1:13: the schedule's cron expression starts with *, which YAML reads as an alias — quote it: schedule: "*/5 * * * *"; ${UNTIL}`,
    ]);
  });

  test("in a flow mapping no fix is made up from the line: the parser's own errors stand", () => {
    const said = problems('- {id: a, command: "true", schedule: */5 * * * *}\n');
    expect(said.length).toBeGreaterThan(0);
    for (const problem of said) expect(problem).not.toContain("quote it");
  });

  test("a long hostile line is read in the parser's own time, not one search per `: *` of it", () => {
    // 320 KB: the first way of finding the value took 48 s on it.
    const line = `x: ${"a: * ".repeat(64_000)}\u2028\n`;
    const started = performance.now();
    expect(problems(line).length).toBeGreaterThan(0);
    // A deadline, not a timing: the parser alone takes about a second here, loaded or not.
    expect(performance.now() - started).toBeLessThan(20_000);
  });

  test("each line so written is one problem; other syntax errors in the file are still said", () => {
    const text = "command: [x\nschedule: */5 * * * *\n---\ncommand: * x\n";
    expect(problems(text).map((problem) => problem.split(" — ")[0])).toEqual([
      "2:1: invalid YAML (Flow sequence in block collection must be sufficiently indented and end with a ])",
      "2:11: the schedule's cron expression starts with *, which YAML reads as an alias",
      "4:10: the value of `command` starts with *, which YAML reads as an alias",
    ]);
    // An alias, one word, is still an alias: one that names no anchor is said as before.
    expect(problems("command: *nothing\n")[0]).toContain("cannot be read");
  });
});

forEachBackend("unquoted cron", (t) => {
  test("sync counts one error for the file and applies nothing of it", async () => {
    await t.setUp();
    t.fixture.write("a.yaml", 'command: "true"\nschedule: */5 * * * *\n');
    const outcome = await sync(t.store, t.fixture.dir);
    expect(outcome.plan.errors.map((error) => [error.file, error.line, error.column])).toEqual([
      ["a.yaml", 2, 11],
    ]);
    expect(outcome.plan.changes).toEqual([]);
  });
});

describe("enqueue -f", () => {
  let home: TempHome;
  beforeEach(() => {
    home = tempHome();
  });
  afterEach(() => home.cleanup());

  test("names the file, the place and the quoted line; nothing is enqueued", async () => {
    const file = join(home.home, "b.yaml");
    writeFileSync(file, 'command: "true"\nschedule: * * * * *\n');
    refused(
      await runCli(["enqueue", "-f", file], { env: home.env }),
      `b.yaml:2:11: the schedule's cron expression starts with *, which YAML reads as an alias — quote it: schedule: "* * * * *"\n`,
    );
    const list = await runCli(["list", "--ids"], { env: home.env });
    expect(list.stdout).toBe("");
  });
});
