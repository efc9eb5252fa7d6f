/**
 * `queuectl watch` on PostgreSQL: a change is queued, the folder and its watcher show in
 * `status`, a second watcher on this host is refused and one on another host is not, in a
 * fresh schema that is dropped afterwards.
 */

import { afterAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { SQL } from "bun";
import { runCli, runCliJson, waitFor } from "../helpers/cli.ts";
import { type JobsFixture, jobsFixture, type LiveCli, startCli } from "../jobfiles/helpers.ts";

setDefaultTimeout(120_000);

const PG_URL = process.env.QUEUECTL_TEST_PG_URL;
if (!PG_URL) {
  console.warn("skipping the watcher on PostgreSQL: set QUEUECTL_TEST_PG_URL");
}

interface StatusFolders {
  folders: {
    folder: string;
    last_sync: { by: string; problems: number } | null;
    watchers: { host: string; alive: boolean }[];
  }[];
}

describe.skipIf(!PG_URL)("queuectl watch on PostgreSQL", () => {
  const schema = `qc_watch_${crypto.randomUUID().replaceAll("-", "").slice(0, 10)}`;
  const fixture: JobsFixture = jobsFixture();
  const env = {
    ...fixture.env,
    QUEUECTL_DB: `${PG_URL}${PG_URL?.includes("?") ? "&" : "?"}schema=${schema}`,
  };
  const live: LiveCli[] = [];

  afterAll(async () => {
    for (const child of live) await child.stop("SIGKILL");
    const admin = new SQL(PG_URL ?? "");
    await admin.unsafe(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await admin.close();
    fixture.cleanup();
  });

  test("queues a change, shows the folder and its watchers, refuses a second watcher on this host", async () => {
    fixture.write("bad.yaml", "command: echo bad\nmax_retry: 1\n");
    fixture.backdate("bad.yaml");
    const first = startCli(["watch", fixture.dir], env);
    live.push(first);
    await first.waitForLine((line) => line.includes("bad.yaml"), "the first watcher's initial sync");
    const elsewhere = startCli(["watch", fixture.dir], { ...env, QUEUECTL_HOST: "other-host" });
    live.push(elsewhere);
    await elsewhere.waitForLine((line) => line.includes("bad.yaml"), "the other host's initial sync");

    fixture.write("ok.yaml", "command: echo ok\n");
    await waitFor(
      async () => (await runCliJson<{ id: string }[]>(["list"], { env })).some((job) => job.id === "ok"),
      { what: "ok.yaml to be queued" },
    );
    const second = await runCli(["watch", fixture.dir], { env });
    expect(second.exitCode).toBe(2);
    expect(second.stderr).toContain(`is already watched on this host (pid ${first.proc.pid})`);

    const status = await runCliJson<StatusFolders>(["status"], { env });
    expect(status.folders).toHaveLength(1);
    expect(status.folders[0]).toMatchObject({ folder: fixture.dir, last_sync: { by: "watch", problems: 1 } });
    expect(
      status.folders[0]?.watchers.map((watcher) => [watcher.host === "other-host", watcher.alive]).sort(),
    ).toEqual([
      [false, true],
      [true, true],
    ]);
  });
});
