/**
 * `import` and the dependencies of jobs that have yet to run. A whole export may name a
 * dependency it does not hold (purged after it completed): that imports, counts as done,
 * and is named in a warning, since a file cut short looks the same. A cycle is refused.
 */

import { Database } from "bun:sqlite";
import { afterEach, beforeEach, expect, setDefaultTimeout, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { refused, runCli, succeeded, type TempHome, tempHome } from "../helpers/cli.ts";
import { record } from "../store/contract-transfer.ts";

setDefaultTimeout(60_000);

let home: TempHome;
beforeEach(() => {
  home = tempHome();
});
afterEach(() => home.cleanup());

const at = (db: string, args: string[]) =>
  runCli(args, { env: { ...home.env, QUEUECTL_DB: join(home.home, db) } });

test("an export whose waiting job's dependency was purged imports, with a warning naming both", async () => {
  succeeded(await at("a.db", ["enqueue", '{"id":"a","command":"true"}']));
  succeeded(await at("a.db", ["worker", "run", "--drain"]));
  succeeded(await at("a.db", ["add", "--id", "b", "--after", "a", "--delay", "1h", "--", "true"]));
  // A purge keeps a dependency while a job waits on it; one of an earlier release did not, and
  // an export from then still names a dependency it does not hold.
  const kept = JSON.parse(
    succeeded(await at("a.db", ["purge", "--older-than", "0s", "--dry-run", "--json"])),
  );
  expect(kept.purged).toEqual([]);
  const db = new Database(join(home.home, "a.db"));
  db.run("DELETE FROM attempts WHERE job_id = 'a'");
  db.run("DELETE FROM jobs WHERE id = 'a'");
  db.close();
  const exported = await at("a.db", ["export"]);
  const file = join(home.home, "backup.ndjson");
  writeFileSync(file, exported.stdout);
  const imported = await at("b.db", ["import", file]);
  expect(imported.exitCode).toBe(0);
  expect(imported.stderr).toBe(
    'warning: job "b" waits for "a", which is neither in the file nor in the queue: it counts as done (as after a purge); if the file was cut short, import the whole export\n',
  );
  expect(JSON.parse((await at("b.db", ["show", "b", "--json"])).stdout).state).toBe("pending");
});

test("jobs that wait for each other in a cycle are refused, and nothing is imported", async () => {
  const job = (id: string, after: string) =>
    JSON.stringify({ kind: "job", ...record(id, { spec: { id, command: "true", after: [after] } }) });
  const file = join(home.home, "cycle.ndjson");
  writeFileSync(file, `${job("x", "y")}\n${job("y", "x")}\n`);
  refused(await at("c.db", ["import", file]), "the dependencies form a cycle: x → y → x");
  expect((await at("c.db", ["list", "--ids"])).stdout).toBe("");
});
