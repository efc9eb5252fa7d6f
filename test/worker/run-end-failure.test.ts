/**
 * A run whose end the worker fails to read (here, its reaper refuses to forget the job's
 * group; in life, a log that cannot be closed on a full disk) still ran. Its attempt is
 * recorded as failed at once, with what went wrong, and the job is retried as any failed
 * attempt is: it is not left in `processing` for the lease to lapse, and never handed back
 * as a run that did not happen. On every backend, with a worker in process.
 */

import { afterEach, describe, expect, setDefaultTimeout, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { Reaper } from "../../src/worker/reaper.ts";
import { backends, withQueue } from "./in-process.ts";

setDefaultTimeout(60_000);

const forget = Reaper.prototype.forget;
afterEach(() => {
  Reaper.prototype.forget = forget;
});

for (const backend of backends) {
  describe(`a run whose end the worker fails to read (${backend.name})`, () => {
    test(
      "counts as a failed attempt, told why, and the job is retried",
      // A lease far longer than the test: only the worker's own record can end the attempt.
      withQueue(backend, { lease: "600", "poll-interval": "0.1", "backoff-base": "1" }, async (h, store) => {
        const pidFile = join(h.queue.home.home, "first.pid");
        let failed = false;
        Reaper.prototype.forget = function (this: Reaper, pgid: number) {
          const firstPid = existsSync(pidFile) ? Number(readFileSync(pidFile, "utf8")) : -1;
          if (pgid === firstPid && !failed) {
            failed = true;
            throw new Error("the reaper's journal is gone");
          }
          return forget.call(this, pgid);
        };
        const command = `[ -e ${pidFile} ] || echo $$ > ${pidFile}`;
        await h.enqueue(store, [{ id: "ran", command, max_retries: 1 }]);
        h.start(await h.open());
        expect(await h.settled(store, "ran", 30_000)).toBe("completed");
        expect(failed).toBe(true);
        const attempts = await store.attemptList({ jobId: "ran" });
        expect(attempts.map((attempt) => attempt.error)).toEqual([
          "the worker failed as the command ended: the reaper's journal is gone",
          null,
        ]);
      }),
    );
  });
}
