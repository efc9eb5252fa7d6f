/**
 * A queue that can be read but not written: a read-only file system (a loop-mounted ext4
 * image remounted read-only; needs root), a folder and file the user may not write (run as
 * `nobody`), and a PostgreSQL role whose transactions are read-only. Read commands work and
 * show everything; write commands say in one line that the database is read-only (exit 1).
 */

import { afterEach, beforeEach, describe, expect, setDefaultTimeout, test } from "bun:test";
import { chmodSync, existsSync, mkdirSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { SQL } from "bun";
import { moveJob } from "../../src/flow/moves.ts";
import { openStore } from "../../src/store/open.ts";
import { Worker } from "../../src/worker/loop.ts";
import { CLI_PATH, type CliResult, runCli, type TempHome, tempHome, waitFor } from "../helpers/cli.ts";
import { enqueueSpecs } from "../helpers/enqueue.ts";
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

/**
 * A small queue with a finished job (with output in `home`'s logs), a pending one and a
 * canceled one, written in process: the commands under test are the reads and the
 * refused writes, not the set-up.
 */
async function seed(url: string, home: string): Promise<void> {
  const store = await openStore({ url });
  try {
    await enqueueSpecs(store, [{ id: "done", command: "echo from-done" }]);
    await new Worker({
      store,
      home,
      host: "seed",
      concurrency: 1,
      queues: null,
      drain: true,
      onEvent: () => {},
    }).run();
    await enqueueSpecs(store, [
      { id: "waiting", command: "true", delay: "1h" },
      { id: "dropped", command: "true", delay: "1h" },
    ]);
    await moveJob(store, "dropped", "cancel", Date.now());
  } finally {
    await store.close();
  }
}

async function expectReadsWork(cli: Cli): Promise<void> {
  const status = JSON.parse(ok(await cli("status", "--json"))) as { jobs: Record<string, number> };
  expect(status.jobs).toMatchObject({ completed: 1, pending: 1, canceled: 1, total: 3 });
  const listed = JSON.parse(ok(await cli("list", "--json"))) as { id: string }[];
  expect(listed.map((job) => job.id)).toEqual(["done", "waiting", "dropped"]);
  expect(ok(await cli("show", "done"))).toContain("completed");
  expect(ok(await cli("logs", "done"))).toContain("from-done");
  // The three jobs, between the export's first and last lines.
  expect(
    ok(await cli("export"))
      .trim()
      .split("\n"),
  ).toHaveLength(5);
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

/**
 * Remounts `dir` read-only once nothing holds a file there open for writing: the seeding
 * worker's WAL checkpoint thread closes its own connection a moment after the store closes,
 * and until then the kernel refuses with "mount point is busy".
 */
async function remountReadOnly(dir: string): Promise<void> {
  await waitFor(
    () =>
      Bun.spawnSync(["mount", "-o", "remount,ro", dir], { stdout: "ignore", stderr: "ignore" }).exitCode ===
      0,
    { what: `${dir} remounted read-only` },
  );
}

describe.skipIf(!scratchFsAvailable())("a read-only file system (loop-mounted ext4; needs root)", () => {
  test("read commands work and write commands say the database is read-only", async () => {
    scratch = mountScratchFs(join(home.home, "disk"), 16);
    const env = { ...home.env, QUEUECTL_HOME: join(scratch.dir, "q") };
    const cli = (...args: string[]) => runCli(args, { env });
    mkdirSync(env.QUEUECTL_HOME, { mode: 0o700 });
    await seed(join(env.QUEUECTL_HOME, "jobs.db"), env.QUEUECTL_HOME);
    await remountReadOnly(scratch.dir);
    await expectReadsWork(cli);
    await expectWritesRefused(cli, /jobs\.db is read-only \(on a read-only file system\)/);
    // A database that is not there: no new file, a clear reason (a read names the missing
    // file before it would try to make one; a write says why it cannot).
    const other = join(scratch.dir, "q", "other.db");
    const missing = await runCli(["list", "--db", other], { env });
    expect(missing.exitCode).toBe(2);
    expect(missing.stderr).toContain(`there is no queue at ${other}`);
    const write = await runCli(["enqueue", "--db", other, '{"id":"n","command":"true"}'], { env });
    expect(write.exitCode).toBe(1);
    expect(write.stderr).toContain("on a read-only file system");
  });
});

describe.skipIf(!nobodyCanRunTheCli())("a folder and file the user may not write (run as nobody)", () => {
  test("read commands work and write commands say the database is read-only", async () => {
    const base = join(home.home, "q");
    mkdirSync(base, { mode: 0o700 });
    await seed(join(base, "jobs.db"), base);
    // Everything the seed wrote becomes nobody's, as if nobody had written it.
    sh(["chown", "-R", "65534:65534", home.home]);
    const env = { ...home.env, QUEUECTL_HOME: base };
    const cli = cliAsNobody(env);
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

describe.skipIf(!nobodyCanRunTheCli())("a bulk write killed through its rollback journal", () => {
  test("a reader that may not write is refused, not shown the half-written file; the owner's next command plays it back", async () => {
    const base = join(home.home, "q");
    mkdirSync(base, { mode: 0o700 });
    const db = join(base, "jobs.db");
    await seed(db, base);
    const file = join(home.home, "bulk.ndjson");
    writeFileSync(
      file,
      Array.from({ length: 20_000 }, (_, i) => `{"id":"b-${i}","command":"true"}`).join("\n"),
    );
    const before = statSync(db).size;
    const bulk = Bun.spawn(["bun", CLI_PATH, "enqueue", "-f", file], {
      env: { ...home.env, QUEUECTL_HOME: base },
    });
    // Killed once its pages reach the file beside the journal: the file is half written.
    await waitFor(
      () => bulk.exitCode !== null || (existsSync(`${db}-journal`) && statSync(db).size > before + 200_000),
      {
        timeoutMs: 60_000,
        intervalMs: 2,
        what: "the bulk write to be under way",
      },
    );
    bulk.kill("SIGKILL");
    await bulk.exited;
    expect(bulk.signalCode).toBe("SIGKILL");
    sh(["chown", "-R", "65534:65534", home.home]);
    chmodSync(db, 0o400);
    chmodSync(base, 0o500);
    const reader = { ...home.env, QUEUECTL_HOME: base };
    try {
      const refused = cliAsNobody(reader)("status");
      expect(refused.exitCode).toBe(1);
      expect(refused.stderr).toContain("holds an unfinished write");
    } finally {
      chmodSync(base, 0o700);
      chmodSync(db, 0o600);
    }
    // Its owner (root may write it too) plays the journal back: the queue is as it was.
    const status = JSON.parse(ok(await runCli(["status", "--json"], { env: reader }))) as {
      jobs: { total: number };
    };
    expect(status.jobs.total).toBe(3);
    expect(existsSync(`${db}-journal`)).toBe(false);
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
      await seed(withSchema(PG_URL ?? ""), home.home);
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
