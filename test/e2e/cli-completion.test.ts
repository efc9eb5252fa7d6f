/**
 * Completion scripts: the bash one is run in a real bash, as the shell runs it on TAB
 * (COMP_WORDS set, the function called, COMPREPLY read), with `queuectl` on PATH so its
 * callbacks for job ids and queue names reach the test's store.
 */

import { expect, setDefaultTimeout, test } from "bun:test";
import { chmodSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { CLI_PATH } from "../helpers/cli.ts";
import { enqueue, ok, workerTestContext } from "../worker/helpers.ts";

setDefaultTimeout(60_000);

const context = workerTestContext();

/** The words bash offers after typing `line` (a trailing space means a new, empty word). */
async function complete(script: string, line: string): Promise<string[]> {
  const bin = join(context.home.home, "bin");
  mkdirSync(bin, { recursive: true });
  writeFileSync(join(bin, "queuectl"), `#!/bin/sh\nexec bun ${CLI_PATH} "$@"\n`);
  chmodSync(join(bin, "queuectl"), 0o755);
  const words = line.split(" ");
  const program = [
    script,
    `COMP_WORDS=(${words.map((word) => `'${word}'`).join(" ")})`,
    `COMP_CWORD=${words.length - 1}`,
    "_queuectl",
    // biome-ignore lint/suspicious/noTemplateCurlyInString: a bash expansion, not a template
    'printf "%s\\n" "${COMPREPLY[@]}"',
  ].join("\n");
  const child = Bun.spawn(["bash", "-c", program], {
    env: { ...context.home.env, PATH: `${bin}:${process.env.PATH}` },
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
});

test("--ids lists recent ids, newest first; an unknown shell is bad input", async () => {
  await enqueue(context.home, { id: "a", command: "true" });
  await enqueue(context.home, { id: "b", command: "true" });
  expect(ok(await context.cli("completion", "--ids"))).toBe("b\na\n");
  const bad = await context.cli("completion", "bsh");
  expect(bad.exitCode).toBe(2);
  expect(bad.stderr).toContain("did you mean `bash`?");
});
