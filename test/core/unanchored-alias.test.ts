/**
 * An alias with no anchor of its name before it (`*x` where no `&x` is set) is a mistake of
 * its own, not too many aliases: each reader places it at the alias and says how to set the
 * anchor. The hint about "so many aliases" belongs to the alias-count cap alone.
 */

import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { UserError } from "../../src/core/errors.ts";
import { parseJobInput } from "../../src/core/job-input.ts";
import { readFolderSettings, SETTINGS_FILE } from "../../src/jobfiles/folder-settings.ts";
import { parseJobfile } from "../../src/jobfiles/parse.ts";
import { runCli, tempHome } from "../helpers/cli.ts";

const UNANCHORED = "id: u1\ncommand: echo\nenv: {A: *x}\n";

let dir = "";
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "queuectl-alias-"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** A file nine levels of nine aliases deep: far past the cap, and every alias anchored. */
function aliasBomb(): string {
  const rows = ["a: &a [x, x, x, x, x, x, x, x, x]"];
  for (let i = 1; i < 9; i++) {
    const name = String.fromCharCode(97 + i);
    rows.push(
      `${name}: &${name} [${Array(9)
        .fill(`*${String.fromCharCode(96 + i)}`)
        .join(", ")}]`,
    );
  }
  return `${rows.join("\n")}\ncommand: echo\n`;
}

describe("an alias without its anchor", () => {
  test("in a jobfile is placed at the alias, with a hint to set the anchor", () => {
    const parsed = parseJobfile(UNANCHORED, "b.yaml");
    expect(parsed.jobs).toEqual([]);
    expect(parsed.problems).toEqual([
      expect.objectContaining({
        line: 3,
        column: 10,
        message: "cannot be read: the alias *x has no anchor &x before it",
      }),
    ]);
    const hint = parsed.problems[0]?.hint ?? "";
    expect(hint).toContain("&x");
    expect(hint).not.toContain("so many");
  });

  test("an anchor set after the alias is still missing where the alias is read", () => {
    const parsed = parseJobfile("id: u1\ncommand: echo\nenv: {A: *x}\nx: &x 1\n", "b.yaml");
    expect(parsed.problems[0]).toMatchObject({ line: 3, column: 10 });
    expect(parsed.problems[0]?.message).toContain("has no anchor &x before it");
  });

  test("`enqueue -f` names it the same way, with line and column", async () => {
    const home = tempHome();
    try {
      const file = join(dir, "b.yaml");
      writeFileSync(file, UNANCHORED);
      const result = await runCli(["enqueue", "-f", file], { env: home.env });
      expect(result.exitCode).toBe(2);
      expect(result.stderr).toStartWith(`error: ${file}:3:10: the alias *x has no anchor &x before it — `);
      expect(result.stderr).not.toContain("aliases are limited");
      expect(result.stderr.trim().split("\n")).toHaveLength(1);
    } finally {
      home.cleanup();
    }
  });

  test("in a folder's settings file is placed too", async () => {
    writeFileSync(join(dir, SETTINGS_FILE), "namespace: *x\n");
    const error = await readFolderSettings(dir).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(UserError);
    expect((error as UserError).message).toBe(
      `${join(dir, SETTINGS_FILE)}:1:12: the alias *x has no anchor &x before it`,
    );
  });
});

describe("the alias-count cap", () => {
  test("keeps its own hint, in a jobfile and in enqueue input", () => {
    const [problem] = parseJobfile(aliasBomb(), "bomb.yaml").problems;
    expect(problem?.message).toStartWith("cannot be read: the YAML aliases expand to more than");
    expect(problem?.hint).toBe("write the jobs out without so many YAML aliases");
    const error = (() => {
      try {
        parseJobInput(aliasBomb(), "bomb.yaml", "yaml");
      } catch (caught) {
        return caught;
      }
    })();
    expect(error).toBeInstanceOf(UserError);
    expect((error as UserError).message).toStartWith("bomb.yaml:1:1: the YAML aliases expand to more than");
    expect((error as UserError).hint).toBe("write the jobs out without so many YAML aliases");
  });
});
