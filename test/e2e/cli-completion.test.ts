/**
 * Completion scripts: the bash one is run in a real bash, as the shell runs it on TAB
 * (COMP_WORDS set, the function called, COMPREPLY read), with `queuectl` on PATH so its
 * callbacks for job ids and queue names reach the test's store.
 */

import { expect, setDefaultTimeout, test } from "bun:test";
import { chmodSync, existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { CLI_PATH } from "../helpers/cli.ts";
import { enqueue, ok, workerTestContext } from "../worker/helpers.ts";

setDefaultTimeout(60_000);

const context = workerTestContext();

/**
 * The words bash splits a line into for COMP_WORDS: at spaces, and around each character of
 * its default COMP_WORDBREAKS that ids and options contain (`=` and `:`).
 */
function bashWords(line: string): string[] {
  return line
    .split(" ")
    .flatMap((word) => word.split(/([=:])/).filter((part, index) => part !== "" || index === 0));
}

/**
 * What bash offers after typing `line` (a trailing space means a new, empty word): the
 * variables bash sets on TAB (COMP_LINE, COMP_POINT, COMP_WORDS, COMP_CWORD), the function
 * called, COMPREPLY read. Like readline, an offer replaces only the text after the last `=`
 * or `:` of the word being completed.
 */
async function complete(script: string, line: string, env: Record<string, string> = {}): Promise<string[]> {
  const bin = join(context.home.home, "bin");
  mkdirSync(bin, { recursive: true });
  writeFileSync(join(bin, "queuectl"), `#!/bin/sh\nexec bun ${CLI_PATH} "$@"\n`);
  chmodSync(join(bin, "queuectl"), 0o755);
  const words = bashWords(line);
  const quote = (text: string) => `'${text.replaceAll("'", "'\\''")}'`;
  const program = [
    script,
    `COMP_LINE=${quote(line)}`,
    // readline counts the cursor in bytes.
    `COMP_POINT=${Buffer.byteLength(line)}`,
    `COMP_WORDS=(${words.map(quote).join(" ")})`,
    `COMP_CWORD=${words.length - 1}`,
    "_queuectl",
    // biome-ignore lint/suspicious/noTemplateCurlyInString: a bash expansion, not a template
    'printf "%s\\n" "${COMPREPLY[@]}"',
  ].join("\n");
  const child = Bun.spawn(["bash", "-c", program], {
    // In the test's own folder: whatever a broken script might make or glob stays there.
    cwd: context.home.home,
    env: { ...context.home.env, PATH: `${bin}:${process.env.PATH}`, ...env },
    stdout: "pipe",
    stderr: "pipe",
  });
  const [out, err] = await Promise.all([
    new Response(child.stdout).text(),
    new Response(child.stderr).text(),
  ]);
  expect(err).toBe("");
  expect(await child.exited).toBe(0);
  return out.split("\n").filter(Boolean).sort();
}

test("bash: commands, subcommands, flags, states, job ids and queue names", async () => {
  await enqueue(context.home, { id: "build-1", command: "true" });
  await enqueue(context.home, { id: "build-2", command: "true", queue: "emails" });
  await enqueue(context.home, { id: "deploy", command: "true" });
  const script = ok(await context.cli("completion", "bash"));
  expect(await complete(script, "queuectl li")).toEqual(["list"]);
  expect(await complete(script, "queuectl w")).toEqual(["wait", "watch", "worker"]);
  expect(await complete(script, "queuectl worker st")).toEqual(["start", "stop"]);
  expect(await complete(script, "queuectl list --st")).toEqual(["--state"]);
  expect(await complete(script, "queuectl list --state fa")).toEqual(["failed"]);
  expect(await complete(script, "queuectl worker start --co")).toEqual(["--concurrency", "--count"]);
  expect(await complete(script, "queuectl show build")).toEqual(["build-1", "build-2"]);
  expect(await complete(script, "queuectl dlq retry d")).toEqual(["deploy"]);
  expect(await complete(script, "queuectl add --queue em")).toEqual(["emails"]);
  expect(await complete(script, "queuectl queue pause ")).toEqual(["default", "emails"]);
});

test("bash: ids with : (schedule occurrences), --db=PATH, --opt=value, --after, the shells, and words after --", async () => {
  const occurrence = "backup@2026-12-01T02:00:00.000Z";
  await enqueue(context.home, { id: occurrence, command: "true" });
  await enqueue(context.home, { id: "build", command: "true", queue: "emails" });
  const script = ok(await context.cli("completion", "bash"));
  // readline replaces the text after the last ":" typed ("0") with the offer.
  expect(await complete(script, "queuectl logs backup@2026-12-01T02:0")).toEqual(["00:00.000Z"]);
  expect(await complete(script, "queuectl logs backup@2026-12-01T0")).toEqual([occurrence]);
  const other = join(context.home.home, "other.db");
  ok(await context.cli("--db", other, "add", "--id", "elsewhere", "--", "true"));
  expect(await complete(script, `queuectl --db=${other} show el`)).toEqual(["elsewhere"]);
  expect(await complete(script, `queuectl --db ${other} show el`)).toEqual(["elsewhere"]);
  expect(await complete(script, "queuectl list --state=pe")).toEqual(["pending"]);
  expect(await complete(script, "queuectl add --queue=em")).toEqual(["emails"]);
  expect(await complete(script, "queuectl add --after bu")).toEqual(["build"]);
  expect(await complete(script, "queuectl completion ")).toEqual(["bash", "fish", "zsh"]);
  // compgen -c names a program once per PATH folder that holds it.
  expect([...new Set(await complete(script, "queuectl add -- basenam"))]).toEqual(["basename"]);
  expect(await complete(script, "queuectl add -- ls --")).toEqual([]);
});

test.skipIf(Bun.which("zsh") === null)(
  "zsh: the same function runs in zsh, as bashcompinit calls it",
  async () => {
    await enqueue(context.home, { id: "backup@2026-12-01T02:00:00.000Z", command: "true" });
    const script = join(context.home.home, "queuectl.zsh");
    writeFileSync(script, ok(await context.cli("completion", "zsh")));
    const bin = join(context.home.home, "bin");
    mkdirSync(bin, { recursive: true });
    writeFileSync(join(bin, "queuectl"), `#!/bin/sh\nexec bun ${CLI_PATH} "$@"\n`);
    chmodSync(join(bin, "queuectl"), 0o755);
    const line = "queuectl --db=$QUEUECTL_HOME/jobs.db logs backup@2026-12-01T02:0";
    // bashcompinit's compgen -F calls the function with ksharrays on and COMP_LINE/COMP_POINT set;
    // zsh itself then matches the offers against the whole word.
    const program = [
      "autoload -U +X compinit && compinit -u",
      `source ${script}`,
      "setopt ksharrays",
      `COMP_LINE="${line}"`,
      // biome-ignore lint/suspicious/noTemplateCurlyInString: a zsh expansion, not a template
      "COMP_POINT=${#COMP_LINE}",
      "_queuectl",
      // biome-ignore lint/suspicious/noTemplateCurlyInString: a zsh expansion, not a template
      'print -l -- "${COMPREPLY[@]}"',
    ].join("\n");
    const child = Bun.spawn(["zsh", "-f", "-c", program], {
      env: { ...context.home.env, PATH: `${bin}:${process.env.PATH}` },
      stdout: "pipe",
      stderr: "pipe",
    });
    const [out, err] = await Promise.all([
      new Response(child.stdout).text(),
      new Response(child.stderr).text(),
    ]);
    expect(err).toBe("");
    expect(out).toBe("backup@2026-12-01T02:00:00.000Z\n");
  },
);

test.skipIf(Bun.which("fish") === null)(
  "fish: ids from the --db typed, states, shells, a program after add --",
  async () => {
    const other = join(context.home.home, "other.db");
    ok(await context.cli("--db", other, "add", "--id", "elsewhere", "--", "true"));
    const script = join(context.home.home, "queuectl.fish");
    writeFileSync(script, ok(await context.cli("completion", "fish")));
    const bin = join(context.home.home, "bin");
    mkdirSync(bin, { recursive: true });
    writeFileSync(join(bin, "queuectl"), `#!/bin/sh\nexec bun ${CLI_PATH} "$@"\n`);
    chmodSync(join(bin, "queuectl"), 0o755);
    const offers = async (line: string) => {
      const child = Bun.spawn(["fish", "-N", "-c", `source ${script}; complete -C '${line}'`], {
        env: { ...context.home.env, PATH: `${bin}:${process.env.PATH}` },
        stdout: "pipe",
        stderr: "pipe",
      });
      const [out, err] = await Promise.all([
        new Response(child.stdout).text(),
        new Response(child.stderr).text(),
      ]);
      expect(err).toBe("");
      return out
        .split("\n")
        .filter(Boolean)
        .map((offer) => offer.split("\t")[0]);
    };
    expect(await offers(`queuectl --db=${other} logs el`)).toEqual(["elsewhere"]);
    expect(await offers(`queuectl --db ${other} show el`)).toEqual(["elsewhere"]);
    expect(await offers("queuectl list --state fa")).toEqual(["failed"]);
    expect(await offers("queuectl completion ")).toEqual(["bash", "fish", "zsh"]);
    expect(await offers("queuectl add --queue q -- basenam")).toEqual(["basename"]);
  },
);

/**
 * What each offer is once readline has put it into a command line and the shell runs that
 * line: the words it becomes, one per line (an offer that is not one word shows as several).
 */
async function typed(offers: string[]): Promise<string[]> {
  // Each offer goes into the line raw, as readline puts it there.
  const program = offers.map((offer) => `printf '%s\\n' ${offer}`).join("\n");
  const child = Bun.spawn(["bash", "-c", program], {
    cwd: context.home.home,
    stdout: "pipe",
    stderr: "pipe",
  });
  const out = await new Response(child.stdout).text();
  await child.exited;
  return out.split("\n").filter(Boolean).sort();
}

test("bash offers ids quoted: nothing in one is run, expanded, globbed or split, on TAB or when the line runs", async () => {
  const proof = join(context.home.home, "ran");
  const ids = [`a$(touch ${proof})`, "b`touch x`", "c$HOME", "d*", "e f"];
  for (const id of ids) await enqueue(context.home, { id, command: "true" });
  await enqueue(context.home, { id: "cq", command: "true" });
  const script = ok(await context.cli("completion", "bash"));
  expect(await typed(await complete(script, "queuectl show "))).toEqual([...ids, "cq"].sort());
  expect(await typed(await complete(script, "queuectl show c"))).toEqual(["c$HOME", "cq"]);
  expect(await typed(await complete(script, "queuectl add --after d"))).toEqual(["d*"]);
  expect(existsSync(proof)).toBe(false);
  expect(existsSync(join(context.home.home, "x"))).toBe(false);

  // What bash put in the line (a common prefix, quoted) still completes, and so does an id
  // with characters to quote before a `:`, after which readline replaces the text.
  for (const id of ["run$1", "run$2", "db[1]@2026-12-01T02:00:00.000Z", "é:1"])
    await enqueue(context.home, { id, command: "true" });
  expect(await typed(await complete(script, "queuectl show run\\$"))).toEqual(["run$1", "run$2"]);
  expect(await complete(script, "queuectl show db[1]@2026-12-01T02:0")).toEqual(["00:00.000Z"]);
  // In any locale: printf %q wrote $'…' for non-ASCII text in the C locale, which cut nothing.
  for (const LC_ALL of ["C", "C.UTF-8"])
    expect(await complete(script, "queuectl show é:", { LC_ALL })).toEqual(["1"]);
});

test("zsh runs the same function through bashcompinit; fish gets its own complete lines", async () => {
  const zsh = ok(await context.cli("completion", "zsh"));
  expect(zsh).toStartWith("# queuectl completion for zsh. Install: add  source <(queuectl completion zsh)");
  expect(zsh).toContain("bashcompinit");
  expect(zsh).toContain("_queuectl() {");
  const fish = ok(await context.cli("completion", "fish"));
  expect(fish).toContain("-a list -d 'List jobs, newest first, one row each'");
  expect(fish).toContain(
    'complete -c queuectl -n "__fish_seen_subcommand_from wait" -a "(__queuectl_ask completion --ids)"',
  );
  expect(fish).toContain('complete -c queuectl -l after -x -a "(__queuectl_ask completion --ids)"');
  expect(fish).toContain(
    "complete -c queuectl -n \"__fish_seen_subcommand_from completion\" -a 'bash zsh fish'",
  );
});

test("--ids lists recent ids, newest first; an unknown shell is bad input", async () => {
  await enqueue(context.home, { id: "a", command: "true" });
  await enqueue(context.home, { id: "b", command: "true" });
  expect(ok(await context.cli("completion", "--ids"))).toBe("b\na\n");
  const bad = await context.cli("completion", "bsh");
  expect(bad.exitCode).toBe(2);
  expect(bad.stderr).toContain("did you mean `bash`?");
});
