/**
 * A mistyped global option before the command (`queuectl --dbx x status`) is named as typed,
 * with the nearest global option, rather than blamed on the command whose word it took as
 * its value. And a `--` before the command runs it, in the compiled binary (which sees the
 * `--`, as these in-process calls do) as under `bun src/cli.ts` (where Bun drops it).
 */

import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { unknownLeadingOption } from "../../src/cli-argv.ts";
import { withoutDashesBeforeCommand } from "../../src/cli-run.ts";
import { refused, succeeded } from "../helpers/cli.ts";
import { cliHomePerTest } from "../helpers/cli-home.ts";

const testHome = cliHomePerTest();
const { cli } = testHome;

describe("an unknown option before the command", () => {
  test.each([
    [["--dbx", "x", "status"], "unknown option `--dbx` — did you mean `--db`?"],
    [["--bd", "/path", "status"], "unknown option `--bd` — did you mean `--db`?"],
    [["--db", "x.db", "--bd", "y", "list"], "unknown option `--bd` — did you mean `--db`?"],
    [["--debugg", "x", "worker", "run"], "unknown option `--debugg` — did you mean `--debug`?"],
    [["--dbx", "status"], "unknown option `--dbx` — did you mean `--db`?"],
    [["-d", "x", "status"], "unknown option `-d` — see `queuectl --help`"],
    [["--dbx", "x", "status", "--help"], "unknown option `--dbx` — did you mean `--db`?"],
  ])("%j names the option, not the command", async (args, message) => {
    const result = await cli(...args);
    refused(result, message);
    expect(result.stderr).not.toContain("unknown command");
  });

  test("only options before the command word count; the command's own are its to report", () => {
    expect(unknownLeadingOption(["--dbx", "x", "status"], ["db", "debug"])).toBe("--dbx");
    expect(unknownLeadingOption(["lsit", "--json"], ["db", "debug"])).toBeUndefined();
  });
});

describe("`--` before the command", () => {
  test("runs the command, as `bun src/cli.ts -- status` does", async () => {
    expect(succeeded(await cli("--", "status"))).toStartWith("=== QueueCTL Status ===");
    const db = join(testHome.home.home, "other.db");
    succeeded(await cli("--db", db, "enqueue", '{"id":"elsewhere","command":"true"}'));
    expect(JSON.parse(succeeded(await cli("--db", db, "--", "status", "--json"))).jobs.total).toBe(1);
  });

  test("is left where it ends a command's options, or is the value of --db", async () => {
    expect(withoutDashesBeforeCommand(["--", "status"])).toEqual(["status"]);
    expect(withoutDashesBeforeCommand(["show", "--", "-rf"])).toEqual(["show", "--", "-rf"]);
    expect(withoutDashesBeforeCommand(["--db", "--", "status"])).toEqual(["--db", "--", "status"]);
    refused(await cli("--db", "--", "status"), "option `--db <url>` value is missing");
  });
});
