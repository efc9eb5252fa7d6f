/**
 * A worker never runs the jobs of a store another user owns: that user could have put any
 * command in it, and a worker run as root would run it as root. Reading such a queue still
 * works. The files are handed to `nobody` (uid 65534), which only root can do.
 */

import { afterEach, beforeEach, describe, expect, setDefaultTimeout, test } from "bun:test";
import {
  chmodSync,
  chownSync,
  existsSync,
  mkdirSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { CLI_PATH, runCli, type TempHome, tempHome, waitFor } from "../helpers/cli.ts";

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

describe.skipIf(process.getuid?.() !== 0)("a journal file another user put beside the database", () => {
  // In /tmp anyone may put `<db>-wal` there while no connection is open; SQLite would replay
  // its pages into the database as its own, for any command, not only a worker.
  test("every command refuses it in one line (exit 2) and reads nothing from it; removed, all is as it was", async () => {
    const db = join(home.home, "queue.db");
    const env = { ...home.env, QUEUECTL_DB: db };
    expect((await runCli(["enqueue", '{"id":"mine","command":"true"}'], { env })).exitCode).toBe(0);
    for (const suffix of ["-wal", "-shm", "-journal"]) {
      const planted = `${db}${suffix}`;
      writeFileSync(planted, "not SQLite's");
      chownSync(planted, 65534, 65534);
      for (const args of [
        ["worker", "run", "--drain"],
        ["list"],
        ["status"],
        ["enqueue", '{"id":"more","command":"true"}'],
        ["add", "--", "true"],
      ]) {
        const refused = await runCli(args, { env });
        expect([args, refused.exitCode]).toEqual([args, 2]);
        // The worker's own check comes first and says what a worker risks.
        expect(refused.stderr).toStartWith(`error: ${planted} belongs to another user (uid 65534)`);
        expect(refused.stderr.trimEnd().split("\n")).toHaveLength(1);
      }
      rmSync(planted);
    }
    symlinkSync(join(home.home, "elsewhere"), `${db}-wal`);
    expect((await runCli(["list"], { env })).stderr).toStartWith(`error: ${db}-wal is a link`);
    rmSync(`${db}-wal`);
    // Reached through a link, the database's journals are beside the file itself, where
    // SQLite looks for them: that is where they are checked.
    const link = join(home.home, "link.db");
    symlinkSync(db, link);
    writeFileSync(`${db}-wal`, "not SQLite's");
    chownSync(`${db}-wal`, 65534, 65534);
    for (const args of [["list"], ["worker", "run", "--drain"]]) {
      const refused = await runCli(args, { env: { ...env, QUEUECTL_DB: link } });
      expect([args, refused.exitCode]).toEqual([args, 2]);
      expect(refused.stderr).toStartWith(`error: ${db}-wal belongs to another user (uid 65534)`);
    }
    rmSync(`${db}-wal`);
    const listed = await runCli(["list", "--ids"], { env });
    expect([listed.exitCode, listed.stdout]).toEqual([0, "mine\n"]);
  });
});

describe("file modes", () => {
  // The usual umask, under which files are made readable by all unless made otherwise.
  let umask = 0;
  beforeEach(() => {
    umask = process.umask(0o022);
  });
  afterEach(() => {
    process.umask(umask);
  });

  test("a database a worker creates has its WAL and shared-memory files private too, whatever the umask", async () => {
    const db = join(home.home, "fresh.db");
    // A worker keeps its WAL open for as long as it runs: that is the file to check.
    const worker = Bun.spawn(["bun", CLI_PATH, "worker", "run"], {
      env: { ...home.env, QUEUECTL_DB: db },
      stdout: "pipe",
      stderr: "pipe",
    });
    try {
      await waitFor(() => existsSync(`${db}-wal`) && existsSync(`${db}-shm`), { what: "the WAL to exist" });
      for (const file of [db, `${db}-wal`, `${db}-shm`])
        expect([file, statSync(file).mode & 0o777]).toEqual([file, 0o600]);
    } finally {
      worker.kill("SIGTERM");
      await worker.exited;
    }
  });

  test("an existing store whose WAL others could read is tightened when it is opened", async () => {
    const db = join(home.home, "loose.db");
    const env = { ...home.env, QUEUECTL_DB: db };
    expect((await runCli(["enqueue", '{"id":"x","command":"true"}'], { env })).exitCode).toBe(0);
    writeFileSync(`${db}-wal`, "");
    chmodSync(`${db}-wal`, 0o644);
    // Checked while a worker holds it open: the last connection to close removes the WAL.
    const worker = Bun.spawn(["bun", CLI_PATH, "worker", "run"], { env, stdout: "pipe", stderr: "pipe" });
    try {
      await waitFor(() => existsSync(`${db}-wal`) && (statSync(`${db}-wal`).mode & 0o777) === 0o600, {
        what: "the WAL to be tightened",
      });
    } finally {
      worker.kill("SIGTERM");
      await worker.exited;
    }
  });
});
