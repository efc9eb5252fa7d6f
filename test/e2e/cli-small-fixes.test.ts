/**
 * Everyday commands where they used to say or do the wrong thing: `kill --retry` of a job
 * that is not running, `list --tag`/`--queue` with several values (and GET /api/jobs, which
 * filters like `list`), `logs` of a job that ended without running, `dlq retry <id> --all`,
 * the config's JSON values, the worker count of `status`, a schedule's id where a job's is wanted,
 * and empty option values and list items. On both
 * backends where the store takes part; jobs are put in place through the store.
 */

import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { join } from "node:path";
import { killJob } from "../../src/dashboard/actions.ts";
import { jobs as apiJobs } from "../../src/dashboard/job-list.ts";
import { openStore } from "../../src/store/open.ts";
import type { Store } from "../../src/store/store.ts";
import { OK } from "../flow/helpers.ts";
import { refused, runCli, runCliJson, succeeded, type TempHome, tempHome } from "../helpers/cli.ts";
import { enqueueSpecs } from "../helpers/enqueue.ts";
import { testStores, withTestStore } from "../helpers/pg-schema.ts";
import { runToEnd } from "../store/contract-jobfiles.ts";

setDefaultTimeout(60_000);

const exited = (exitCode: number) => ({ ...OK, exitCode, error: `exited with code ${exitCode}` });

for (const backend of testStores("cli-small-fixes", "qc_small_fixes")) {
  describe(`on ${backend.name}`, () => {
    let home: TempHome;
    beforeAll(() => {
      home = tempHome(backend.db ? { QUEUECTL_DB: backend.db } : {});
    });
    afterAll(() => home?.cleanup());

    const cli = (...args: string[]) => runCli(args, { env: home.env });
    const withStore = <T>(work: (store: Store) => Promise<T>) => withTestStore(backend, home, work);
    const getJob = (id: string) => withStore((store) => store.jobGet({ id }));
    /** Claims `id` (queued first in line) as a worker would, and leaves it running or fails it once. */
    const start = (id: string, then: "running" | "failed") =>
      withStore(async (store) => {
        await enqueueSpecs(store, [{ id, command: "exit 1", max_retries: 3, priority: 1000 }]);
        const now = Date.now();
        const job = await store.jobClaim({ workerId: "gone-worker", host: "h", now, leaseMs: 600_000 });
        expect(job?.id).toBe(id);
        if (then === "failed" && job) {
          const failed = { id, token: job.token, now, state: "failed" as const, nextRunAt: now + 3_600_000 };
          await store.jobFail({ ...failed, result: exited(1) });
        }
      });

    test("an error about many ids names the first ten and counts the rest", async () => {
      const unknown = Array.from({ length: 25 }, (_, i) => `nowhere-${i}`);
      refused(
        await cli("kill", ...unknown),
        'no job with id "nowhere-0", "nowhere-1", "nowhere-2", "nowhere-3", "nowhere-4", "nowhere-5", "nowhere-6", "nowhere-7", "nowhere-8", "nowhere-9" and 15 more; nothing was killed',
      );
      refused(
        await cli("cancel", ...unknown),
        "`nowhere-10` and 14 more — it takes one job id: run it once per id (`queuectl kill ID…` takes several); see `queuectl cancel --help`",
      );
    });

    test("a schedule's id given where a job's is wanted says it is a schedule and how to stop it", async () => {
      succeeded(await cli("enqueue", '{"id":"nightly-sched","command":"true","schedule":"0 3 * * *"}'));
      const hint = '"nightly-sched" is a schedule: its runs are jobs named nightly-sched@<time>';
      for (const command of [["cancel"], ["kill"], ["rerun"], ["logs"], ["wait"], ["dlq", "retry"]]) {
        refused(await cli(...command, "nightly-sched"), hint);
      }
      refused(await cli("cancel", "no-such-job"), "see `queuectl list` for the ids in the queue");
    });

    test("an id that reads as a number, after a flag, is the id as typed", async () => {
      await withStore((store) => enqueueSpecs(store, [{ id: "007", command: "true", delay: "1h" }]));
      for (const flags of [
        ["show", "--json"],
        ["wait", "--json", "--timeout", "1ms"],
        ["kill", "--json"],
      ]) {
        const result = await cli(...flags, "007");
        const said = result.stdout + result.stderr;
        expect(said).not.toContain('"7"');
        expect(said).toContain("007");
      }
    });

    test("kill --retry refuses a job that is not running, on the CLI and the API, and changes nothing", async () => {
      await start("kf", "failed");
      await start("kr", "running");
      await withStore((store) => enqueueSpecs(store, [{ id: "kp", command: "true", delay: "1h" }]));
      const before = await Promise.all(["kf", "kr", "kp"].map(getJob));
      refused(
        await cli("kill", "kf", "--retry"),
        'job "kf" is failed, not running: --retry only stops a running attempt; nothing was killed — leave it to wait for its next attempt, or drop --retry to cancel it',
      );
      // All or nothing: the running one is not killed either.
      refused(await cli("kill", "kr", "kp", "--retry"), '"kp" is pending, not running');
      const answer = await withStore((store) => killJob(store, "kf", Date.now(), true));
      expect(answer.status).toBe(409);
      expect(((await answer.json()) as { error: string }).error).toBe(
        'job "kf" is failed, not running: retry=true only stops a running attempt',
      );
      expect(await Promise.all(["kf", "kr", "kp"].map(getJob))).toEqual(before);
      // Without --retry a waiting job is still canceled.
      const killed = await runCliJson<{ jobs: unknown[] }>(["kill", "kp"], { env: home.env });
      expect(killed.jobs).toEqual([{ id: "kp", result: "canceled", state: "canceled" }]);
    });

    test("list --tag and --queue, repeated or a,b, mean any of them, as GET /api/jobs does", async () => {
      await withStore((store) =>
        enqueueSpecs(store, [
          { id: "la", command: "true", tags: ["x"], queue: "q1", delay: "1h" },
          { id: "lb", command: "true", tags: ["y"], queue: "q2", delay: "1h" },
          { id: "lc", command: "true", tags: ["x", "y"], delay: "1h" },
        ]),
      );
      const ids = async (...args: string[]) => succeeded(await cli("list", "--ids", ...args)).split("\n");
      for (const tags of [
        ["--tag", "x", "--tag", "y"],
        ["--tag", "x,y"],
        ["--tag", "y,x", "--tag", "x"],
      ])
        expect(await ids(...tags)).toEqual(["lc", "lb", "la", ""]);
      for (const queues of [
        ["--queue", "q1", "--queue", "q2"],
        ["--queue", "q1,q2"],
      ])
        expect(await ids(...queues)).toEqual(["lb", "la", ""]);
      expect(await ids("--tag", "x", "--queue", "q1,q2")).toEqual(["la", ""]);
      expect(succeeded(await cli("list", "--tag", "x,y"))).toEndWith("\n3 jobs\n");
      refused(await cli("list", "--queue", "q1;q2"), '--queue "q1;q2" is not a queue name');

      const api = async (query: string) => {
        const response = await withStore((store) => apiJobs(store, new URLSearchParams(query)));
        return ((await response.json()) as { id: string }[]).map((job) => job.id);
      };
      for (const query of ["tag=x,y", "tag=x&tag=y", "tag=x,y&q=l", "tag=x,y&state=pending"])
        expect(await api(query)).toEqual(["lc", "lb", "la"]);
      for (const query of ["queue=q1,q2", "queue=q1&queue=q2", "queue=q1,q2&state=pending,failed"])
        expect(await api(query)).toEqual(["lb", "la"]);
      const listed = await runCliJson<{ id: string }[]>(["list", "--tag", "x,y"], { env: home.env });
      expect(listed.map((job) => job.id).reverse()).toEqual(await api("tag=x,y"));
      const bad = await withStore((store) => apiJobs(store, new URLSearchParams("queue=q1;q2")));
      expect(bad.status).toBe(400);
    });

    test("logs of a job that ended before it ran says so, and how to run it", async () => {
      await withStore((store) => enqueueSpecs(store, [{ id: "pend", command: "true", delay: "1h" }]));
      succeeded(await cli("cancel", "pend"));
      refused(
        await cli("logs", "pend"),
        'error: job "pend" is canceled (canceled by the user) and never ran — run it with `queuectl rerun pend`',
      );
    });

    test("config get --json and status --json carry notify and limits as JSON values", async () => {
      type Config = Record<string, unknown>;
      const config = () => runCliJson<Config>(["config", "get"], { env: home.env });
      expect(await config()).toMatchObject({ notify: [], limits: null, "max-retries": 3, retention: "off" });
      const notify = '[{"url":"http://a.example/h","events":["dead"]}]';
      succeeded(await cli("config", "set", "notify", notify));
      succeeded(await cli("config", "set", "limits", '{"memory":"256M","cpu_time":"10m"}'));
      const expected = {
        notify: [{ url: "http://a.example/h", events: ["dead"] }],
        limits: { memory: "256M", cpu_time: "10m" },
      };
      expect(await config()).toMatchObject(expected);
      expect(await runCliJson(["config", "get", "notify"], { env: home.env })).toEqual({
        notify: expected.notify,
      });
      expect((await runCliJson<{ config: Config }>(["status"], { env: home.env })).config).toMatchObject(
        expected,
      );
      // The plain text stays the JSON text the README shows.
      expect(succeeded(await cli("config", "get", "notify"))).toBe(`${notify}\n`);
    });

    test("queue set --notify '[]' says the queue has no webhooks", async () => {
      expect(succeeded(await cli("queue", "set", "q", "--notify", "[]"))).toContain("queue q: no webhooks\n");
    });
  });
}

// Store-independent, or (a worker's heartbeat age) set up only through SQLite's clock.
describe("on SQLite alone", () => {
  let home: TempHome;
  beforeAll(() => {
    home = tempHome();
  });
  afterAll(() => home?.cleanup());
  const cli = (...args: string[]) => runCli(args, { env: home.env });

  test("dlq retry with an id and --all says to give one or the other", async () => {
    refused(await cli("dlq", "retry", "d2", "--all"), "give a job id or --all, not both");
  });

  test("status counts the lost workers it lists", async () => {
    await withHomeStore(home, async (store) => {
      const now = Date.now();
      await store.workerRegister({ id: "live", host: "here", pid: process.pid, now, queues: null });
      await store.workerRegister({ id: "lost", host: "here", pid: 1, now: now - 3_600_000, queues: null });
    });
    const text = succeeded(await cli("status"));
    expect(text).toContain("Active Workers: 1 (and 1 lost)\n");
    expect(text).toContain("Lost (no heartbeat for");
    const json = await runCliJson<{ workers: { alive: boolean }[] }>(["status"], { env: home.env });
    expect(json.workers.map((worker) => worker.alive).sort()).toEqual([false, true]);
  });

  test("an empty option value is called empty, names the option, and points to its command's help", async () => {
    const cases: [string[], string][] = [
      [
        ["add", "--id", "", "--", "true"],
        "option `--id <id>` is empty — give it a value, or leave it out; see `queuectl add --help`",
      ],
      [
        ["add", "--shell", ""],
        "option `--shell <line>` is empty — give it a value, or leave it out; see `queuectl add --help`",
      ],
      [
        ["list", "--state", ""],
        "option `--state <state>` is empty — give it a value, or leave it out; see `queuectl list --help`",
      ],
      [["list", "--state="], "option `--state <state>` is empty"],
      [
        ["logs", "x", "--attempt", ""],
        "option `--attempt <n>` is empty — give it a value, or leave it out; see `queuectl logs --help`",
      ],
      [["enqueue", "-f", ""], "option `-f, --file <path>` is empty"],
      // An empty item of a list is refused by every option that takes one, as `add` does.
      [["list", "--queue", "a,"], '--queue "a," has an empty item'],
      [["list", "--tag", ",x"], '--tag ",x" has an empty item'],
      [["list", "--state", "pending,"], '--state "pending," has an empty item'],
      [["purge", "--state", "completed,"], '--state "completed," has an empty item'],
      [["worker", "run", "--queue", "a,,b", "--drain"], '--queue "a,,b" has an empty item'],
      // A missing value, as cac finds it, also points to the command's help.
      [
        ["list", "--state"],
        "option `--state <state>` value is missing — put its value right after it; see `queuectl list --help`",
      ],
    ];
    for (const [args, message] of cases) refused(await cli(...args), message);
  });
});

describe("show --json gives a job's spec as the user writes it", () => {
  test("delay in seconds, like timeout: the spec enqueued again under another id means the same", async () => {
    const home = tempHome();
    try {
      const cli = (...args: string[]) => runCli(args, { env: home.env });
      succeeded(await cli("enqueue", '{"id":"d","command":"true","delay":"5m","timeout":"90s"}'));
      const shown = await runCliJson<{ spec: Record<string, unknown> }>(["show", "d"], { env: home.env });
      expect(shown.spec).toMatchObject({ delay: 300, timeout: 90 });
      const before = Date.now();
      succeeded(await cli("enqueue", JSON.stringify({ ...shown.spec, id: "copy" })));
      const copy = await runCliJson<{ next_run_at: string; spec: Record<string, unknown> }>(
        ["show", "copy"],
        {
          env: home.env,
        },
      );
      expect(copy.spec.delay).toBe(300);
      const dueIn = Date.parse(copy.next_run_at) - before;
      expect(dueIn).toBeGreaterThan(290_000);
      expect(dueIn).toBeLessThan(310_000);
    } finally {
      home.cleanup();
    }
  });
});

test("dlq retry of a job whose dependency was purged warns that it runs without that job's result", async () => {
  const home = tempHome();
  try {
    await withHomeStore(home, async (store) => {
      await enqueueSpecs(store, [
        { id: "a", command: "true" },
        { id: "b", command: 'cat "$QUEUECTL_RESULT_A"', after: ["a"], max_retries: 0 },
      ]);
      await runToEnd(store, "a", Date.now());
      await runToEnd(store, "b", Date.now(), 1);
      expect(
        await store.jobPurge({ states: ["completed"], finishedBefore: Date.now() + 1, dryRun: false }),
      ).toEqual(["a"]);
    });
    const retried = await runCli(["dlq", "retry", "b"], { env: home.env });
    expect(retried.exitCode).toBe(0);
    expect(retried.stderr).toBe(
      'warning: job "b" waits for "a", which was purged: it counts as done, and "b" runs without its result\n',
    );
  } finally {
    home.cleanup();
  }
});

test("a worker refuses a QUEUECTL_LIMITS it does not know, before it starts", async () => {
  const home = tempHome({ QUEUECTL_LIMITS: "cgroups" });
  try {
    for (const command of [
      ["worker", "run", "--drain"],
      ["worker", "start"],
    ]) {
      refused(await runCli(command, { env: home.env }), 'QUEUECTL_LIMITS is "cgroups"');
    }
  } finally {
    home.cleanup();
  }
});

async function withHomeStore(home: TempHome, work: (store: Store) => Promise<void>): Promise<void> {
  const store = await openStore({ url: join(home.home, "jobs.db") });
  try {
    await work(store);
  } finally {
    await store.close();
  }
}
