/** `queuectl add`: the job fields as options, through the same validation as `enqueue`. */

import { expect, setDefaultTimeout, test } from "bun:test";
import { join } from "node:path";
import { CLI_PATH, runCliJson } from "../helpers/cli.ts";
import { workerTestContext } from "../worker/helpers.ts";

setDefaultTimeout(60_000);

const context = workerTestContext();
const cli = context.cli;
type JobJson = Record<string, unknown> & { id: string };
const show = (id: string) => runCliJson<{ job: JobJson } & JobJson>(["show", id], { env: context.home.env });
const list = () => runCliJson<JobJson[]>(["list"], { env: context.home.env });

test("words after -- become an argv job, run without a shell", async () => {
  const result = await cli("add", "--id", "a", "--", "printf", "%s|%s", "x y", "$HOME");
  expect(result.exitCode).toBe(0);
  expect(result.stdout).toBe("✓ Enqueued job a\n");
  const [job] = await list();
  expect(job?.command).toEqual(["printf", "%s|%s", "x y", "$HOME"]);
});

test("--shell, or one word without --, becomes a shell job", async () => {
  expect((await cli("add", "--id", "s", "--shell", "sort f | uniq -c")).exitCode).toBe(0);
  expect((await cli("add", "--id", "t", "echo a | wc -l")).exitCode).toBe(0);
  const jobs = await list();
  expect(jobs.map((job) => job.command).sort()).toEqual(["echo a | wc -l", "sort f | uniq -c"]);
});

test("-q prints only the id, so a script can capture it", async () => {
  const script = `id=$(bun ${CLI_PATH} add -q -- make test) && echo "got:$id"`;
  const child = Bun.spawn(["sh", "-c", script], { env: context.home.env, stdout: "pipe", stderr: "pipe" });
  const out = await new Response(child.stdout).text();
  expect(await child.exited).toBe(0);
  const id = /^got:(\S+)\n$/.exec(out)?.[1];
  expect(id).toMatch(/^job-/);
  expect((await list()).map((job) => job.id)).toEqual([id as string]);
});

test("every option sets its job field, and text values keep the characters typed", async () => {
  expect((await cli("add", "--id", "dep", "--", "true")).exitCode).toBe(0);
  const result = await cli(
    ...["add", "--id", "007", "--queue", "emails", "--priority", "5", "--retries", "0"],
    ...["--timeout", "5m", "--delay", "10m", "--after", "dep", "--tag", "1e3", "--tag", "a,b"],
    ...["--env", "A=1", "--env", "B=x=y", "--cwd", "/tmp", "--", "./send.sh"],
  );
  expect(result.stderr).toBe("");
  const job = await show("007");
  expect(job).toMatchObject({
    id: "007",
    queue: "emails",
    priority: 5,
    max_retries: 0,
    timeout: 300,
    tags: ["1e3", "a", "b"],
    env: { A: "1", B: "x=y" },
    cwd: "/tmp",
    command: ["./send.sh"],
  });
  const delayedBy = Date.parse(String(job.next_run_at)) - Date.parse(String(job.created_at));
  expect(delayedBy).toBe(600_000);
});

test("numbers are read as typed in decimal: negative priorities, bare seconds", async () => {
  const result = await cli(
    "add",
    "--id",
    "n",
    "--priority",
    "-5",
    "--retries",
    "007",
    "--timeout",
    "90",
    "--",
    "true",
  );
  expect(result.stderr).toBe("");
  expect(await show("n")).toMatchObject({ priority: -5, max_retries: 7, timeout: 90 });
});

test("--at sets run_at; the defaults are the config's and the current folder", async () => {
  expect((await cli("add", "--id", "x", "--at", "2030-01-01T09:00:00Z", "--", "true")).exitCode).toBe(0);
  const job = await show("x");
  expect(job.next_run_at).toBe("2030-01-01T09:00:00.000Z");
  expect(job.max_retries).toBe(3);
  expect(job.cwd).toBe(process.cwd());
  expect(job.queue).toBe("default");
});

test.each([
  [["add", "--retries", "-1", "--", "true"], "--retries: `max_retries` must be between 0 and 1000"],
  [["add", "--timeout", "forever", "--", "true"], "--timeout:"],
  [["add", "--at", "tomorrow", "--", "true"], "--at:"],
  [["add", "--env", "NOVALUE", "--", "true"], '--env "NOVALUE" is not NAME=VALUE'],
  [["add", "--env", "A B=1", "--", "true"], "--env: `env.A B` is not a valid environment variable name"],
  [["add", "--after", "nope", "--", "true"], '"nope", which is not in the queue'],
  [["add", "--priority", "0x10", "--", "true"], "--priority: `priority` must be a whole number"],
  [["add", "--retries", "1e1", "--", "true"], "--retries: `max_retries` must be a whole number"],
  [["add", "--timeout", "1e2", "--", "true"], '--timeout: `timeout` "1e2" is not a duration'],
  [["add", "--delay", "0x10", "--", "true"], '--delay: `delay` "0x10" is not a duration'],
  [["add", "--", "make test"], 'no program is named "make test"'],
  [["add", "--"], "no command given"],
  [["add", "--id", "--", "true"], "option `--id <id>` value is missing"],
  [["add", "--tag", "--", "true"], "option `--tag <tag>` value is missing"],
  [["add", "--env", "--", "true"], "option `--env <NAME=VALUE>` value is missing"],
  [["add", "--after", "--", "true"], "option `--after <id>` value is missing"],
  [["add", "--id", "x", "--shell"], "option `--shell <line>` value is missing"],
  [["add", "--id"], "option `--id <id>` value is missing"],
  [["add", "--shell", "a", "b"], "either --shell or a command"],
  [["add", "ls", "-la"], "put the command after --"],
  // Options of add after the command's first word would be taken from the command in silence.
  [["add", "wget", "--timeout", "5", "http://x/f"], '`--timeout` comes after the command word "wget"'],
  [["add", "ls", "-q"], '`-q` comes after the command word "ls"'],
  [["add", "--id", "g", "grep", "--env", "X=1", "foo"], '`--env` comes after the command word "grep"'],
  [["add", "echo hi", "--retries", "1"], '`--retries` comes after the command word "echo hi"'],
  [["add", "echo", "hi", "--retries", "1"], '`--retries` comes after the command word "echo"'],
  // A last `--` is a word of the command, which cac would drop: `git log --` is not `git log`.
  [["add", "--id", "g", "git", "log", "--"], '"git log" comes before --'],
  [["add", "-q", "true", "--"], '"true" comes before --'],
  [["add", "echo", "hi", "--", "there"], '"echo hi" comes before --'],
])("%p is refused with exit 2 and queues nothing", async (argv, fragment) => {
  const result = await cli(...argv);
  expect(result.exitCode).toBe(2);
  expect(result.stdout).toBe("");
  expect(result.stderr).toStartWith("error: ");
  expect(result.stderr).toContain(fragment);
  expect(await list()).toEqual([]);
});

test("a quoted shell line after -- is pointed at --shell, never at a paste that the paste's own shell would pipe", async () => {
  const piped = await cli("add", "--", "echo a | tr a b");
  expect(piped.exitCode).toBe(2);
  expect(piped.stderr).toContain("queuectl add --shell 'echo a | tr a b'");
  expect(piped.stderr).not.toContain("words apart");
  const quoted = await cli("add", "--", "it's x");
  expect(quoted.stderr).toContain(`queuectl add --shell 'it'\\''s x'`);
  const plain = await cli("add", "--", "make test");
  expect(plain.stderr).toContain("else give its words apart: -- make test");
});

test("a relative --cwd is the folder it names from here, as any path typed in a shell", async () => {
  expect((await cli("add", "--id", "rel", "--cwd", "build/out", "--", "true")).exitCode).toBe(0);
  expect((await show("rel")).cwd).toBe(join(process.cwd(), "build/out"));
});

test("a duplicate id is refused as enqueue refuses it", async () => {
  expect((await cli("add", "--id", "a", "--", "true")).exitCode).toBe(0);
  const again = await cli("add", "--id", "a", "--", "false");
  expect(again.exitCode).toBe(2);
  expect(again.stderr).toContain('job id "a" already exists');
});

test("every option documents its default in --help", async () => {
  const help = (await cli("add", "--help")).stdout;
  const optionLines = help.split("\n").filter((line) => /^\s+(-\w, )?--[a-z]/.test(line));
  expect(optionLines.length).toBeGreaterThanOrEqual(14);
  for (const line of optionLines) if (!line.includes("--help")) expect(line).toContain("(default: ");
});
