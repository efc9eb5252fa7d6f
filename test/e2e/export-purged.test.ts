/**
 * What a store remembers of purged jobfile jobs travels with an export: imported into a new
 * store, a jobfile whose job was purged before the export comes back completed, not run again.
 * A `purged` line no export writes is refused whole, and an export written before such lines
 * existed (its last line counts none) still imports. On both backends.
 */

import { afterEach, beforeEach, describe, expect, setDefaultTimeout, test } from "bun:test";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openStore } from "../../src/store/open.ts";
import { SqliteStore } from "../../src/store/sqlite/backend.ts";
import type { Store } from "../../src/store/store.ts";
import { type CliResult, refused, runCli, succeeded, type TempHome, tempHome } from "../helpers/cli.ts";
import { privateSchema, testStores } from "../helpers/pg-schema.ts";

// Real processes on a busy two-core machine: generous, not the 5 s default.
setDefaultTimeout(60_000);

const PG_URL = process.env.QUEUECTL_TEST_PG_URL;

/** A jobfile job that completed, as an export of the release before `purged` lines wrote it. */
const OLD_JOB_LINE =
  '{"kind":"job","id":"built","spec":{"id":"built","command":"echo built"},"revision":"7722afbab92a4f5c","state":"completed","attempts":1,"max_retries":3,"created_at":1796219880770,"updated_at":1796219880928,"next_run_at":1796219880770,"started_at":1796219880913,"finished_at":1796219880928,"exit_code":0,"last_error":null,"source":"/srv/jobs/built.yaml","declared":true,"completed_revisions":["7722afbab92a4f5c"],"canceled_by":null,"schedule_id":null,"attempt_history":[]}';

let home: TempHome;
let folder: string;
beforeEach(() => {
  home = tempHome();
  folder = mkdtempSync(join(tmpdir(), "queuectl-purged-"));
});
afterEach(() => {
  home.cleanup();
  rmSync(folder, { recursive: true, force: true });
});

const on = (db: string, args: string[], stdin?: string): Promise<CliResult> =>
  runCli(args, { env: { ...home.env, QUEUECTL_DB: db }, stdin });

/** Exit 0; a worker and a sync may write their log to stderr. */
function ok(result: CliResult): string {
  if (result.exitCode !== 0) throw new Error(`exit ${result.exitCode}: ${result.stderr}`);
  return result.stdout;
}

async function read<T>(db: string, work: (store: Store) => Promise<T>): Promise<T> {
  const store = await openStore({ url: db });
  try {
    return await work(store);
  } finally {
    await store.close();
  }
}

for (const backend of testStores("export-purged", "qc_purged")) {
  describe(`purged jobs' completed revisions through export and import on ${backend.name}`, () => {
    // A store of its own per use: what an import leaves behind, or does not, is the point.
    const schemas =
      backend.db && PG_URL
        ? [backend.db, ...Array.from({ length: 3 }, () => privateSchema(PG_URL, "qc_purged").url)]
        : [];
    let made = 0;
    const newStore = async () => {
      const index = made++;
      const schema = schemas[index];
      if (schema !== undefined) {
        await (await openStore({ url: schema })).close();
        return schema;
      }
      const path = join(home.home, `store-${index}.db`);
      await new SqliteStore(path).close();
      return path;
    };

    test("a jobfile whose completed job was purged before the export is not run again after import", async () => {
      const source = await newStore();
      const jobs = join(folder, "jobs");
      mkdirSync(jobs);
      const log = join(folder, "ran.log");
      const declare = (id: string) =>
        writeFileSync(join(jobs, `${id}.yaml`), `command: echo ${id} >> ${log}\n`);
      declare("a");
      declare("kept");
      ok(await on(source, ["sync", jobs]));
      ok(await on(source, ["worker", "run", "--drain"]));
      rmSync(join(jobs, "a.yaml"));
      ok(await on(source, ["sync", jobs]));
      expect(ok(await on(source, ["purge", "--older-than", "0s"]))).toContain("purged 1 job");

      const exported = succeeded(await on(source, ["export"]));
      const lines = exported
        .trimEnd()
        .split("\n")
        .map((line) => JSON.parse(line));
      expect(lines.filter((line) => line.kind === "purged")).toEqual([
        {
          kind: "purged",
          id: "a",
          revisions: [{ revision: expect.any(String), completed_at: expect.any(Number) }],
        },
      ]);
      expect(lines.at(-1)).toMatchObject({ kind: "end", jobs: 1, purged: 1 });
      // Settings and this memory belong to the whole queue, not to the jobs of one state.
      expect(succeeded(await on(source, ["export", "--state", "completed"]))).not.toContain(
        '"kind":"purged"',
      );

      const target = await newStore();
      expect(succeeded(await on(target, ["import"], exported))).toBe("✓ Imported 1 job\n");
      declare("a");
      const plan = ok(await on(target, ["sync", jobs]));
      expect(plan).toContain("its purged row comes back, not re-run");
      expect(plan).not.toMatch(/\+ a\s+create/);
      ok(await on(target, ["worker", "run", "--drain"]));
      expect(readFileSync(log, "utf8").split("\n").filter(Boolean).sort()).toEqual(["a", "kept"]);
      // Imported again with --merge: the memory it has already neither doubles nor refuses.
      expect(succeeded(await on(target, ["import", "--merge"], exported))).toBe(
        "✓ Imported 0 jobs; skipped 1 job already in the store\n",
      );
    });

    test("a purged line no export writes is refused in one line, and nothing is imported", async () => {
      const target = await newStore();
      const good = '{"kind":"purged","id":"a","revisions":[{"revision":"r1","completed_at":1700000000000}]}';
      const framed = (line: string) =>
        [
          '{"kind":"export","format":2}',
          '{"kind":"config","key":"max-retries","value":"5"}',
          good,
          line,
          '{"kind":"end","jobs":0,"attempts":0,"schedules":0,"queues":0,"config":1,"purged":2}',
        ].join("\n");
      const bad: [line: string, error: string][] = [
        [
          '{"kind":"purged","id":"b","revisions":[{"revision":"r1","completed_at":"yesterday"}]}',
          "stdin:4: revisions[0]: `completed_at` must be a whole number or null",
        ],
        ['{"kind":"purged","id":"b","revisions":[]}', "stdin:4: `revisions` must be a list of at least one"],
        ['{"kind":"purged","id":"b","revisions":["r1"]}', "stdin:4: revisions[0] is not an object"],
        [
          '{"kind":"purged","id":"b","revisions":[{"revision":"","completed_at":null}]}',
          "stdin:4: revisions[0]: `revision` must not be empty",
        ],
        [
          '{"kind":"purged","id":"b","revisions":[{"revison":"r1","completed_at":null}]}',
          "stdin:4: revisions[0]: `revison` is not a field of a completed revision",
        ],
        [
          '{"kind":"purged","id":7,"revisions":[{"revision":"r1","completed_at":null}]}',
          "stdin:4: `id` must be a string",
        ],
        ['{"kind":"purged","id":"b"}', "stdin:4: `revisions` is missing"],
      ];
      for (const [line, error] of bad) refused(await on(target, ["import"], framed(line)), error);
      expect(
        await read(target, async (store) => [await store.configGetAll(), await store.purgedRevisionList()]),
      ).toEqual([{}, []]);
      // The same file with a well-formed second line imports whole.
      const second = '{"kind":"purged","id":"b","revisions":[{"revision":"r2","completed_at":null}]}';
      succeeded(await on(target, ["import"], framed(second)));
      expect(await read(target, (store) => store.purgedRevisionList())).toEqual([
        { id: "a", revision: "r1", at: 1700000000000 },
        { id: "b", revision: "r2", at: null },
      ]);
    });

    test("an export whose last line counts no purged jobs (an older release's) imports; a count its lines miss is refused", async () => {
      const target = await newStore();
      const older = [
        '{"kind":"export","format":2}',
        '{"kind":"config","key":"max-retries","value":"5"}',
        OLD_JOB_LINE,
        '{"kind":"end","jobs":1,"attempts":0,"schedules":0,"queues":0,"config":1}',
      ];
      const counted = (purged: number) =>
        [
          ...older.slice(0, -1),
          `{"kind":"end","jobs":1,"attempts":0,"schedules":0,"queues":0,"config":1,"purged":${purged}}`,
        ].join("\n");
      refused(
        await on(target, ["import"], counted(1)),
        "stdin:4: the export says it holds 1 purged job, but lines 1–4 hold 0 purged jobs",
      );
      refused(
        await on(target, ["import"], counted(-1)),
        "stdin:4: `purged` must be a whole number of at least 0",
      );
      expect(await read(target, (store) => store.jobCounts())).toMatchObject({ total: 0 });
      expect(succeeded(await on(target, ["import"], older.join("\n")))).toBe("✓ Imported 1 job\n");
      expect(await read(target, (store) => store.completedRevisionList({ ids: ["built"] }))).toEqual([
        { id: "built", revision: "7722afbab92a4f5c", at: null },
      ]);
    });
  });
}
