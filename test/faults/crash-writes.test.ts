/**
 * SIGKILL in the middle of the CLI's big writes: a bulk `enqueue -f` and a `sync` of a
 * folder of thousands of jobfiles. Each is one transaction, so whenever the kill lands
 * the file holds all of the batch or none of it, stays intact, and the next run finishes
 * the work. Sizes and kill moments are few but spread (early, middle, late, and for the
 * enqueue, inside the transaction itself): each trial costs up to two full runs.
 */

import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { existsSync, mkdirSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { CLI_PATH, runCli, type TempHome, tempHome, waitFor } from "../helpers/cli.ts";
import { ok } from "../worker/helpers.ts";
import { countJobs, integrityCheck, journalMode } from "./helpers.ts";

setDefaultTimeout(120_000);

let home: TempHome;
beforeAll(() => {
  home = tempHome();
});
afterAll(() => home.cleanup());

/** Starts `queuectl ...args`, kills it with SIGKILL once `when` says so (or it ended first). */
async function killDuring(args: string[], when: (startedAt: number) => boolean): Promise<number | null> {
  const child = Bun.spawn(["bun", CLI_PATH, ...args], {
    env: home.env,
    stdin: "ignore",
    stdout: "ignore",
    stderr: "pipe",
  });
  const startedAt = Date.now();
  await waitFor(() => when(startedAt) || child.exitCode !== null, {
    timeoutMs: 60_000,
    intervalMs: 2,
    what: `the moment to kill queuectl ${args[0]}`,
  });
  const finished = child.exitCode;
  child.kill("SIGKILL");
  await child.exited;
  if (finished !== null && finished !== 0)
    throw new Error(
      `queuectl ${args.join(" ")} failed on its own: ${await new Response(child.stderr).text()}`,
    );
  return finished;
}

/**
 * A kill moment inside the write transaction itself: its pages reaching the file of `db`
 * beside a rollback journal (the store had no other connection: bulk-journal.ts), or its WAL.
 */
function insideTransaction(db: string): () => boolean {
  const [wal, journal] = [`${db}-wal`, `${db}-journal`];
  const sizeOf = (file: string) => (existsSync(file) ? statSync(file).size : 0);
  const [walBefore, dbBefore] = [sizeOf(wal), sizeOf(db)];
  return () => (existsSync(journal) && sizeOf(db) > dbBefore + 200_000) || sizeOf(wal) > walBefore + 200_000;
}

/** A kill moment at `fraction` of an uninterrupted run; on a busy machine it may land anywhere. */
function afterFraction(fullMs: number, fraction: number): (startedAt: number) => boolean {
  return (startedAt) => Date.now() - startedAt >= fullMs * fraction;
}

/** How long an uninterrupted run takes here, to spread kill moments over it. */
async function timed(args: string[]): Promise<number> {
  const started = Date.now();
  ok(await runCli(args, { env: home.env }));
  return Date.now() - started;
}

describe("SIGKILL during a bulk enqueue", () => {
  const SIZE = 10_000;

  test("every kill moment leaves all or nothing, an intact file, and a retry completes", async () => {
    const file = join(home.home, "bulk.ndjson");
    writeFileSync(
      file,
      Array.from({ length: SIZE }, (_, i) => JSON.stringify({ id: `bulk-${i}`, command: "true" })).join("\n"),
    );
    const full = await timed(["--db", join(home.home, "measure-enqueue.db"), "enqueue", "-f", file]);
    const outcomes: number[] = [];
    for (const [trial, fraction] of [0.3, 0.6, 0.85, 1.0].entries()) {
      const db = join(home.home, `enqueue-${trial}.db`);
      ok(await runCli(["--db", db, "enqueue", '{"id":"before","command":"true"}'], { env: home.env }));
      const when = fraction === 1.0 ? insideTransaction(db) : afterFraction(full, fraction);
      const finished = await killDuring(["--db", db, "enqueue", "-f", file], when);
      // Killed inside its transaction, the write left its journal for the next opener to play back.
      if (fraction === 1.0 && finished === null) expect(existsSync(`${db}-journal`)).toBe(true);
      // The next command plays back what the kill left (a read-only connection cannot).
      ok(await runCli(["--db", db, "status"], { env: home.env }));
      expect(existsSync(`${db}-journal`)).toBe(false);
      const total = countJobs(db);
      expect([1, SIZE + 1]).toContain(total);
      outcomes.push(total);
      expect(integrityCheck(db)).toBe("ok");
      if (total === 1) ok(await runCli(["--db", db, "enqueue", "-f", file], { env: home.env }));
      expect(countJobs(db)).toBe(SIZE + 1);
      expect(journalMode(db)).toBe("wal");
    }
    // Not an assertion on timing: just what the kills hit, for whoever reads a failure.
    console.log(`bulk enqueue kills left totals ${outcomes.join(", ")} (full run ${full} ms)`);
  });
});

describe("SIGKILL during a sync of many jobfiles", () => {
  const FILES = 1500;

  test("every kill moment leaves all or nothing, an intact file, and a re-sync completes", async () => {
    const dir = join(home.home, "jobs");
    mkdirSync(dir, { mode: 0o700 });
    for (let i = 0; i < FILES; i++) {
      const folder = join(dir, `group-${i % 30}`);
      mkdirSync(folder, { recursive: true, mode: 0o700 });
      writeFileSync(
        join(folder, `job-${i}.yaml`),
        `command: echo ${i}\npriority: ${i % 7}\ntags: [t${i % 3}]\n`,
      );
    }
    const full = await timed(["--db", join(home.home, "measure-sync.db"), "sync", dir]);
    const outcomes: number[] = [];
    // The last trial waits for the transaction itself, as the enqueue's does.
    for (const [trial, fraction] of [0.4, 0.7, 1.0].entries()) {
      const db = join(home.home, `sync-${trial}.db`);
      ok(await runCli(["--db", db, "enqueue", '{"id":"ad-hoc","command":"true"}'], { env: home.env }));
      const when = fraction === 1.0 ? insideTransaction(db) : afterFraction(full, fraction);
      await killDuring(["--db", db, "sync", dir], when);
      const declared = countJobs(db, "source IS NOT NULL");
      expect([0, FILES]).toContain(declared);
      expect(countJobs(db, "id = 'ad-hoc'")).toBe(1);
      outcomes.push(declared);
      expect(integrityCheck(db)).toBe("ok");
      const again = ok(await runCli(["--db", db, "sync", dir, "--json"], { env: home.env }));
      expect(JSON.parse(again).applied.create).toHaveLength(declared === 0 ? FILES : 0);
      expect(countJobs(db, "source IS NOT NULL")).toBe(FILES);
    }
    console.log(`sync kills left ${outcomes.join(", ")} declared jobs (full run ${full} ms)`);
  });
});
