/**
 * Where the data folder is and what this host is called: both come from the environment first,
 * and from the OS only when it says nothing.
 */

import { describe, expect, test } from "bun:test";
import { homedir, hostname } from "node:os";
import { join, resolve } from "node:path";
import { hostName, queuectlHome } from "../../src/core/home.ts";

describe("queuectlHome", () => {
  test("QUEUECTL_HOME wins, made absolute; set but blank is refused, never read as unset", () => {
    expect(queuectlHome({ QUEUECTL_HOME: "rel/q", HOME: "/home/a" })).toBe(resolve("rel/q"));
    for (const blank of ["", "  "]) {
      expect(() => queuectlHome({ QUEUECTL_HOME: blank, HOME: "/home/a" })).toThrow(
        "QUEUECTL_HOME is set but empty",
      );
    }
  });

  test("else ~/.queuectl, from $HOME, and from the OS's account entry without one", () => {
    expect(queuectlHome({ HOME: "/home/a" })).toBe("/home/a/.queuectl");
    expect(queuectlHome({})).toBe(join(homedir(), ".queuectl"));
    expect(queuectlHome({ HOME: "" })).toBe(join(homedir(), ".queuectl"));
  });
});

describe("hostName", () => {
  test("QUEUECTL_HOST wins, trimmed; else the OS host name", () => {
    expect(hostName({ QUEUECTL_HOST: " box-1 " })).toBe("box-1");
    expect(hostName({ QUEUECTL_HOST: "" })).toBe(hostname());
    expect(hostName({})).toBe(hostname());
  });
});
