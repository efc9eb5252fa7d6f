/**
 * `queue pause|resume` of a name the store does not know is refused (exit 2, the nearest
 * known name as a hint) instead of creating a new paused queue while the one meant keeps
 * running; `queue set` still creates a queue before its first job. The REST API's switch
 * reads the same rule (src/store/queue-names.ts), so both accept and refuse the same names.
 * On both backends.
 */

import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { setQueuePaused } from "../../src/dashboard/actions.ts";
import type { Store } from "../../src/store/store.ts";
import { refused, runCli, runCliJson, succeeded, type TempHome, tempHome } from "../helpers/cli.ts";
import { testStores, withTestStore } from "../helpers/pg-schema.ts";

setDefaultTimeout(60_000);

interface QueueJson {
  name: string;
  paused: boolean;
  concurrency: number | null;
}

for (const backend of testStores("cli-queue-names", "qc_queue_names")) {
  describe(`queue names (${backend.name})`, () => {
    let home: TempHome;
    beforeAll(() => {
      home = tempHome(backend.db ? { QUEUECTL_DB: backend.db } : {});
    });
    afterAll(() => home?.cleanup());

    const cli = (...args: string[]) => runCli(args, { env: home.env });
    const queues = () => runCliJson<QueueJson[]>(["queue", "list"], { env: home.env });
    const withStore = <T>(work: (store: Store) => Promise<T>) => withTestStore(backend, home, work);

    test("a mistyped name is refused with the nearest queue and creates none; `queue set` still creates one", async () => {
      succeeded(await cli("enqueue", '{"id":"mail-1","command":"true","queue":"emails"}'));
      const before = await queues();
      for (const verb of ["pause", "resume"]) {
        const result = await cli("queue", verb, "emials");
        refused(result, 'no queue named "emials"');
        expect(result.stderr).toContain("did you mean `emails`?");
      }
      const far = await cli("queue", "pause", "xyzzy");
      refused(far, 'no queue named "xyzzy"');
      expect(far.stderr).toContain("queuectl queue set xyzzy --concurrency none");
      expect(await queues()).toEqual(before);
      expect(before.find((queue) => queue.name === "emails")?.paused).toBe(false);
      succeeded(await cli("queue", "pause", "emails"));
      expect((await queues()).find((queue) => queue.name === "emails")?.paused).toBe(true);
      // `queue set` still creates a queue before its first job, which can then be paused.
      succeeded(await cli("queue", "set", "batch", "--concurrency", "2"));
      succeeded(await cli("queue", "pause", "batch"));
      expect((await queues()).find((queue) => queue.name === "batch")).toMatchObject({
        paused: true,
        concurrency: 2,
      });
    });

    test("a concurrency limit above 1,000,000 is refused as typed, exit 2, on either store", async () => {
      for (const typed of ["2147483648", "9223372036854775808", "1000001", "0"]) {
        refused(
          await cli("queue", "set", "huge", "--concurrency", typed),
          `--concurrency must be a whole number from 1 to 1,000,000, or none, got "${typed}"`,
        );
      }
      succeeded(await cli("queue", "set", "huge", "--concurrency", "1000000"));
      expect((await queues()).find((queue) => queue.name === "huge")?.concurrency).toBe(1_000_000);
    });

    test("a queue only a worker or a schedule names is known to the CLI and to the REST API alike", async () => {
      await withStore((store) =>
        store.workerRegister({ id: "w-reports", host: "h", pid: 1, now: Date.now(), queues: ["reports"] }),
      );
      succeeded(
        await cli("enqueue", '{"id":"nightly","command":"true","schedule":"0 3 * * *","queue":"digest"}'),
      );
      succeeded(await cli("queue", "pause", "reports"));
      succeeded(await cli("queue", "resume", "digest"));
      await withStore(async (store) => {
        const answer = async (name: string, paused: boolean) => {
          const response = await setQueuePaused(store, name, paused);
          return { status: response.status, body: (await response.json()) as Record<string, unknown> };
        };
        expect(await answer("reports", false)).toEqual({
          status: 200,
          body: { queue: "reports", paused: false },
        });
        expect(await answer("digest", true)).toEqual({
          status: 200,
          body: { queue: "digest", paused: true },
        });
        const typo = await answer("reprots", true);
        expect(typo.status).toBe(404);
        expect(typo.body.hint).toContain('did you mean "reports"?');
        await store.workerRemove({ id: "w-reports" });
      });
      expect((await queues()).map((queue) => queue.name)).not.toContain("reprots");
    });
  });
}
