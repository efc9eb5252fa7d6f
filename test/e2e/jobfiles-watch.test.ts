/** `queuectl watch` as a process: output, signals, restarts and two watchers on one folder. */

import { afterEach, describe, expect, setDefaultTimeout, test } from "bun:test";
import { symlinkSync } from "node:fs";
import { dirname, join } from "node:path";
import { hostName } from "../../src/core/home.ts";
import { runCli, runCliJson, waitFor } from "../helpers/cli.ts";
import { type JobsFixture, jobsFixture, type LiveCli, startCli } from "../jobfiles/helpers.ts";

// Real processes on a busy two-core machine: generous, not the 5 s default.
setDefaultTimeout(60_000);

let fixture: JobsFixture;
const processes: LiveCli[] = [];

afterEach(async () => {
  for (const live of processes.splice(0)) await live.stop("SIGKILL");
  fixture?.cleanup();
});

interface WatchLine {
  at: string;
  plan: { unchanged: number; errors: unknown[] };
  applied: { create: string[]; replace: string[]; cancel: string[] };
}

function watchProcess(...args: string[]): LiveCli {
  return watchOn(fixture.env.QUEUECTL_HOST ?? "", ...args);
}

/** A watcher as if on another machine: QUEUECTL_HOST names the host it registers as. */
function watchOn(host: string, ...args: string[]): LiveCli {
  const env = host === "" ? fixture.env : { ...fixture.env, QUEUECTL_HOST: host };
  const live = startCli(["watch", fixture.dir, ...args], env);
  processes.push(live);
  return live;
}

async function listIds(): Promise<string[]> {
  return (await runCliJson<{ id: string }[]>(["list"], { env: fixture.env })).map((job) => job.id);
}

describe("queuectl watch", () => {
  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    test(`logs each applied plan and exits cleanly on ${signal}`, async () => {
      fixture = jobsFixture();
      fixture.write("early.yaml", "command: echo early\n");
      fixture.backdate("early.yaml");
      const live = watchProcess();
      await live.waitForLine((line) => /\+ early\s+create\s/.test(line), "the initial sync");
      fixture.write("dropped.yaml", "command: echo dropped\n");
      const line = await live.waitForLine((text) => /\+ dropped\s+create\s/.test(text), "the dropped file");
      expect(line).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z \+ dropped {2}create {2}dropped\.yaml$/);
      await live.waitForLine((text) => text.endsWith("Applied: 1 created."), "the applied summary");
      expect(await live.stop(signal)).toBe(0);
      expect(live.stderrLines.some((text) => text.includes(`stopped (${signal})`))).toBe(true);
      expect(live.stderrLines.join("\n")).not.toContain("    at ");
    });
  }

  test("a missing folder is an error at start", async () => {
    fixture = jobsFixture();
    const result = await runCli(["watch", `${fixture.dir}-missing`], { env: fixture.env });
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toContain("does not exist — check the path, or create the folder");
  });

  test("bad options are refused with their default in the hint", async () => {
    fixture = jobsFixture();
    const result = await runCli(["watch", fixture.dir, "--resync", "soon"], { env: fixture.env });
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toBe('error: --resync "soon" is not a duration — e.g. --resync 60s\n');
  });

  test("two watcher processes (on two hosts sharing the folder) and then a restart duplicate nothing", async () => {
    fixture = jobsFixture();
    const one = watchOn("host-one", "--json");
    const two = watchOn("host-two", "--json");
    await one.waitForLine((line) => line.startsWith("{"), "the first watcher's initial sync");
    await two.waitForLine((line) => line.startsWith("{"), "the second watcher's initial sync");
    const names = Array.from({ length: 6 }, (_, i) => `job-${i}`);
    for (const name of names) fixture.write(`${name}.yaml`, `command: echo ${name}\n`);
    await waitFor(async () => (await listIds()).length === names.length, { what: "every file queued" });
    await waitFor(() => [...one.json<WatchLine>(), ...two.json<WatchLine>()].length >= 3, {
      what: "the sync logs",
    });
    expect([await one.stop(), await two.stop()]).toEqual([0, 0]);
    const created = [...one.json<WatchLine>(), ...two.json<WatchLine>()].flatMap(
      (line) => line.applied.create,
    );
    expect(created.sort()).toEqual(names);
    const updated = [...one.json<WatchLine>(), ...two.json<WatchLine>()].flatMap(
      (line) => line.applied.replace,
    );
    expect(updated).toEqual([]);

    fixture.backdate(...names.map((name) => `${name}.yaml`));
    const restarted = watchOn("host-one", "--json");
    const [first] = await waitFor(
      () => (restarted.json<WatchLine>().length > 0 ? restarted.json<WatchLine>() : null),
      {
        what: "the restarted watcher's initial sync",
      },
    );
    expect(first?.plan.unchanged).toBe(names.length);
    expect(first?.applied).toEqual({
      create: [],
      replace: [],
      defer: [],
      drop_deferred: [],
      show_completed: [],
      skip_completed: [],
      redeclare: [],
      cancel: [],
      forget: [],
      rearmed: [],
      canceled_dependents: [],
      canceled_at_once: [],
      counts: {
        create: 0,
        update: 0,
        already_completed: 0,
        redeclare: 0,
        cancel: 0,
        forget: 0,
        schedule_create: 0,
        schedule_update: 0,
        schedule_remove: 0,
      },
    } as never);
    expect(await restarted.stop()).toBe(0);
  });

  test("a second watcher of a folder on this host is refused in one line; a killed one is replaced", async () => {
    fixture = jobsFixture();
    const first = watchProcess();
    await first.waitForLine((line) => line.includes("up to date"), "the first watcher's initial sync");
    const second = await runCli(["watch", fixture.dir], { env: fixture.env });
    expect(second.exitCode).toBe(2);
    expect(second.stderr.trim().split("\n")).toEqual([
      expect.stringMatching(
        new RegExp(
          `^error: the jobs folder .*/jobs is already watched on this host \\(pid ${first.proc.pid}\\) — `,
        ),
      ),
    ]);
    // Another name for the same folder (a symlink to it) is the same folder.
    const link = join(dirname(fixture.dir), "jobs-link");
    symlinkSync(fixture.dir, link);
    const twin = await runCli(["watch", link], { env: fixture.env });
    expect([twin.exitCode, twin.stderr]).toEqual([
      2,
      expect.stringContaining(
        `jobs-link (the same folder as ${fixture.dir}) is already watched on this host (pid ${first.proc.pid})`,
      ),
    ]);
    const started = await runCli(["worker", "start", "--watch", fixture.dir], { env: fixture.env });
    expect(started.exitCode).toBe(2);
    expect(started.stderr).toContain(`is already watched on this host (pid ${first.proc.pid})`);
    expect((await runCliJson<{ workers: unknown[] }>(["status"], { env: fixture.env })).workers).toEqual([]);

    expect(await first.stop("SIGKILL")).not.toBe(0);
    const third = watchProcess();
    await third.waitForLine((line) => line.includes("up to date"), "the replacing watcher's initial sync");
    expect(await third.stop()).toBe(0);
  });

  test("status lists the watched folder with its watcher, last sync and problems; a killed watcher shows as lost", async () => {
    fixture = jobsFixture();
    fixture.write("good.yaml", "command: echo good\n");
    fixture.write("bad.yaml", "command: echo bad\nmax_retry: 1\n");
    fixture.backdate("good.yaml", "bad.yaml");
    const live = watchProcess();
    await live.waitForLine((line) => line.includes("create"), "the initial sync");
    const status = await runCliJson<{ folders: FolderLine[] }>(["status"], { env: fixture.env });
    expect(status.folders).toEqual([
      expect.objectContaining({
        folder: fixture.dir,
        last_sync: expect.objectContaining({ by: "watch", pid: live.proc.pid, files: 2, problems: 1 }),
        watchers: [expect.objectContaining({ pid: live.proc.pid, alive: true, last_error: null })],
      }),
    ]);
    const human = await runCli(["status"], { env: fixture.env });
    expect(human.stdout).toContain(`Jobfile folders:\n  ${fixture.dir}\n    last sync `);
    expect(human.stdout).toContain("bad.yaml:2:1: `max_retry` is not a job field");
    expect(human.stdout).toContain(`watcher on ${hostName(fixture.env)} (pid ${live.proc.pid}): alive`);

    await live.stop("SIGKILL");
    const after = await runCliJson<{ folders: FolderLine[] }>(["status"], { env: fixture.env });
    expect(after.folders[0]?.watchers).toEqual([
      expect.objectContaining({ pid: live.proc.pid, alive: false }),
    ]);
  });
});

interface FolderLine {
  folder: string;
  last_sync: Record<string, unknown> | null;
  watchers: { pid: number; alive: boolean; last_error: string | null }[];
}
