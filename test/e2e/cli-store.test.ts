/**
 * The SQLite file behind the CLI: where it lives, its permissions, migrations, a database
 * newer than the code, and files that are corrupt, foreign or locked.
 */

import { Database } from "bun:sqlite";
import { afterEach, beforeEach, describe, expect, setDefaultTimeout, test } from "bun:test";
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { SQLITE_MIGRATIONS } from "../../src/store/sqlite/migrations.ts";
import {
  CLI_PATH,
  type CliResult,
  refused,
  runCli,
  runCliJson,
  type TempHome,
  tempHome,
  waitFor,
} from "../helpers/cli.ts";
import { seededRandom, testSeed } from "../helpers/seed.ts";
import { ok } from "../worker/helpers.ts";

// Real processes on a busy two-core machine: generous, not the 5 s default.
setDefaultTimeout(60_000);

let home: TempHome;
beforeEach(() => {
  home = tempHome();
});
afterEach(() => home.cleanup());

const cli = (args: string[], env: Record<string, string> = home.env) => runCli(args, { env });
const mode = (path: string) => statSync(path).mode & 0o777;

/** A runtime failure: exit 1, one clear line, no stack. */
function runtimeFailure(result: CliResult, fragment: string): void {
  expect(result.exitCode).toBe(1);
  expect(result.stdout).toBe("");
  expect(result.stderr).toStartWith("error: ");
  expect(result.stderr).toContain(fragment);
  expect(result.stderr).toContain(" — ");
  expect(result.stderr.trimEnd().split("\n")).toHaveLength(1);
  expect(result.stderr).not.toContain("    at ");
  expect(result.stderr).not.toContain("this is a bug");
}

function versions(path: string): number[] {
  const db = new Database(path, { readonly: true });
  try {
    return (
      db.query("SELECT version FROM schema_migrations ORDER BY version").all() as { version: number }[]
    ).map((row) => row.version);
  } finally {
    db.close();
  }
}

const ids = async (env: Record<string, string>) =>
  (await runCliJson<{ id: string }[]>(["list"], { env })).map((job) => job.id);

describe("files", () => {
  test("QUEUECTL_HOME is created 0700 and jobs.db 0600", async () => {
    const nested = join(home.home, "a", "b", "queuectl");
    const env = { ...home.env, QUEUECTL_HOME: nested };
    ok(await cli(["enqueue", '{"id":"a","command":"x"}'], env));
    expect(mode(nested)).toBe(0o700);
    expect(mode(join(nested, "jobs.db"))).toBe(0o600);
    expect(await ids(env)).toEqual(["a"]);
  });

  test("an existing home and database with loose permissions are tightened", async () => {
    const loose = join(home.home, "loose");
    mkdirSync(loose, { mode: 0o755 });
    chmodSync(loose, 0o755);
    const env = { ...home.env, QUEUECTL_HOME: loose };
    ok(await cli(["status"], env));
    chmodSync(join(loose, "jobs.db"), 0o644);
    ok(await cli(["status"], env));
    expect(mode(loose)).toBe(0o700);
    expect(mode(join(loose, "jobs.db"))).toBe(0o600);
  });

  test("a --db that looks like a number is a file of that name, not a crash", async () => {
    const result = await runCli(["--db", "5", "enqueue", '{"id":"n","command":"x"}'], {
      env: home.env,
      cwd: home.home,
      process: true,
    });
    expect(result.stderr).toBe("");
    expect(result.exitCode).toBe(0);
    expect(existsSync(join(home.home, "5"))).toBe(true);
  });

  test("QUEUECTL_DB, --db and sqlite://PATH choose another file; --db wins", async () => {
    const fromEnv = join(home.home, "env.db");
    const fromFlag = join(home.home, "flag.db");
    const fromUrl = join(home.home, "sub", "url.db");
    const envDb = { ...home.env, QUEUECTL_DB: fromEnv };
    // A folder that does not exist is a typo until proven otherwise: refused, nothing created.
    const missing = await cli(["--db", `sqlite://${fromUrl}`, "status"]);
    expect(missing.exitCode).toBe(2);
    expect(missing.stderr).toContain("does not exist");
    expect(existsSync(join(home.home, "sub"))).toBe(false);
    mkdirSync(join(home.home, "sub"));
    ok(await cli(["enqueue", '{"id":"in-env","command":"x"}'], envDb));
    ok(await cli(["--db", fromFlag, "enqueue", '{"id":"in-flag","command":"x"}'], envDb));
    ok(await cli(["enqueue", '{"id":"in-url","command":"x"}', "--db", `sqlite://${fromUrl}`]));
    ok(await cli(["enqueue", '{"id":"in-home","command":"x"}']));
    expect(await ids(envDb)).toEqual(["in-env"]);
    expect(await ids({ ...home.env, QUEUECTL_DB: `sqlite://${fromFlag}` })).toEqual(["in-flag"]);
    expect(await ids({ ...home.env, QUEUECTL_DB: fromUrl })).toEqual(["in-url"]);
    expect(await ids(home.env)).toEqual(["in-home"]);
    expect(mode(fromFlag)).toBe(0o600);
    expect(mode(fromUrl)).toBe(0o600);
  });

  test("a relative --db is relative to the working folder", async () => {
    const work = join(home.home, "work");
    mkdirSync(work);
    ok(await runCli(["--db", "rel.db", "enqueue", '{"id":"r","command":"x"}'], { env: home.env, cwd: work }));
    expect(existsSync(join(work, "rel.db"))).toBe(true);
    expect(existsSync(join(home.home, "jobs.db"))).toBe(false);
  });
});

describe("migrations", () => {
  test("a fresh database records every migration from version 1, in WAL mode", async () => {
    ok(await cli(["status"]));
    const path = join(home.home, "jobs.db");
    expect(versions(path)).toEqual(SQLITE_MIGRATIONS.map((migration) => migration.version));
    expect(versions(path)[0]).toBe(1);
    const db = new Database(path, { readonly: true });
    expect((db.query("PRAGMA journal_mode").get() as { journal_mode: string }).journal_mode).toBe("wal");
    db.close();
  });

  test("re-opening migrates nothing twice and keeps the jobs", async () => {
    ok(await cli(["enqueue", '{"id":"a","command":"x"}']));
    const before = versions(join(home.home, "jobs.db"));
    ok(await cli(["enqueue", '{"id":"b","command":"x"}']));
    ok(await cli(["status"]));
    expect(versions(join(home.home, "jobs.db"))).toEqual(before);
    expect(await ids(home.env)).toEqual(["a", "b"]);
  });

  test("two processes opening a fresh database at once both succeed", async () => {
    const results = await Promise.all([
      cli(["enqueue", '{"id":"a","command":"x"}']),
      cli(["enqueue", '{"id":"b","command":"x"}']),
      cli(["status"]),
    ]);
    for (const result of results) ok(result);
    expect((await ids(home.env)).sort()).toEqual(["a", "b"]);
    expect(versions(join(home.home, "jobs.db"))[0]).toBe(1);
  });

  test("a database newer than the code is refused with exit 1 and left alone", async () => {
    ok(await cli(["enqueue", '{"id":"a","command":"x"}']));
    const path = join(home.home, "jobs.db");
    const db = new Database(path);
    db.run("INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, 'from the future', 0)");
    db.close();
    for (const args of [["list"], ["status", "--json"], ["enqueue", '{"id":"b","command":"x"}']]) {
      const result = await cli(args);
      runtimeFailure(result, "schema version 999");
      expect(result.stderr).toContain("newer");
    }
    const check = new Database(path, { readonly: true });
    expect(check.query("SELECT id FROM jobs").all()).toEqual([{ id: "a" }]);
    check.close();
  });
});

describe("crashes", () => {
  test("a bulk enqueue killed with SIGKILL leaves all or nothing, and the database usable", async () => {
    ok(await cli(["enqueue", '{"id":"before","command":"x"}']));
    const lines = Array.from({ length: 100_000 }, (_, i) =>
      JSON.stringify({ id: `bulk-${i}`, command: "x" }),
    );
    const path = join(home.home, "bulk.ndjson");
    writeFileSync(path, lines.join("\n"));
    const child = Bun.spawn(["bun", CLI_PATH, "enqueue", "-f", path], {
      env: home.env,
      stdout: "pipe",
      stderr: "pipe",
    });
    // Kill it once the write transaction has begun (its WAL grows), or whenever it finished first.
    const wal = join(home.home, "jobs.db-wal");
    await waitFor(() => (existsSync(wal) && statSync(wal).size > 100_000) || child.exitCode !== null, {
      timeoutMs: 30_000,
      intervalMs: 5,
      what: "the bulk enqueue to start writing",
    });
    child.kill("SIGKILL");
    await child.exited;
    const status = await runCliJson<{ jobs: { total: number } }>(["status"], { env: home.env });
    expect([1, 100_001]).toContain(status.jobs.total);
    ok(await cli(["enqueue", '{"id":"after","command":"x"}']));
    const db = new Database(join(home.home, "jobs.db"), { readonly: true });
    expect(db.query("PRAGMA integrity_check").get()).toEqual({ integrity_check: "ok" });
    db.close();
  });

  test("an acknowledged enqueue survives SIGKILL of a process holding the database open", async () => {
    ok(await cli(["enqueue", '{"id":"acked","command":"x"}']));
    // A second process with the database open mid-transaction dies without a checkpoint.
    const holder = Bun.spawn(
      [
        "bun",
        "-e",
        `const { Database } = require("bun:sqlite"); const db = new Database(${JSON.stringify(join(home.home, "jobs.db"))});
         db.run("BEGIN IMMEDIATE"); db.run("UPDATE jobs SET state = 'dead'"); console.log("holding"); setInterval(() => {}, 1000);`,
      ],
      { stdout: "pipe" },
    );
    const reader = holder.stdout.getReader();
    const { value } = await reader.read();
    expect(new TextDecoder().decode(value)).toContain("holding");
    holder.kill("SIGKILL");
    await holder.exited;
    const [job] = await runCliJson<{ id: string; state: string }[]>(["list"], { env: home.env });
    expect(job).toMatchObject({ id: "acked", state: "pending" });
  });
});

describe("broken databases", () => {
  test("random bytes in jobs.db: exit 1, a clear line, and the file is not touched", async () => {
    const path = join(home.home, "jobs.db");
    const next = seededRandom(testSeed("random bytes in jobs.db"));
    const garbage = Uint8Array.from({ length: 16_384 }, () => Math.floor(next() * 256));
    writeFileSync(path, garbage);
    for (const args of [
      ["list"],
      ["status"],
      ["enqueue", '{"id":"a","command":"x"}'],
      ["config", "set", "lease", "5m"],
    ]) {
      runtimeFailure(await cli(args), "is corrupt or not a queuectl database");
    }
    expect(new Uint8Array(readFileSync(path))).toEqual(garbage);
  });

  test("another file, a folder, a named pipe or a device as --db: exit 2; the file keeps its bytes and mode", async () => {
    const notes = join(home.home, "notes.txt");
    writeFileSync(notes, "shopping list\n");
    chmodSync(notes, 0o644);
    const fifo = join(home.home, "jobs.fifo"); // Its first bytes' read blocked until a writer came.
    expect(Bun.spawnSync(["mkfifo", fifo]).exitCode).toBe(0);
    const special = "is not a regular file (a named pipe, a device or a socket)";
    for (const [db, fragment] of [
      [notes, "is not a SQLite database"],
      [home.home, "is a folder, not a file"],
      [fifo, special],
      ["/dev/null", special],
    ] as const) {
      for (const command of [["status"], ["enqueue", '{"id":"a","command":"x"}']]) {
        refused(await cli(["--db", db, ...command]), fragment);
      }
    }
    expect(readFileSync(notes, "utf8")).toBe("shopping list\n");
    expect(statSync(notes).mode & 0o777).toBe(0o644);
    expect(existsSync(`${notes}-wal`)).toBe(false);
  });

  test("a truncated SQLite file is reported as corrupt", async () => {
    ok(await cli(["enqueue", '{"id":"a","command":"x"}']));
    const path = join(home.home, "jobs.db");
    const bytes = readFileSync(path);
    writeFileSync(path, bytes.subarray(0, 200));
    runtimeFailure(await cli(["list"]), "corrupt");
  });

  test("a folder where the database should be: exit 1", async () => {
    mkdirSync(join(home.home, "jobs.db"));
    runtimeFailure(await cli(["list"]), "cannot open the database");
  });

  test("QUEUECTL_HOME set but empty is refused, never read as the default home", async () => {
    const result = await cli(["list"], { ...home.env, QUEUECTL_HOME: "", HOME: join(home.home, "user") });
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toStartWith("error: QUEUECTL_HOME is set but empty");
    expect(existsSync(join(home.home, "user"))).toBe(false);
    const db = await cli(["list"], { ...home.env, QUEUECTL_DB: " " });
    expect(db.exitCode).toBe(2);
    expect(db.stderr).toStartWith("error: QUEUECTL_DB is set but empty");
    writeFileSync(join(home.home, "a-file"), "");
    const file = await cli(["list"], { ...home.env, QUEUECTL_HOME: join(home.home, "a-file") });
    expect([file.exitCode, file.stderr]).toEqual([
      2,
      `error: the data folder ${join(home.home, "a-file")} is a file, not a folder — set QUEUECTL_HOME to a folder\n`,
    ]);
  });

  test("config set webhook-secret with an empty value is refused; only none turns signing off", async () => {
    expect((await cli(["config", "set", "webhook-secret", "0123456789abcdef0123"])).exitCode).toBe(0);
    const empty = await cli(["config", "set", "webhook-secret", ""]);
    expect(empty.exitCode).toBe(2);
    expect((await cli(["config", "get", "webhook-secret"])).stdout.trim()).toBe("0123456789abcdef0123");
  });

  test("config JSON that gives a key twice is refused, as a job's spec is, not read as the last", async () => {
    for (const [key, value, twice] of [
      ["limits", '{"memory":"1G","memory":"2G"}', "memory"],
      ["notify", '[{"url":"http://x","url":"http://y"}]', "url"],
    ] as const) {
      const result = await cli(["config", "set", key, value]);
      expect(result.exitCode).toBe(2);
      expect(result.stderr).toContain(`${key} gives the key "${twice}" twice`);
    }
  });

  test("purge --dry-run --archive writes nothing, not even an empty archive, and still checks it", async () => {
    expect((await cli(["enqueue", '{"id":"a","command":"true"}'])).exitCode).toBe(0);
    const archive = join(home.home, "dry.ndjson");
    const dry = await cli(["purge", "--older-than", "1d", "--dry-run", "--archive", archive]);
    expect(dry.exitCode).toBe(0);
    expect(existsSync(archive)).toBe(false);
    const nowhere = await cli(["purge", "--dry-run", "--archive", join(home.home, "no", "dir", "x.ndjson")]);
    expect(nowhere.exitCode).toBe(2);
    // What the real purge refuses, the dry run refuses too: a folder is no archive.
    const folder = await cli(["purge", "--dry-run", "--archive", home.home]);
    expect([folder.exitCode, folder.stderr.includes("(not a regular file)")]).toEqual([2, true]);
  });

  test("a database path below a file: exit 1", async () => {
    writeFileSync(join(home.home, "plain"), "x");
    runtimeFailure(
      await cli(["--db", join(home.home, "plain", "jobs.db"), "enqueue", '{"id":"a","command":"x"}']),
      "plain",
    );
  });

  test("a command that reads, or changes only queued jobs, on a named file that is not there: exit 2, no file made", async () => {
    const typo = join(home.home, "jobz.db");
    mkdirSync(join(home.home, "jobs")); // A dry run of a folder reads the store as `status` does.
    for (const command of [
      ["status"],
      ["list"],
      ["show", "a"],
      ["dlq", "list"],
      ["export"],
      ["config", "get"],
      ["queue", "list"],
      ["schedule", "list"],
      ["purge", "--dry-run"],
      ["sync", join(home.home, "jobs"), "--dry-run"],
      ["kill", "a"],
      ["cancel", "a"],
      ["rerun", "a"],
      ["dlq", "retry", "a"],
      ["dlq", "retry", "--all"],
      ["schedule", "remove", "s"],
      ["queue", "pause", "default"],
      ["worker", "stop"],
    ]) {
      const result = await cli(["--db", typo, ...command]);
      expect(result.exitCode).toBe(2);
      expect(result.stderr).toStartWith(`error: there is no queue at ${typo}`);
      expect(result.stderr.trimEnd().split("\n")).toHaveLength(1);
      expect(existsSync(typo)).toBe(false);
    }
    // Completion (TAB after a mistyped --db) offers nothing, quietly.
    const offered = await cli(["--db", typo, "completion", "--ids"]);
    expect([offered.exitCode, offered.stdout, offered.stderr, existsSync(typo)]).toEqual([0, "", "", false]);
    // A command that writes makes the queue, and then the same read works.
    ok(await cli(["--db", typo, "enqueue", '{"id":"a","command":"x"}']));
    ok(await cli(["--db", typo, "show", "a"]));
    // The home's own database is no typo: a fresh install's first status shows an empty queue.
    ok(await cli(["status"]));
  });

  test("a database locked by another process: exit 1 after the busy timeout, nothing half-written", async () => {
    ok(await cli(["enqueue", '{"id":"a","command":"x"}']));
    const db = new Database(join(home.home, "jobs.db"));
    db.run("BEGIN EXCLUSIVE");
    try {
      // A short busy timeout: the 15 s default proves nothing more than 1 s does.
      const shortWait = { ...home.env, QUEUECTL_SQLITE_BUSY_TIMEOUT_MS: "1000" };
      runtimeFailure(await cli(["enqueue", '{"id":"b","command":"x"}'], shortWait), "locked");
    } finally {
      db.run("ROLLBACK");
      db.close();
    }
    expect(await ids(home.env)).toEqual(["a"]);
  });

  test("a busy timeout that is not a whole number: exit 2, one line, nothing queued", async () => {
    ok(await cli(["enqueue", '{"id":"a","command":"x"}']));
    const result = await cli(["enqueue", '{"id":"b","command":"x"}'], {
      ...home.env,
      QUEUECTL_SQLITE_BUSY_TIMEOUT_MS: "soon",
    });
    expect(result.exitCode).toBe(2);
    expect(result.stderr.trim().split("\n")).toEqual([
      expect.stringMatching(/^error: QUEUECTL_SQLITE_BUSY_TIMEOUT_MS=soon .* — /),
    ]);
    expect(await ids(home.env)).toEqual(["a"]);
  });
});
