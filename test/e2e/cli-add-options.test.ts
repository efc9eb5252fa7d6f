/**
 * The outside tester's reports on `add` and `enqueue`, through the real CLI on both backends:
 * an unknown `--after` is named as the option, not by a generated id nor a file; a job queued
 * after its dependency ended says it was canceled at once and what re-arms it; an option that
 * takes one value is refused when given twice, and empty list items are refused.
 */

import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { join } from "node:path";
import type { Store } from "../../src/store/store.ts";
import { runNext } from "../flow/helpers.ts";
import { refused, runCli, runCliJson, succeeded, type TempHome, tempHome } from "../helpers/cli.ts";
import { testStores, withTestStore } from "../helpers/pg-schema.ts";

setDefaultTimeout(60_000);

const WAITS_FOR_DD = (id: string) =>
  `warning: job "${id}" was canceled at once: dependency dd ended dead — run "dd" again (queuectl dlq retry dd) and "${id}" waits for it again\n`;

for (const backend of testStores("cli-add-options", "qc_add_options")) {
  describe(`on ${backend.name}`, () => {
    let home: TempHome;
    beforeAll(() => {
      home = tempHome(backend.db ? { QUEUECTL_DB: backend.db } : {});
    });
    afterAll(() => home?.cleanup());

    const cli = (...args: string[]) => runCli(args, { env: home.env });
    const withStore = <T>(work: (store: Store) => Promise<T>) => withTestStore(backend, home, work);
    const stateOf = async (id: string) =>
      (await runCliJson<{ state: string }>(["show", id], { env: home.env })).state;
    const ids = async () =>
      (await runCliJson<{ id: string }[]>(["list"], { env: home.env })).map((job) => job.id);

    test("an unknown --after names the option and the id typed, never a generated id", async () => {
      const before = await ids();
      const hint = 'enqueue "nope" first, or fix --after';
      for (const id of [[], ["--id", "named"]]) {
        const result = await cli("add", ...id, "--after", "nope", "--", "true");
        refused(result, `error: --after names "nope", which is not in the queue — ${hint}\n`);
        expect(result.stderr).not.toContain("file");
      }
      const argument = await cli("enqueue", '{"command":"true","after":["nope"]}');
      refused(
        argument,
        'error: the job waits for "nope", which is not in the queue — enqueue that job first, or fix the `after` list\n',
      );
      expect(argument.stderr).not.toMatch(/job-/);
      expect(await ids()).toEqual(before);
    });

    test("an --after naming a schedule says it is a schedule, not that it is missing", async () => {
      succeeded(await cli("enqueue", '{"id":"nightly-x","command":"true","schedule":"0 3 * * *"}'));
      const before = await ids();
      refused(
        await cli("add", "--after", "nightly-x", "--", "true"),
        'error: --after names "nightly-x", which is a schedule, and a job cannot wait on a schedule',
      );
      refused(
        await cli("enqueue", '{"command":"true","after":["nightly-x"]}'),
        'error: `after` names "nightly-x", which is a schedule',
      );
      // The schedule in the same input, which is stored after the jobs: named as a schedule too.
      const both = [
        { id: "z", command: "echo", after: ["sc3"] },
        { id: "sc3", command: "echo", schedule: "0 1 * * *" },
      ];
      for (const text of [JSON.stringify(both), both.map((job) => JSON.stringify(job)).join("\n")]) {
        refused(
          await runCli(["enqueue", "-f", "-"], { env: home.env, stdin: text }),
          '`after` names "sc3", which is a schedule',
        );
      }
      expect(await ids()).toEqual(before);
    });

    test("a job queued after its dependency ended is said to be canceled at once, by add and enqueue alike", async () => {
      succeeded(await cli("enqueue", '{"id":"dd","command":"false"}'));
      expect(await withStore((store) => runNext(store, "dead"))).toBe("dd");

      const added = await cli("add", "--id", "after-dead", "--after", "dd", "--", "true");
      expect(added).toEqual({
        exitCode: 0,
        stdout: "✓ Enqueued job after-dead\n",
        stderr: WAITS_FOR_DD("after-dead"),
      });
      const quiet = await cli("add", "-q", "--id", "quiet-dead", "--after", "dd", "--", "true");
      expect(quiet).toEqual({ exitCode: 0, stdout: "quiet-dead\n", stderr: WAITS_FOR_DD("quiet-dead") });
      const enqueued = await cli("enqueue", '{"id":"x","command":"true","after":["dd"]}');
      expect(enqueued).toEqual({ exitCode: 0, stdout: "✓ Enqueued job x\n", stderr: WAITS_FOR_DD("x") });
      // --json says so too, for scripts that read stdout only.
      const addedJson = await cli("add", "--json", "--id", "json-dead", "--after", "dd", "--", "true");
      expect(JSON.parse(addedJson.stdout)).toEqual({ id: "json-dead", state: "canceled" });
      const enqueuedJson = await cli("enqueue", "--json", '{"id":"y","command":"true","after":["dd"]}');
      expect(JSON.parse(enqueuedJson.stdout)).toEqual({
        enqueued: 1,
        ids: ["y"],
        schedules: [],
        canceled: ["y"],
      });
      expect(JSON.parse((await cli("add", "--json", "--id", "json-fine", "--", "true")).stdout)).toEqual({
        id: "json-fine",
        state: "pending",
      });
      for (const id of ["after-dead", "quiet-dead", "x", "json-dead", "y"])
        expect(await stateOf(id)).toBe("canceled");

      // What the warning says to do re-arms them.
      succeeded(await cli("dlq", "retry", "dd"));
      for (const id of ["after-dead", "quiet-dead", "x"]) expect(await stateOf(id)).toBe("pending");
      // A dependency that has not ended gets no warning.
      expect(await cli("add", "--id", "fine", "--after", "dd", "--", "true")).toMatchObject({ stderr: "" });
    });

    test.each([
      [
        ["add", "--id", "x6", "--id", "x7", "--", "true"],
        "error: --id given twice — give it once; see `queuectl add --help`",
      ],
      [["add", "--shell", "a", "--shell", "b"], "--shell given twice"],
      [["add", "--queue", "a", "--queue=b", "--", "true"], "--queue given twice"],
      [["add", "--retries", "1", "--retries", "-1", "--", "true"], "--retries given twice"],
      [
        ["add", "--env", "A=1", "--env", "B=2", "--env", "A=2", "--", "true"],
        "error: --env sets A twice — give A one value",
      ],
      [
        ["add", "--after", ",", "--", "true"],
        'error: --after "," has an empty item — give one or more values separated by commas, e.g. --after a,b',
      ],
      [["add", "--tag", "a", "--tag", "b,", "--", "true"], '--tag "b," has an empty item'],
      [
        ["enqueue", "-f", "a.json", "--file", "b.json"],
        "--file given twice — give it once; see `queuectl enqueue --help`",
      ],
      [["wait", "x", "--timeout", "1s", "--timeout", "2s"], "--timeout given twice"],
    ])("%p is refused with exit 2 and queues nothing", async (argv, fragment) => {
      const before = await ids();
      refused(await cli(...argv), fragment);
      expect(await ids()).toEqual(before);
    });

    test("so is a global option: --db before and after the command", async () => {
      const [first, second] = ["first.db", "second.db"].map((name) => join(home.home, name));
      refused(await cli("--db", first as string, "list", "--db", second as string), "--db given twice");
    });

    test("only options whose help says they repeat may: add --after/--tag/--env, list and purge filters", async () => {
      const repeats = ["--after", "r0", "--after", "r1", "--tag", "a", "--tag", "b,c"];
      refused(await cli("add", "--id", "r2", ...repeats, "--id", "r3", "--", "true"), "--id given twice");
      succeeded(await cli("add", "--id", "r0", "--delay", "1h", "--", "true"));
      succeeded(await cli("add", "--id", "r1", "--delay", "1h", "--", "true"));
      succeeded(
        await cli(...["add", "--id", "r2", ...repeats], ...["--env", "A=1", "--env", "B=2", "--", "true"]),
      );
      const job = await runCliJson<Record<string, unknown>>(["show", "r2"], { env: home.env });
      expect(job).toMatchObject({ tags: ["a", "b", "c"], env: { A: "1", B: "2" } });
      const listed = await cli("list", "--state", "pending", "--state", "failed", "--tag", "a", "--tag", "z");
      expect(succeeded(listed)).toContain("r2");
      succeeded(
        await cli("purge", "--state", "dead", "--state", "canceled", "--older-than", "1d", "--dry-run"),
      );
    });

    test("--env keeps every name, __proto__ and constructor included, as enqueue does", async () => {
      succeeded(
        await cli("add", "--id", "protos", "--env", "__proto__=1", "--env", "constructor=2", "--", "env"),
      );
      const job = await runCliJson<{ env: Record<string, string> }>(["show", "protos"], { env: home.env });
      expect(Object.entries(job.env)).toEqual([
        ["__proto__", "1"],
        ["constructor", "2"],
      ]);
    });
  });
}
