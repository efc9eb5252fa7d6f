/**
 * A queue that can be read but not written: a read-only file system (a loop-mounted ext4
 * image remounted read-only; needs root), a folder and file the user may not write (run as
 * `nobody`), and a PostgreSQL role whose transactions are read-only. Read commands work and
 * show everything; write commands say in one line that the database is read-only (exit 1).
 */

import { afterEach, beforeEach, describe, expect, setDefaultTimeout, test } from "bun:test";
import { chmodSync, chownSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { SQL } from "bun";
import { type CliResult, runCli, type TempHome, tempHome } from "../helpers/cli.ts";
import {
  cliAsNobody,
  mountScratchFs,
  nobodyCanRunTheCli,
  type ScratchFs,
  scratchFsAvailable,
} from "./helpers.ts";

setDefaultTimeout(120_000);

let home: TempHome;
let scratch: ScratchFs | null;
beforeEach(() => {
  home = tempHome();
  scratch = null;
});
afterEach(() => {
  scratch?.unmount();
  home.cleanup();
});

type Cli = (...args: string[]) => CliResult | Promise<CliResult>;

function ok(result: CliResult): string {
  if (result.exitCode !== 0) throw new Error(`exit ${result.exitCode}: ${result.stderr}`);
  return result.stdout;
}

/** A small queue with a finished job (with output), a pending one and a canceled one. */
async function seed(cli: Cli): Promise<void> {
  ok(await cli("enqueue", '{"id":"done","command":"echo from-done"}'));
  ok(await cli("worker", "run", "--drain"));
  ok(await cli("enqueue", '{"id":"waiting","command":"true","delay":"1h"}'));
  ok(await cli("enqueue", '{"id":"dropped","command":"true","delay":"1h"}'));
  ok(await cli("cancel", "dropped"));
}

async function expectReadsWork(cli: Cli): Promise<void> {
  const status = JSON.parse(ok(await cli("status", "--json"))) as { jobs: Record<string, number> };
  expect(status.jobs).toMatchObject({ completed: 1, pending: 1, canceled: 1, total: 3 });
  const listed = JSON.parse(ok(await cli("list", "--json"))) as { id: string }[];
  expect(listed.map((job) => job.id)).toEqual(["done", "waiting", "dropped"]);
  expect(ok(await cli("show", "done"))).toContain("completed");
  expect(ok(await cli("logs", "done"))).toContain("from-done");
  expect(
    ok(await cli("export"))
      .trim()
      .split("\n"),
  ).toHaveLength(3);
}

async function expectWritesRefused(cli: Cli, pattern: RegExp): Promise<void> {
  const writes = [
    ["enqueue", '{"id":"late","command":"true"}'],
    ["cancel", "waiting"],
    ["rerun", "done"],
    ["config", "set", "max-retries", "5"],
    ["worker", "run", "--drain"],
  ];
  for (const args of writes) {
    const result = await cli(...args);
    expect({ args, exitCode: result.exitCode, stdout: result.stdout }).toEqual({
      args,
      exitCode: 1,
      stdout: "",
    });
    const lines = result.stderr.trimEnd().split("\n");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^error: .+ — .+/);
    expect(lines[0]).toMatch(pattern);
    expect(lines[0]).toContain("status, list, show, logs and export still work");
    expect(result.stderr).not.toContain("cannot open the database");
  }
}

function sh(args: string[]): void {
  const result = Bun.spawnSync(args, { stdout: "pipe", stderr: "pipe" });
  if (result.exitCode !== 0) throw new Error(`${args.join(" ")}: ${result.stderr.toString()}`);
}

describe.skipIf(!scratchFsAvailable())("a read-only file system (loop-mounted ext4; needs root)", () => {
  test("read commands work and write commands say the database is read-only", async () => {
    scratch = mountScratchFs(join(home.home, "disk"), 16);
    const env = { ...home.env, QUEUECTL_HOME: join(scratch.dir, "q") };
    const cli = (...args: string[]) => runCli(args, { env });
    await seed(cli);
    sh(["mount", "-o", "remount,ro", scratch.dir]);
    await expectReadsWork(cli);
    await expectWritesRefused(cli, /jobs\.db is read-only \(on a read-only file system\)/);
    // The same through --db, and for a database that is not there: no new file, a clear reason.
    const missing = await runCli(["list", "--db", join(scratch.dir, "q", "other.db")], { env });
    expect(missing.exitCode).toBe(1);
    expect(missing.stderr).toContain("on a read-only file system");
  });
});

describe.skipIf(!nobodyCanRunTheCli())("a folder and file the user may not write (run as nobody)", () => {
  test("read commands work and write commands say the database is read-only", async () => {
    const base = join(home.home, "q");
    mkdirSync(base, { mode: 0o700 });
    chownSync(base, 65534, 65534);
    chownSync(home.home, 65534, 65534);
    const env = { ...home.env, QUEUECTL_HOME: base };
    const cli = cliAsNobody(env);
    await seed(cli);
    // Its owner made it read-only: no journal file can be created next to it either.
    chmodSync(join(base, "jobs.db"), 0o400);
    chmodSync(base, 0o500);
    try {
      await expectReadsWork(cli);
      await expectWritesRefused(cli, /jobs\.db is read-only \(you may not write the file\)/);
    } finally {
      chmodSync(base, 0o700);
    }
  });
});

const PG_URL = process.env.QUEUECTL_TEST_PG_URL;

describe.skipIf(!PG_URL)("a PostgreSQL role whose transactions are read-only", () => {
  test("read commands work and write commands say the database is read-only", async () => {
    const suffix = crypto.randomUUID().replaceAll("-", "").slice(0, 10);
    const schema = `qc_readonly_${suffix}`;
    const role = `qc_reader_${suffix}`;
    const withSchema = (url: string) => `${url}${url.includes("?") ? "&" : "?"}schema=${schema}`;
    const admin = new SQL(PG_URL ?? "", { max: 1 });
    try {
      const writer = { ...home.env, QUEUECTL_DB: withSchema(PG_URL ?? "") };
      await seed((...args) => runCli(args, { env: writer }));
      await admin.unsafe(`CREATE ROLE ${role} LOGIN`);
      await admin.unsafe(`ALTER ROLE ${role} SET default_transaction_read_only = on`);
      await admin.unsafe(`GRANT ALL ON SCHEMA ${schema} TO ${role}`);
      await admin.unsafe(`GRANT ALL ON ALL TABLES IN SCHEMA ${schema} TO ${role}`);
      await admin.unsafe(`GRANT ALL ON ALL SEQUENCES IN SCHEMA ${schema} TO ${role}`);
      const url = new URL(PG_URL ?? "");
      url.username = role;
      url.password = "";
      const reader = { ...home.env, QUEUECTL_DB: withSchema(url.toString()) };
      const cli = (...args: string[]) => runCli(args, { env: reader });
      await expectReadsWork(cli);
      await expectWritesRefused(cli, /is read-only \(cannot execute \w+ in a read-only transaction\)/);
    } finally {
      await admin.unsafe(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await admin.unsafe(`DROP OWNED BY ${role}`).catch(() => {});
      await admin.unsafe(`DROP ROLE IF EXISTS ${role}`);
      await admin.close();
    }
  });
});
