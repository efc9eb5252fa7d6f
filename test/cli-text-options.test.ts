/**
 * Option values arrive as typed. cac turns a value that looks like a number into one, so a
 * file named `007` was read as `7`, an archive `010` written to `10` and a revision `099471`
 * looked up as `99471`. Every option that takes a value is registered to keep its text
 * (TEXT_OPTION); the ones meant as numbers are read from that text by their own parsers.
 */

import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import cac from "cac";
import { keepText } from "../src/cli-argv.ts";
import { runCli, succeeded, tempHome } from "./helpers/cli.ts";

const COMMANDS_DIR = join(import.meta.dir, "..", "src", "commands");

describe("option values keep the characters typed", () => {
  test("every option of every command that takes a value is registered as text", async () => {
    const cli = cac("queuectl");
    for (const file of readdirSync(COMMANDS_DIR).filter((name) => name.endsWith(".ts"))) {
      const module = (await import(join(COMMANDS_DIR, file))) as Record<string, unknown>;
      for (const [name, register] of Object.entries(module)) {
        if (name.startsWith("register") && typeof register === "function") register(cli);
      }
    }
    expect(cli.commands.length).toBeGreaterThan(20);
    const numeric = cli.commands.flatMap((command) =>
      command.options
        .filter((option) => /[<[]/.test(option.rawName) && !(option.config.type ?? []).includes(keepText))
        .map((option) => `${command.name} ${option.rawName}`),
    );
    expect(numeric).toEqual([]);
  });

  const home = tempHome();
  afterAll(() => home.cleanup());

  test("enqueue -f 007 reads the file 007, not 7; purge --archive 010 writes 010", async () => {
    writeFileSync(join(home.home, "007"), '{"id":"right","command":"true"}');
    writeFileSync(join(home.home, "7"), '{"id":"wrong","command":"true"}');
    const options = { env: home.env, cwd: home.home };
    expect(succeeded(await runCli(["enqueue", "-f", "007"], options))).toContain("right");
    succeeded(await runCli(["cancel", "right"], options));
    succeeded(await runCli(["purge", "--older-than", "0s", "--archive", "010"], options));
    expect(existsSync(join(home.home, "010"))).toBe(true);
    expect(existsSync(join(home.home, "10"))).toBe(false);
  });

  test("a text option followed by a kebab-case flag has no value: purge --archive --dry-run deletes nothing", async () => {
    const options = { env: home.env, cwd: home.home };
    succeeded(await runCli(["add", "-q", "--id", "kept", "--", "true"], options));
    succeeded(await runCli(["cancel", "kept"], options));
    const refused = await runCli(["purge", "--older-than", "0s", "--archive", "--dry-run"], options);
    expect(refused.exitCode).toBe(2);
    expect(refused.stderr).toContain("option `--archive <file>` value is missing");
    expect(existsSync(join(home.home, "--dry-run"))).toBe(false);
    expect(succeeded(await runCli(["show", "kept"], options))).toContain("canceled");
  });
});
