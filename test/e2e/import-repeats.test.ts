/**
 * What one input holds twice is said to be in the input twice, not in the store: a schedule
 * repeated in the lines of an export, or in an export repeated whole (`cat e.ndjson e.ndjson`;
 * exports may follow one another, each checked on its own). Exit 2 and nothing imported; with
 * --merge, which adds what the store lacks, the second copy is skipped. On both backends.
 */

import { afterEach, beforeEach, describe, expect, setDefaultTimeout, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { type CliResult, refused, runCli, succeeded, type TempHome, tempHome } from "../helpers/cli.ts";
import { privateSchema, testStores } from "../helpers/pg-schema.ts";

// Real processes on a busy two-core machine: generous, not the 5 s default.
setDefaultTimeout(60_000);

const PG_URL = process.env.QUEUECTL_TEST_PG_URL;

let home: TempHome;
beforeEach(() => {
  home = tempHome();
});
afterEach(() => home.cleanup());

const on = (db: string, args: string[]): Promise<CliResult> =>
  runCli(args, { env: { ...home.env, QUEUECTL_DB: db } });

/** An export of a store with one schedule and one job: 4 lines, the first and last its frame. */
async function exported(): Promise<string> {
  const source = join(home.home, "source.db");
  succeeded(await on(source, ["enqueue", '{"id":"s1","command":"x","schedule":"0 3 * * *"}']));
  succeeded(await on(source, ["enqueue", '{"id":"j1","command":"x"}']));
  return succeeded(await on(source, ["export"]));
}

for (const backend of testStores("import-repeats", "qc_repeats")) {
  describe(`import into ${backend.name}`, () => {
    let targets = 0;
    /** An empty store of its own per call: a schema, or a SQLite file in the home. */
    const newTarget = () =>
      backend.db && PG_URL ? privateSchema(PG_URL, "qc_repeats").url : join(home.home, `t${targets++}.db`);
    const nothingIn = async (target: string) => {
      expect(succeeded(await on(target, ["list", "--ids"]))).toBe("");
      expect(succeeded(await on(target, ["schedule", "list", "--json"]))).toBe("[]\n");
    };

    test("an export twice names its schedule as in the input twice, not as one the empty store holds", async () => {
      const file = join(home.home, "twice.ndjson");
      const text = await exported();
      writeFileSync(file, text.repeat(2));
      const refusedTarget = newTarget();
      refused(
        await on(refusedTarget, ["import", file]),
        'twice.ndjson:6: schedule id "s1" is in the input twice (first at line 2) — keep one line of each schedule; nothing was imported',
      );
      await nothingIn(refusedTarget);
      // --merge adds what the store lacks: the second copy is by then what it holds.
      expect(succeeded(await on(newTarget(), ["import", "--merge", file]))).toBe(
        "✓ Imported 1 job and 1 schedule; skipped 0 jobs and 1 schedule already in the store\n",
      );
      // Imported once, then again with --merge, it is what the store holds that is skipped.
      const target = newTarget();
      writeFileSync(file, text);
      expect(succeeded(await on(target, ["import", file]))).toBe("✓ Imported 1 job and 1 schedule\n");
      expect(succeeded(await on(target, ["import", "--merge", file]))).toBe(
        "✓ Imported 0 jobs; skipped 1 job and 1 schedule already in the store\n",
      );
    });

    test("a schedule twice in the lines is named with both lines, not blamed on an empty store", async () => {
      // Without the frame, as an export of release 1.0 or a hand-made file is.
      const lines = (await exported()).trimEnd().split("\n").slice(1, -1);
      const file = join(home.home, "repeated.ndjson");
      writeFileSync(file, `${[...lines, lines[0]].join("\n")}\n`);
      const target = newTarget();
      refused(
        await on(target, ["import", file]),
        'repeated.ndjson:3: schedule id "s1" is in the input twice (first at line 1) — keep one line of each schedule; nothing was imported',
      );
      await nothingIn(target);
    });

    test("--merge says a job whose id is an occurrence of the store's schedule was skipped as such", async () => {
      const target = newTarget();
      succeeded(await on(target, ["enqueue", '{"id":"s1","command":"x","schedule":"0 3 * * *"}']));
      const other = join(home.home, "other.db");
      succeeded(
        await on(other, ["enqueue", '{"id":"s1@2026-12-01T03:00:00.000Z","command":"echo impostor"}']),
      );
      succeeded(await on(other, ["enqueue", '{"id":"j1","command":"x"}']));
      const file = join(home.home, "other.ndjson");
      writeFileSync(file, succeeded(await on(other, ["export"])));
      expect(succeeded(await on(target, ["import", "--merge", file]))).toBe(
        "✓ Imported 1 job; skipped 1 job whose id is an occurrence of one of its schedules\n",
      );
      expect(succeeded(await on(target, ["list", "--ids"]))).toBe("j1\n");
    });
  });
}
