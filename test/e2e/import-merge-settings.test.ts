/**
 * `import --merge` adds jobs and schedules to a store that has its own, and keeps the target's
 * config and queue settings exactly as they were: values it set, the defaults of keys it never
 * set, and queues it has no settings for. `--json` counts only what was written. Both backends.
 */

import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { join } from "node:path";
import { runCli, succeeded, type TempHome, tempHome } from "../helpers/cli.ts";
import { testStores } from "../helpers/pg-schema.ts";

// Real processes on a busy two-core machine: generous, not the 5 s default.
setDefaultTimeout(60_000);

let home: TempHome;
beforeAll(() => {
  home = tempHome();
});
afterAll(() => home.cleanup());

const on = (db: string, ...args: string[]) => runCli(args, { env: { ...home.env, QUEUECTL_DB: db } });

let exported: Promise<string> | undefined;

/** The source of the tester's report: max-retries 1, a paused queue "reports", three jobs. */
function exportOfSource(): Promise<string> {
  exported ??= writeExportOfSource();
  return exported;
}

async function writeExportOfSource(): Promise<string> {
  const source = join(home.home, "source.db");
  succeeded(await on(source, "config", "set", "max-retries", "1"));
  succeeded(await on(source, "queue", "set", "reports", "--concurrency", "none"));
  succeeded(await on(source, "queue", "pause", "reports"));
  for (const id of ["r1", "r2"])
    succeeded(await on(source, "enqueue", JSON.stringify({ id, command: "true", queue: "reports" })));
  succeeded(await on(source, "enqueue", '{"id":"e1","command":"true","queue":"emails"}'));
  const path = join(home.home, "exp1.ndjson");
  await Bun.write(path, succeeded(await on(source, "export")));
  return path;
}

/** The settings a worker of `db` goes by: its effective config, and each queue's limit and switch. */
async function settingsOf(db: string) {
  const config = JSON.parse(succeeded(await on(db, "config", "get", "--json")));
  const queues = JSON.parse(succeeded(await on(db, "queue", "list", "--json"))) as {
    name: string;
    concurrency: number | null;
    paused: boolean;
  }[];
  return { config, queues: queues.map(({ name, concurrency, paused }) => ({ name, concurrency, paused })) };
}

for (const backend of testStores("import-merge-settings", "qc_merge_settings")) {
  describe(`on ${backend.name}`, () => {
    test("--merge keeps the target's config, defaults included, and its queue settings; --json counts what was written", async () => {
      const exp1 = await exportOfSource();
      const target = backend.db ?? join(home.home, "target.db");
      succeeded(await on(target, "config", "set", "lease", "40s"));
      succeeded(await on(target, "queue", "set", "emails", "--concurrency", "7"));
      succeeded(await on(target, "enqueue", '{"id":"mine","command":"true"}'));
      const before = await settingsOf(target);
      expect(before.config["max-retries"]).toBe(3);

      const merged = JSON.parse(succeeded(await on(target, "import", "--merge", "--json", exp1)));
      expect(merged).toEqual({
        imported: 3,
        jobs: 3,
        schedules: 0,
        queues: 0,
        config: 0,
        skipped: { jobs: 0, schedules: 0, occurrences: 0 },
      });
      const after = await settingsOf(target);
      expect(after.config).toEqual(before.config);
      // The imported jobs bring their queue's name, never its settings.
      expect(after.queues).toEqual([
        { name: "default", concurrency: null, paused: false },
        { name: "emails", concurrency: 7, paused: false },
        { name: "reports", concurrency: null, paused: false },
      ]);
      const again = JSON.parse(succeeded(await on(target, "import", "--merge", "--json", exp1)));
      expect(again).toMatchObject({ imported: 0, queues: 0, config: 0, skipped: { jobs: 3 } });
      expect(await settingsOf(target)).toEqual(after);

      // Without --merge the export's settings are written, and counted.
      const fresh = join(home.home, `fresh-${backend.name}.db`);
      const plain = JSON.parse(succeeded(await on(fresh, "import", "--json", exp1)));
      expect(plain).toMatchObject({ imported: 3, queues: 1, config: 1 });
      const written = await settingsOf(fresh);
      expect(written.config["max-retries"]).toBe(1);
      expect(written.queues.find((queue) => queue.name === "reports")?.paused).toBe(true);
    });
  });
}
