/**
 * The commands that move a job between states (dlq retry, cancel, rerun) through the real
 * CLI: what they allow, and that a refusal is a one-line exit 2 that changes nothing.
 */

import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { refused, succeeded } from "../helpers/cli.ts";
import { cliHomePerTest } from "../helpers/cli-home.ts";
import { ids, type JobJson } from "../helpers/job-states.ts";

// CLI calls run in this process; the few that spawn one get time on a busy machine.
setDefaultTimeout(60_000);

const testHome = cliHomePerTest();
const { cli, json } = testHome;

describe("dlq", () => {
  test("list shows only dead jobs; retry <id> moves one back with attempts reset", async () => {
    await testHome.setup.everyState();
    expect(ids(await json<JobJson[]>("dlq", "list"))).toEqual(["d"]);
    const human = succeeded(await cli("dlq", "list"));
    expect(human).toContain("Found 1 job(s):");
    expect(human).toContain("ID: d\n");
    expect(succeeded(await cli("dlq", "retry", "d"))).toContain(
      "Job d moved back to pending (attempts reset)",
    );
    expect(ids(await json<JobJson[]>("list", "--state", "pending"))).toEqual(["d", "p"]);
    expect((await json<JobJson>("show", "d")).state).toBe("pending");
    expect((await json<JobJson[]>("list")).find((j) => j.id === "d")?.attempts).toBe(0);
    expect(succeeded(await cli("dlq", "list"))).toBe("The DLQ is empty.\n");
    expect(await json<JobJson[]>("dlq", "list")).toEqual([]);
  });

  test("retry --all empties the DLQ; retrying a job that is not dead is exit 2", async () => {
    for (const id of ["d1", "d2", "ok"]) await testHome.setup.enqueue({ id, command: "x", max_retries: 0 });
    await testHome.setup.run("d1", "dead");
    await testHome.setup.run("d2", "dead");
    await testHome.setup.run("ok", "completed");
    const before = await testHome.setup.snapshot();
    refused(
      await cli("dlq", "retry", "ok"),
      "not dead — only jobs in the DLQ (dead) can be retried; it has ended: `queuectl rerun <id>` runs it again",
    );
    expect(await testHome.setup.snapshot()).toEqual(before);
    expect(await json<{ retried: string[] }>("dlq", "retry", "--all")).toEqual({ retried: ["d1", "d2"] });
    expect(ids(await json<JobJson[]>("list", "--state", "pending"))).toEqual(["d1", "d2"]);
    expect(succeeded(await cli("dlq", "retry", "--all"))).toContain("0 job(s) moved");
  });
});

describe("cancel and rerun", () => {
  test("cancel: pending and failed jobs; running or finished ones are exit 2", async () => {
    await testHome.setup.everyState();
    succeeded(await cli("cancel", "p"));
    expect(await json<{ canceled: string }>("cancel", "f")).toEqual({ canceled: "f" });
    expect(ids(await json<JobJson[]>("list", "--state", "canceled"))).toEqual(["f", "p", "x"]);
    const before = await testHome.setup.snapshot();
    refused(await cli("cancel", "r"), 'job "r" is processing');
    refused(await cli("cancel", "c"), 'job "c" is completed');
    refused(await cli("cancel", "x"), 'job "x" is canceled');
    expect(await testHome.setup.snapshot()).toEqual(before);
  });

  test("rerun: completed, dead and canceled jobs run again with attempts reset", async () => {
    await testHome.setup.everyState();
    expect(succeeded(await cli("rerun", "c"))).toContain("Job c queued to run again");
    expect(await json<{ rerun: string }>("rerun", "d")).toEqual({ rerun: "d" });
    succeeded(await cli("rerun", "x"));
    const jobs = await json<JobJson[]>("list", "--state", "pending");
    expect(ids(jobs)).toEqual(["c", "d", "p", "x"]);
    expect(jobs.map((job) => job.attempts)).toEqual([0, 0, 0, 0]);
    const before = await testHome.setup.snapshot();
    refused(await cli("rerun", "p"), "not finished");
    // The hint says what does apply to a job that has not ended.
    refused(
      await cli("rerun", "r"),
      "not finished — only finished jobs (completed, dead or canceled) can be rerun; it has not ended: `queuectl wait <id>` waits for it, `queuectl kill <id>` stops it",
    );
    expect(await testHome.setup.snapshot()).toEqual(before);
  });
});
