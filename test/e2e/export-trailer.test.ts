/**
 * A backup cut between two lines is still whole lines, so `export` frames its lines with a first
 * line (the format) and a last one (the counts), and `import` refuses a frame that is open or
 * miscounted: exit 2, nothing imported, on both backends. Exports of earlier releases have no
 * frame, nor have `purge --archive` files: they import as before.
 */

import { afterEach, beforeEach, describe, expect, setDefaultTimeout, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { openStore } from "../../src/store/open.ts";
import { SqliteStore } from "../../src/store/sqlite/backend.ts";
import { type CliResult, refused, runCli, succeeded, type TempHome, tempHome } from "../helpers/cli.ts";
import { privateSchema, testStores } from "../helpers/pg-schema.ts";

// Real processes on a busy two-core machine: generous, not the 5 s default.
setDefaultTimeout(60_000);

const PG_URL = process.env.QUEUECTL_TEST_PG_URL;

/** What `queuectl export` of release 1.0.0 wrote (format 1): no first line, no last line. */
const RELEASE_1_0_EXPORT = `{"kind":"config","key":"max-retries","value":"4"}
{"kind":"queue","name":"emails","concurrency":2,"paused":false}
{"kind":"schedule","id":"nightly","spec":{"id":"nightly","command":"echo n","schedule":"0 3 * * *"},"revision":"453161edb65a2e47","source":null,"next_at":1796266800000,"last_at":null,"created_at":1796219881128,"updated_at":1796219881128}
{"kind":"job","id":"built","spec":{"id":"built","command":"echo built","tags":["ci"]},"revision":"7722afbab92a4f5c","state":"completed","attempts":1,"max_retries":3,"created_at":1796219880770,"updated_at":1796219880928,"next_run_at":1796219880770,"started_at":1796219880913,"finished_at":1796219880928,"exit_code":0,"last_error":null,"source":null,"declared":false,"completed_revisions":[],"canceled_by":null,"schedule_id":null,"attempt_history":[{"attempt":1,"token":1,"worker_id":"vm-19811-9c81fa","host":"vm","started_at":1796219880913,"finished_at":1796219880928,"exit_code":0,"signal":null,"error":null,"stdout_bytes":6,"stderr_bytes":0,"log_path":"logs/586a866f990ab55e36decfffc2011f17-1","output_tail":"built\\n","revision":"7722afbab92a4f5c"}]}
{"kind":"job","id":"deploy","spec":{"id":"deploy","command":["./deploy.sh","--prod"],"priority":2,"queue":"emails","after":["built"]},"revision":"d07d8af25e5aef86","state":"pending","attempts":0,"max_retries":3,"created_at":1796219881042,"updated_at":1796219881042,"next_run_at":1796219881042,"started_at":null,"finished_at":null,"exit_code":null,"last_error":null,"source":null,"declared":false,"completed_revisions":[],"canceled_by":null,"schedule_id":null,"attempt_history":[]}
`;

let home: TempHome;
beforeEach(() => {
  home = tempHome();
});
afterEach(() => home.cleanup());

const on = (db: string, args: string[], stdin?: string): Promise<CliResult> =>
  runCli(args, { env: { ...home.env, QUEUECTL_DB: db }, stdin });

/** A source store with a finished job (one attempt), pending ones, a config value, a queue limit and a schedule. */
async function seedSource(db: string, ids = ["p1", "p2", "p3"]): Promise<string> {
  succeeded(await on(db, ["enqueue", '{"id":"done","command":"echo done"}']));
  succeeded(await on(db, ["worker", "run", "--drain"]));
  for (const id of ids) succeeded(await on(db, ["enqueue", JSON.stringify({ id, command: `echo ${id}` })]));
  succeeded(await on(db, ["enqueue", '{"id":"nightly","command":"echo n","schedule":"0 3 * * *"}']));
  succeeded(await on(db, ["config", "set", "max-retries", "4"]));
  succeeded(await on(db, ["queue", "set", "emails", "--concurrency", "2"]));
  return succeeded(await on(db, ["export"]));
}

const ids = async (db: string) =>
  succeeded(await on(db, ["list", "--ids"]))
    .split("\n")
    .filter(Boolean);

for (const backend of testStores("export-trailer", "qc_trailer")) {
  describe(`import into ${backend.name}`, () => {
    // A target of its own per test: what a refused import leaves behind is the point.
    const schemas =
      backend.db && PG_URL
        ? [backend.db, ...Array.from({ length: 3 }, () => privateSchema(PG_URL, "qc_trailer").url)]
        : [];
    let targets = 0;
    /** A new, empty store: a schema, or a SQLite file made here (read commands refuse a missing one). */
    const newTarget = async () => {
      const index = targets++;
      const schema = schemas[index];
      if (schema !== undefined) {
        await (await openStore({ url: schema })).close();
        return schema;
      }
      const path = join(home.home, `target-${index}.db`);
      await new SqliteStore(path).close();
      return path;
    };

    test("an export cut between any two lines is refused whole, naming the cut; the whole one imports", async () => {
      const exported = await seedSource(join(home.home, "source.db"));
      const lines = exported.trimEnd().split("\n");
      expect(lines).toHaveLength(9);
      expect(JSON.parse(lines[8] ?? "")).toEqual({
        kind: "end",
        jobs: 4,
        attempts: 1,
        schedules: 1,
        queues: 1,
        config: 1,
      });
      const target = await newTarget();
      const config = succeeded(await on(target, ["config", "get", "--json"]));
      const cut = join(home.home, "cut.ndjson");
      for (let kept = 1; kept < lines.length; kept++) {
        writeFileSync(cut, `${lines.slice(0, kept).join("\n")}\n`);
        refused(
          await on(target, ["import", cut]),
          `cut.ndjson ends at line ${kept} without the last line of the export that starts at line 1: the file was cut off — export it again from the source store; to restore only what this copy holds, delete its first line and import it again`,
        );
      }
      expect(await ids(target)).toEqual([]);
      expect(succeeded(await on(target, ["schedule", "list", "--json"]))).toBe("[]\n");
      expect(succeeded(await on(target, ["config", "get", "--json"]))).toBe(config);
      expect(succeeded(await on(target, ["import"], exported))).toBe("✓ Imported 4 jobs and 1 schedule\n");
    });

    test("a line lost from the middle, or one too many, is refused with what the last line counts", async () => {
      const lines = (await seedSource(join(home.home, "source.db"))).trimEnd().split("\n");
      const target = await newTarget();
      const without = (index: number) => lines.filter((_, i) => i !== index).join("\n");
      refused(
        await on(target, ["import"], without(5)),
        "stdin:8: the export says it holds 4 jobs, but lines 1–8 hold 3 jobs: lines were lost or added — export it again from the source store; to restore only what this copy holds, delete lines 1 and 8",
      );
      refused(
        await on(target, ["import"], without(1)),
        "says it holds 1 config value, but lines 1–8 hold 0 config values",
      );
      refused(
        await on(target, ["import"], without(4)),
        "says it holds 4 jobs, 1 attempt, but lines 1–8 hold 3 jobs, 0 attempts",
      );
      const twice = [...lines.slice(0, 6), lines[5], ...lines.slice(6)].join("\n");
      refused(
        await on(target, ["import", "--merge"], twice),
        "says it holds 4 jobs, but lines 1–10 hold 5 jobs",
      );
      expect(await ids(target)).toEqual([]);
      // As the hint says: without its first and last lines, what is left imports as format 1.
      const unframed = without(5).split("\n").slice(1, -1).join("\n");
      expect(succeeded(await on(target, ["import"], unframed))).toBe("✓ Imported 3 jobs and 1 schedule\n");
    });

    test("a cut after thousands of jobs went into the store's transaction still imports nothing", async () => {
      const source = join(home.home, "source.db");
      const many = join(home.home, "many.ndjson");
      const jobs = Array.from({ length: 6000 }, (_, i) =>
        JSON.stringify({ id: `job-${i}`, command: "true" }),
      );
      writeFileSync(many, jobs.join("\n"));
      succeeded(await on(source, ["enqueue", "-f", many]));
      const lines = succeeded(await on(source, ["export"]))
        .trimEnd()
        .split("\n");
      const target = await newTarget();
      // Past the first batch of 5,000 jobs, which the store has written by the time the cut shows.
      refused(await on(target, ["import"], lines.slice(0, 5500).join("\n")), "stdin ends at line 5500");
      expect(await ids(target)).toEqual([]);
    });

    test("a cut export is told from one of release 1.0 (no first or last line) or a purge's archive, which import", async () => {
      const target = await newTarget();
      const source = join(home.home, "source.db");
      const framed = (await seedSource(source)).split("\n");
      refused(await on(target, ["import"], framed.slice(0, 6).join("\n")), "stdin ends at line 6");
      const old = join(home.home, "old.ndjson");
      writeFileSync(old, RELEASE_1_0_EXPORT);
      expect(succeeded(await on(target, ["import", old]))).toBe("✓ Imported 2 jobs and 1 schedule\n");
      expect(JSON.parse(succeeded(await on(target, ["show", "built", "--json"])))).toMatchObject({
        state: "completed",
        attempts: [{ exit_code: 0, host: "vm", stdout_bytes: 6 }],
      });

      const archive = join(home.home, "archive.ndjson");
      succeeded(await on(source, ["purge", "--older-than", "0s", "--archive", archive]));
      expect(succeeded(await on(target, ["import", "--merge", archive]))).toBe(
        "✓ Imported 1 job; skipped 0 jobs already in the store\n",
      );
      expect((await ids(target)).sort()).toEqual(["built", "deploy", "done"]);
      // An archive appended to twice holds a job twice: named so, not as one the store has.
      writeFileSync(archive, `${RELEASE_1_0_EXPORT.trim().split("\n").at(-1)}\n`.repeat(2));
      refused(
        await on(join(home.home, "twice.db"), ["import", archive]),
        'job id "deploy" is in the input twice',
      );
    });
  });
}

describe("the frame", () => {
  test("exports one after another import as one, each checked; show --archive reads a framed export", async () => {
    const first = await seedSource(join(home.home, "a.db"), ["jobs", "end"]);
    const second = await seedSource(join(home.home, "b.db"), ["b1"]);
    const both = `${first}${second.replaceAll('"id":"done"', '"id":"done-b"').replaceAll("nightly", "nightly-b")}`;
    expect(succeeded(await on(join(home.home, "c.db"), ["import"], both))).toBe(
      "✓ Imported 5 jobs and 2 schedules\n",
    );
    const cutFirst = `${first.split("\n").slice(0, 4).join("\n")}\n${second}`;
    refused(
      await on(join(home.home, "d.db"), ["import"], cutFirst),
      "stdin:5: an export starts before the one from line 1 ended, so that one was cut off",
    );
    // The last line holds the words "jobs" and "end", which show --archive looks for first.
    const file = join(home.home, "a.ndjson");
    writeFileSync(file, first);
    for (const id of ["jobs", "end"]) {
      const shown = JSON.parse(
        succeeded(await on(join(home.home, "a.db"), ["show", "--archive", file, id, "--json"])),
      );
      expect(shown.id).toBe(id);
    }
  });

  test("a later format, and a last line without a first, are refused", async () => {
    const db = join(home.home, "t.db");
    refused(
      await on(
        db,
        ["import"],
        '{"kind":"export","format":3}\n{"kind":"end","jobs":0,"attempts":0,"schedules":0,"queues":0,"config":0}\n',
      ),
      "stdin:1: written by a later queuectl (export format 3; this one reads up to 2) — import it with that release or a newer one",
    );
    refused(
      await on(
        db,
        ["import"],
        `${RELEASE_1_0_EXPORT}{"kind":"end","jobs":2,"attempts":1,"schedules":1,"queues":1,"config":1}\n`,
      ),
      "stdin:6: the last line of an export, but no export started",
    );
    refused(
      await on(db, ["import"], '{"kind":"end","jobs":-1,"attempts":0,"schedules":0,"queues":0,"config":0}\n'),
      "`jobs` must be a whole number of at least 0",
    );
    expect(await ids(db)).toEqual([]);
  });
});
