/** `config get/set`, `--version` and every help screen through the real CLI. */

import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { join } from "node:path";
import { SqliteStore } from "../../src/store/sqlite/backend.ts";
import { runCli, succeeded } from "../helpers/cli.ts";
import { cliHomePerTest, DEFAULT_CONFIG } from "../helpers/cli-home.ts";

// CLI calls run in this process; the few that spawn one get time on a busy machine.
setDefaultTimeout(60_000);

const testHome = cliHomePerTest();
const { cli, json } = testHome;

describe("config", () => {
  test("get: every key, one key, --json", async () => {
    const all = await json<Record<string, number>>("config", "get");
    expect(all).toEqual(expect.objectContaining(DEFAULT_CONFIG));
    expect(succeeded(await cli("config", "get", "max-retries"))).toBe("3\n");
    expect(await json("config", "get", "lease")).toEqual({ lease: 30 });
    expect(succeeded(await cli("config", "get"))).toMatch(/^max-retries +3 /m);
  });

  test("get: the values and descriptions line up, the longest key included", async () => {
    succeeded(await cli("config", "set", "limits", '{"memory":"256M"}'));
    const rows = succeeded(await cli("config", "get"))
      .trimEnd()
      .split("\n");
    expect(rows.map((row) => row.split(" ")[0])).toContain("retention-archive");
    // Every row's value, and its description, starts in the same column.
    const valueColumns = rows.map((row) => /^\S+ +/.exec(row)?.[0].length);
    const describeColumns = rows.map((row) => /^\S+ +\S+ +/.exec(row)?.[0].length);
    expect(new Set(valueColumns).size).toBe(1);
    expect(new Set(describeColumns).size).toBe(1);
  });

  test.each([
    ["max-retries", "5", 5],
    ["max-retries", "0", 0],
    ["backoff-base", "3", 3],
    ["backoff-max", "5m", 300],
    ["poll-interval", "2", 2],
    ["poll-interval", "500ms", 0.5],
    ["job-timeout", "2h", 7200],
    ["job-timeout", "90s", 90],
    ["lease", "30s", 30],
    ["lease", "5m", 300],
  ])("set %s %s", async (key, value, stored) => {
    expect(succeeded(await cli("config", "set", key, value))).toContain(`${key} = ${stored}`);
    expect(succeeded(await cli("config", "get", key))).toBe(`${stored}\n`);
    expect(await json("config", "get", key)).toEqual({ [key]: stored });
    const status = await json<{ config: Record<string, number> }>("status");
    expect(status.config[key]).toBe(stored);
  });

  test("a value with control characters is refused, and one another host stored prints escaped", async () => {
    const sequence = "\u001b]0;OWNED\u0007\u001b[2J";
    for (const [key, value] of [
      ["retention-archive", `/tmp/x${sequence}`],
      ["webhook-secret", `${sequence}aaaaaaaaaaaaaaaaaaaaaa`],
    ]) {
      const result = await cli("config", "set", key as string, value as string);
      expect(result.exitCode).toBe(2);
      expect(result.stderr).not.toContain("\u001b");
    }
    // As a store shared with an older or another client could hold it.
    const store = new SqliteStore(join(testHome.home.home, "jobs.db"));
    await store.configSet({ key: "retention-archive", value: `/tmp/x${sequence}` });
    await store.close();
    for (const args of [["config", "get"], ["config", "get", "retention-archive"], ["status"]]) {
      const out = succeeded(await cli(...args));
      expect(out).toContain("/tmp/x");
      expect(out).not.toContain("\u001b");
      expect(out).not.toContain("\u0007");
    }
  });

  test("the original's underscore spelling works", async () => {
    succeeded(await cli("config", "set", "max_retries", "4"));
    expect(succeeded(await cli("config", "get", "max_retries"))).toBe("4\n");
  });
});

describe("version and help", () => {
  test("--version, listed in --help with the other options, aligned", async () => {
    expect(succeeded(await cli("--version"))).toBe("queuectl, version 1.0.0\n");
    const options = succeeded(await cli("--help")).split("Options:\n")[1] ?? "";
    expect(options).toContain("  -v, --version  Print the version (given alone)");
    expect(options).toContain("  -h, --help     Display this message");
  });

  test("--help and no arguments list every command", async () => {
    const help = succeeded(await cli("--help"));
    expect(succeeded(await cli())).toBe(help);
    for (const command of [
      "enqueue",
      "list",
      "show",
      "status",
      "worker start",
      "worker stop",
      "dlq list",
      "dlq retry",
      "cancel",
      "rerun",
      "config get",
      "config set",
    ]) {
      expect(help).toContain(`  ${command}`);
    }
  });

  test.each([
    ["enqueue", "--file"],
    ["list", "--state"],
    ["show", "<id>"],
    ["status", "--json"],
    ["dlq list", "--json"],
    ["dlq retry", "--all"],
    ["cancel", "<id>"],
    ["rerun", "<id>"],
    ["config get", "[key]"],
    ["config set", "max-retries"],
    ["worker start", "Usage"],
  ])("%s --help", async (command, fragment) => {
    const out = succeeded(await cli(...command.split(" "), "--help"));
    expect(out).toContain(`$ queuectl ${command}`);
    expect(out).toContain(fragment);
    expect(succeeded(await cli(...command.split(" "), "-h"))).toBe(out);
  });

  test.each(["worker", "dlq", "config"])("%s --help lists its subcommands", async (group) => {
    const out = succeeded(await cli(group, "--help"));
    expect(out).toContain(`Usage: queuectl ${group} <`);
    expect(out).toMatch(new RegExp(`queuectl ${group} \\w+ +\\S`));
  });

  test("help never touches the database", async () => {
    succeeded(
      await runCli(["list", "--help"], {
        env: { ...testHome.home.env, QUEUECTL_DB: "/proc/nowhere/jobs.db" },
      }),
    );
  });
});
