/**
 * A worker never runs the jobs of a store another user owns: that user could have put any
 * command in it, and a worker run as root would run it as root. Reading such a queue still
 * works. The files are handed to `nobody` (uid 65534), which only root can do.
 */

import { afterEach, beforeEach, describe, expect, setDefaultTimeout, test } from "bun:test";
import { chownSync, existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { runCli, type TempHome, tempHome } from "../helpers/cli.ts";

// Real processes on a busy two-core machine: generous, not the 5 s default.
setDefaultTimeout(60_000);

let home: TempHome;
beforeEach(() => {
  home = tempHome();
});
afterEach(() => home.cleanup());

describe.skipIf(process.getuid?.() !== 0)("a store another user owns", () => {
  test("workers refuse it in one line (exit 2) and run nothing; reading it still works", async () => {
    const theirs = join(home.home, "theirs");
    const proof = join(home.home, "ran.txt");
    const env = { ...home.env, QUEUECTL_HOME: theirs };
    expect(
      (await runCli(["enqueue", JSON.stringify({ id: "planted", command: `id > ${proof}` })], { env }))
        .exitCode,
    ).toBe(0);
    // As if they had made it: the folder and the database are theirs.
    mkdirSync(theirs, { recursive: true });
    for (const path of [theirs, join(theirs, "jobs.db")]) chownSync(path, 65534, 65534);
    for (const args of [
      ["worker", "run", "--drain"],
      ["worker", "start"],
    ]) {
      const refused = await runCli(args, { env });
      expect(refused.exitCode).toBe(2);
      expect(refused.stderr).toStartWith(`error: ${theirs} belongs to another user (uid 65534)`);
      expect(refused.stderr.trimEnd().split("\n")).toHaveLength(1);
    }
    expect(existsSync(proof)).toBe(false);
    const listed = await runCli(["list", "--ids"], { env });
    expect([listed.exitCode, listed.stdout]).toEqual([0, "planted\n"]);
  });

  test("an own data folder with a database file of theirs is refused too", async () => {
    const db = join(home.home, "shared.db");
    const env = { ...home.env, QUEUECTL_DB: db };
    expect((await runCli(["enqueue", '{"id":"x","command":"true"}'], { env })).exitCode).toBe(0);
    chownSync(db, 65534, 65534);
    const refused = await runCli(["worker", "run", "--drain"], { env });
    expect([refused.exitCode, refused.stderr]).toEqual([
      2,
      expect.stringContaining(`${db} belongs to another user (uid 65534)`),
    ]);
  });
});
