/**
 * A command run from a folder deleted after the shell entered it is bad input: one line,
 * exit 2, nothing stored. Left to go on, `bun src/cli.ts` read a relative path (`add --cwd
 * rel`, `--db rel.db`) against a folder of Bun's own, and a command that asked for the
 * current folder failed in libuv's words. The folder can only be deleted under a process
 * that is in it, so each call is a shell that enters a folder, removes it and runs queuectl.
 */

import { afterAll, expect, setDefaultTimeout, test } from "bun:test";
import { mkdirSync, mkdtempSync } from "node:fs";
import { join } from "node:path";
import { CLI_PATH, runCli, tempHome } from "../helpers/cli.ts";

setDefaultTimeout(60_000);

const home = tempHome();
afterAll(() => home.cleanup());

/** `queuectl …args` from a folder deleted just before, as a shell would run it. */
async function fromDeletedFolder(args: string[]): Promise<{ exitCode: number; stderr: string }> {
  const folder = mkdtempSync(join(home.home, "gone-"));
  const quoted = ["bun", CLI_PATH, ...args].map((word) => `'${word.replaceAll("'", `'\\''`)}'`).join(" ");
  const child = Bun.spawn(["sh", "-c", `cd '${folder}' && rmdir '${folder}' && exec ${quoted}`], {
    env: home.env,
    stdout: "pipe",
    stderr: "pipe",
  });
  const [stderr, exitCode] = await Promise.all([new Response(child.stderr).text(), child.exited]);
  return { exitCode, stderr };
}

test("a relative path, a store path and a plain command from a deleted folder: one line, exit 2, nothing stored", async () => {
  for (const args of [
    ["add", "--id", "x", "--cwd", "rel", "--", "true"],
    ["--db", "rel.db", "status"],
    ["add", "--", "true"],
  ]) {
    const result = await fromDeletedFolder(args);
    expect({ args, exitCode: result.exitCode, lines: result.stderr.trimEnd().split("\n") }).toEqual({
      args,
      exitCode: 2,
      lines: [
        "error: the current folder was deleted after the shell entered it — cd to a folder that exists (e.g. `cd ~`) and run the command again",
      ],
    });
  }
  const list = await runCli(["list", "--json"], { env: home.env });
  expect(JSON.parse(list.stdout)).toEqual([]);
});

test("a folder that exists, whatever its name says, is no deleted one", async () => {
  const folder = join(home.home, "old (deleted)");
  mkdirSync(folder);
  const result = await runCli(["status"], { env: home.env, cwd: folder, process: true });
  expect(result.exitCode).toBe(0);
  expect(result.stderr).toBe("");
});
