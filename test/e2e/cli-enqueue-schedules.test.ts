/**
 * A file that holds schedules beside jobs, streamed in (NDJSON): the schedules' ids are
 * checked once the input has ended, while the write transaction is still open. On
 * PostgreSQL that check once waited for ever on the command's single pooled connection.
 */

import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { runCli, runCliJson, type TempHome, tempHome } from "../helpers/cli.ts";
import { testStores } from "../helpers/pg-schema.ts";

setDefaultTimeout(60_000);

/** Far above what three lines take; a hang fails here rather than at the test's timeout. */
const WITHIN_MS = 20_000;

function withinDeadline<T>(work: Promise<T>, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not finish within ${WITHIN_MS} ms`)), WITHIN_MS);
  });
  return Promise.race([work, deadline]).finally(() => clearTimeout(timer));
}

for (const backend of testStores("cli-enqueue-schedules", "qc_enqueue_sched")) {
  describe(`on ${backend.name}`, () => {
    let home: TempHome;
    beforeAll(() => {
      home = tempHome(backend.db ? { QUEUECTL_DB: backend.db } : {});
    });
    afterAll(() => home?.cleanup());

    test("an NDJSON file with a schedule line is stored whole and reported as jobs and a schedule", async () => {
      const file = join(home.home, "mixed.ndjson");
      writeFileSync(
        file,
        [
          '{"id":"a1","command":"true"}',
          '{"id":"tick","command":"true","schedule":"*/5 * * * *"}',
          '{"id":"b1","command":"true"}',
        ].join("\n"),
      );
      const result = await withinDeadline(runCli(["enqueue", "-f", file], { env: home.env }), "enqueue -f");
      expect([result.exitCode, result.stdout, result.stderr]).toEqual([
        0,
        "✓ Enqueued 2 jobs and 1 schedule\n",
        "",
      ]);
      const jobs = await runCliJson<{ id: string }[]>(["list"], { env: home.env });
      expect(jobs.map((job) => job.id).sort()).toEqual(["a1", "b1"]);
      const again = await withinDeadline(
        runCli(["enqueue", "-f", file], { env: home.env }),
        "a second enqueue -f",
      );
      expect(again.exitCode).toBe(2);
    });
  });
}
