/**
 * Input piped into `enqueue -f -` and `import -` is copied aside before anything is stored.
 * The copy has no name while it is read, so a process killed at any moment leaves nothing
 * in the temporary folder, however large the input was.
 */

import { afterEach, beforeEach, expect, setDefaultTimeout, test } from "bun:test";
import { mkdtempSync, readdirSync, readlinkSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CLI_PATH, type TempHome, tempHome, waitFor } from "../helpers/cli.ts";

// Real processes on a busy two-core machine: generous, not the 5 s default.
setDefaultTimeout(60_000);

let home: TempHome;
let temp: string;
beforeEach(() => {
  home = tempHome();
  temp = mkdtempSync(join(tmpdir(), "queuectl-spool-test-"));
});
afterEach(() => {
  home.cleanup();
  rmSync(temp, { recursive: true, force: true });
});

/** The files `pid` holds open whose name was removed. */
function deletedFiles(pid: number): string[] {
  const links: string[] = [];
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      links.push(readlinkSync(`/proc/${pid}/fd/${fd}`));
    } catch {
      // Closed while we looked.
    }
  }
  return links.filter((link) => link.startsWith(temp) && link.endsWith("(deleted)"));
}

for (const command of [
  ["enqueue", "-f", "-"],
  ["import", "-"],
]) {
  test(`${command.join(" ")}: the copy of stdin has no name, so SIGKILL mid-read leaves nothing behind`, async () => {
    const child = Bun.spawn(["bun", CLI_PATH, ...command], {
      env: { ...home.env, TMPDIR: temp },
      stdin: "pipe",
      stdout: "pipe",
      stderr: "pipe",
    });
    const line =
      command[0] === "import"
        ? '{"kind":"job","job":{"id":"a","command":"true"}}'
        : '{"id":"a","command":"true"}';
    child.stdin.write(`${line}\n`);
    await child.stdin.flush();
    // Still reading (stdin stays open): the copy is open, and already without a name.
    await waitFor(() => deletedFiles(child.pid).length > 0, { what: "the spooled copy to be open" });
    expect(readdirSync(temp)).toEqual([]);
    child.kill("SIGKILL");
    await child.exited;
    expect(readdirSync(temp)).toEqual([]);
  });
}

test("enqueue -f -: a piped input is still read twice to name both lines of a repeated id", async () => {
  const child = Bun.spawn(["bun", CLI_PATH, "enqueue", "-f", "-"], {
    env: { ...home.env, TMPDIR: temp },
    stdin: new Blob([
      '{"id":"d","command":"true"}\n{"id":"e","command":"true"}\n{"id":"d","command":"true"}\n',
    ]),
    stdout: "pipe",
    stderr: "pipe",
  });
  expect(await child.exited).toBe(2);
  expect(await new Response(child.stderr).text()).toContain(
    'stdin, line 3: the id "d" is already used by line 1',
  );
  expect(readdirSync(temp)).toEqual([]);
});
