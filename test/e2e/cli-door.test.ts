/**
 * Through the real CLI, on SQLite and on PostgreSQL: values the queue could not store, show
 * or run are refused at the door (exit 2, one line, nothing changes), and a rerun that its
 * dependencies would cancel at once is refused the same way.
 */

import { afterAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { CLI_PATH, type CliResult, runCli, tempHome } from "../helpers/cli.ts";
import { testStores } from "../helpers/pg-schema.ts";

setDefaultTimeout(120_000);

const backends = testStores("cli-door", "qc_door");

function expectOneLineRefusal(result: CliResult, ...parts: string[]): void {
  expect(result.exitCode).toBe(2);
  expect(result.stderr.startsWith("error: ")).toBe(true);
  expect(result.stderr.trim().split("\n")).toHaveLength(1);
  expect(result.stderr).not.toContain("this is a bug");
  for (const part of parts) expect(result.stderr).toContain(part);
}

for (const backend of backends) {
  describe(`the door (${backend.name})`, () => {
    const home = tempHome(backend.db ? { QUEUECTL_DB: backend.db } : {});
    afterAll(() => home.cleanup());
    const cli = (...args: string[]) => runCli(args, { env: home.env });
    const ok = async (...args: string[]) => {
      const result = await cli(...args);
      if (result.exitCode !== 0) throw new Error(`queuectl ${args.join(" ")}: ${result.stderr}`);
      return result.stdout;
    };
    const stateOf = async (id: string) =>
      (JSON.parse(await ok("show", id, "--json")) as { state: string }).state;

    test("durations, run_at and commands out of range are refused in one line, and list and show keep working", async () => {
      await ok("enqueue", '{"id":"keep","command":"true"}');
      const before = await ok("list", "--json");
      const cases: [string, string[]][] = [
        ['{"id":"p","command":"true","delay":"15000000w"}', ["`delay`", "100 years"]],
        ['{"id":"p","command":"true","delay":1e308}', ["`delay`", "100 years"]],
        ['{"id":"p","command":"true","timeout":1e308}', ["`timeout`", "100 years"]],
        ['{"id":"p","command":"true","run_at":"9999-12-31T00:00:00Z"}', ["`run_at`", "100 years"]],
      ];
      for (const [input, parts] of cases) expectOneLineRefusal(await cli("enqueue", input), ...parts);
      const big = join(home.home, "big.json");
      writeFileSync(
        big,
        JSON.stringify({
          id: "p",
          command: ["true", ...Array.from({ length: 90 }, () => "y".repeat(100_000))],
        }),
      );
      expectOneLineRefusal(await cli("enqueue", "-f", big), "`command`", "1,048,576 bytes");
      expect(await ok("list", "--json")).toBe(before);
      await ok("list");
      await ok("show", "keep");
      // The same rules in a jobfile: the file is in error and nothing of it is queued.
      const jobs = join(home.home, "jobs");
      mkdirSync(jobs, { recursive: true });
      writeFileSync(join(jobs, "far.yaml"), 'id: far\ncommand: "true"\ndelay: 1e308\n');
      const sync = await cli("sync", jobs);
      expect(sync.exitCode).toBe(2);
      expect(sync.stdout).toContain("far.yaml:3:1: `delay` 1e+308 is longer than 100 years");
      expect(await ok("list", "--json")).toBe(before);
    });

    test("a rerun of a job whose dependency is dead names it, exits 2 and changes nothing", async () => {
      await ok("enqueue", '{"id":"base","command":"exit 3","max_retries":0}');
      await ok("enqueue", '{"id":"step","command":"true","after":["base"]}');
      await ok("worker", "run", "--drain");
      expect(await stateOf("step")).toBe("canceled");
      const before = await ok("show", "step", "--json");
      expectOneLineRefusal(
        await cli("rerun", "step"),
        'job "step" waits for "base", which is dead',
        "queuectl dlq retry base",
      );
      expect(await ok("show", "step", "--json")).toBe(before);
    });

    test("with two dead dependencies, retrying one leaves the dependent canceled and the drain ends", async () => {
      await ok("enqueue", '{"id":"a1","command":"exit 1","max_retries":0}');
      await ok("enqueue", '{"id":"a2","command":"exit 1","max_retries":0}');
      await ok("enqueue", '{"id":"merge","command":"true","after":["a1","a2"]}');
      await ok("worker", "run", "--drain");
      await ok("dlq", "retry", "a1");
      // Before, merge was left pending behind the dead a2 and this drain never ended.
      const drain = Bun.spawn(["bun", CLI_PATH, "worker", "run", "--drain"], {
        env: home.env,
        stdout: "ignore",
        stderr: "ignore",
        timeout: 60_000,
      });
      expect(await drain.exited).toBe(0);
      const merge = JSON.parse(await ok("show", "merge", "--json")) as { state: string; last_error: string };
      expect(merge).toMatchObject({ state: "canceled", last_error: "dependency a2 ended dead" });
    });
  });
}
