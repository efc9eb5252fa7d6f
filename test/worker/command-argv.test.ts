/**
 * A plain string command is exec'd the way `sh -c` would exec it, without the shell
 * (src/worker/command-argv.ts): only commands the shell would merely split and look up
 * take the shortcut, and each keeps the shell to fall back on. run.test.ts runs them.
 */

import { describe, expect, test } from "bun:test";
import { commandLaunch, plainCommandWords } from "../../src/worker/command-argv.ts";

describe("which string commands skip the shell", () => {
  test("plain words do, split on blanks", () => {
    expect(plainCommandWords("true")).toEqual(["true"]);
    expect(plainCommandWords("  sleep\t0.1 ")).toEqual(["sleep", "0.1"]);
    expect(plainCommandWords("dd if=/dev/zero of=/dev/null bs=1k count=1")).toEqual([
      "dd",
      "if=/dev/zero",
      "of=/dev/null",
      "bs=1k",
      "count=1",
    ]);
    expect(plainCommandWords("./deploy.sh --env=prod user@host:/srv 50% a,b +x")).not.toBeNull();
  });

  test("anything the shell would read itself does not", () => {
    const shellOnly = [
      "",
      "   ",
      "echo hi",
      "cd /tmp",
      "exit 3",
      "time sleep 1",
      "if true",
      "FOO=1 env",
      "ls *.txt",
      "ls ~",
      "echo $HOME",
      "a; b",
      "a && b",
      "a | b",
      "a > out",
      "a 'quoted word'",
      'a "quoted"',
      "a \\n",
      "a # comment",
      "a\nb",
      "a `b`",
      "a (b)",
      "a {b}",
      "! a",
    ];
    for (const command of shellOnly)
      expect({ command, words: plainCommandWords(command) }).toEqual({ command, words: null });
  });

  test("a plain command resolves its program on the job's PATH and keeps the shell to fall back on", () => {
    const launch = commandLaunch({ id: "j", command: "true --ignored" }, { PATH: process.env.PATH });
    expect(launch.argv[0]).toMatch(/\/true$/);
    expect(launch.argv.slice(1)).toEqual(["--ignored"]);
    expect(launch.argv0).toBe("true");
    expect(launch.fallback).toEqual(["/bin/sh", "-c", "--", "true --ignored"]);
    // Not found on PATH: the shell runs it and reports it the shell's way.
    expect(
      commandLaunch({ id: "j", command: "no-such-program-here" }, { PATH: process.env.PATH }).argv,
    ).toEqual(["/bin/sh", "-c", "--", "no-such-program-here"]);
  });
  test("under a resource limit a plain string keeps the shell, so the wrapper never execs a stale lookup", () => {
    const launch = commandLaunch({ id: "j", command: "true" }, { PATH: process.env.PATH }, true);
    expect(launch.argv).toEqual(["/bin/sh", "-c", "--", "true"]);
    // An empty PATH entry is the current folder to the shell: the shell looks it up.
    expect(commandLaunch({ id: "j", command: "true" }, { PATH: `:${process.env.PATH}` }).argv).toEqual([
      "/bin/sh",
      "-c",
      "--",
      "true",
    ]);
  });

  test("a command starting with - or + is the shell's command line, never options to sh", () => {
    for (const command of ["-1", "-x echo hi", "+x", "-", "--", "-c"]) {
      for (const limited of [false, true]) {
        const launch = commandLaunch({ id: "j", command }, { PATH: process.env.PATH }, limited);
        expect({ command, limited, argv: launch.argv }).toEqual({
          command,
          limited,
          argv: ["/bin/sh", "-c", "--", command],
        });
      }
    }
  });
});
