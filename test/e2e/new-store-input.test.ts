/**
 * A command that would make a new queue (a file at a path the user named with `--db`, or a
 * PostgreSQL schema with no queue) checks its input first: input it refuses leaves no empty
 * queue behind, which `status` at that maybe mistyped place would show as if it were real.
 */

import { afterEach, beforeEach, describe, expect, setDefaultTimeout, test } from "bun:test";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { SQL } from "bun";
import { runCli, runCliJson, type TempHome, tempHome } from "../helpers/cli.ts";
import { ok } from "../worker/helpers.ts";

// Real processes on a busy two-core machine: generous, not the 5 s default.
setDefaultTimeout(60_000);

let home: TempHome;
beforeEach(() => {
  home = tempHome();
});
afterEach(() => home.cleanup());

const cli = (args: string[]) => runCli(args, { env: home.env });

/** Every input here is refused; `made` tells whether the store came to exist anyway. */
async function refusedFirst(db: string, made: () => Promise<boolean>): Promise<void> {
  const empty = join(home.home, "empty.ndjson");
  writeFileSync(empty, "\n\n");
  // The likeliest mix-up: an enqueue file given to import.
  const jobLines = join(home.home, "jobs.ndjson");
  writeFileSync(jobLines, '{"id":"a","command":"x"}\n');
  for (const [command, stdin] of [
    [["enqueue", '{"comand":"x"}']],
    [["enqueue", "[]"]],
    [["enqueue", '{"jobs":[]}']],
    [["enqueue", '{"id":"a","command":"x","max_retries":-1}']],
    [["enqueue", "-f", "-", "--format", "yaml"], "id: a\ncommand: x\nretries: 2\n"],
    [["add", "--retries", "x", "--", "true"]],
    [["add", "--env", "1A=x", "--", "true"]],
    [["sync", join(home.home, "missing")]],
    [["watch", join(home.home, "missing")]],
    [["import", join(home.home, "missing.ndjson")]],
    [["import", empty]],
    [["import", jobLines]],
    [["import", "-"], ""],
  ] as [string[], string?][]) {
    const result = await runCli(["--db", db, ...command], { env: home.env, stdin });
    expect([command, result.exitCode]).toEqual([command, 2]);
    expect(result.stderr.trimEnd().split("\n")).toHaveLength(1);
    expect([command, await made()]).toEqual([command, false]);
  }
  // Good input makes it, and then the same input is checked against the store's own settings.
  ok(await cli(["--db", db, "add", "--id", "a", "--", "true"]));
  expect((await cli(["--db", db, "add", "--retries", "x", "--", "true"])).exitCode).toBe(2);
  expect(await runCliJson<unknown[]>(["--db", db, "list"], { env: home.env })).toHaveLength(1);
}

describe("a new queue", () => {
  test("at a named file: bad input is refused first, exit 2, no file made", async () => {
    const typo = join(home.home, "jobz.db");
    await refusedFirst(typo, async () => existsSync(typo));
  });

  const pgUrl = process.env.QUEUECTL_TEST_PG_URL;
  test.skipIf(!pgUrl)(
    "in a PostgreSQL schema: bad input is refused first, exit 2, no schema made",
    async () => {
      const schema = `qc_new_${crypto.randomUUID().replaceAll("-", "").slice(0, 10)}`;
      const admin = new SQL(pgUrl as string, { max: 1 });
      try {
        const made = async () =>
          (await admin`SELECT 1 FROM pg_namespace WHERE nspname = ${schema}`).length > 0;
        await refusedFirst(`${pgUrl}${pgUrl?.includes("?") ? "&" : "?"}schema=${schema}`, made);
      } finally {
        await admin.unsafe(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
        await admin.close();
      }
    },
  );

  test("good input read twice to make a new queue (checked, then applied) arrives whole", async () => {
    ok(await cli(["add", "--id", "a", "--", "true"]));
    ok(await cli(["add", "--id", "b", "--after", "a", "--", "true"]));
    const exported = ok(await cli(["export"]));
    const ids = async (db: string) =>
      (await runCliJson<{ id: string }[]>(["--db", db, "list"], { env: home.env })).map((job) => job.id);
    const piped = join(home.home, "piped.db");
    ok(await runCli(["--db", piped, "import", "-"], { env: home.env, stdin: exported }));
    expect(await ids(piped)).toEqual(["a", "b"]);
    const json = join(home.home, "jobs.json");
    writeFileSync(
      json,
      JSON.stringify([
        { id: "x", command: "true" },
        { id: "y", command: "true" },
      ]),
    );
    const enqueued = join(home.home, "enqueued.db");
    ok(await cli(["--db", enqueued, "enqueue", "-f", json]));
    expect(await ids(enqueued)).toEqual(["x", "y"]);
    const folder = join(home.home, "declared");
    mkdirSync(folder);
    writeFileSync(join(folder, "j.yaml"), "id: j\ncommand: 'true'\n");
    const synced = join(home.home, "synced.db");
    ok(await cli(["--db", synced, "sync", folder]));
    expect(await ids(synced)).toEqual(["j"]);
  });
});
