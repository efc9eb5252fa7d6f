/**
 * A QUEUECTL_HOME that runs into a file on its way: the error names the file that is in the
 * way, not the data folder, which does not exist and so cannot be "a file".
 */

import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { refused, runCli, type TempHome, tempHome } from "../helpers/cli.ts";

let home: TempHome;
beforeEach(() => {
  home = tempHome();
});
afterEach(() => home.cleanup());

const statusWithHome = (dataFolder: string) =>
  runCli(["status"], { env: { ...home.env, QUEUECTL_HOME: dataFolder } });

describe("a data folder under a file", () => {
  test("names the parent that is a file, exit 2, one line", async () => {
    const file = join(home.home, "afile");
    writeFileSync(file, "");
    for (const dataFolder of [join(file, "x"), join(file, "x", "y", "z")]) {
      const result = await statusWithHome(dataFolder);
      refused(result, `the data folder ${dataFolder} cannot be made: ${file} is a file, not a folder`);
      expect(result.stderr).toContain("move that file aside, or set QUEUECTL_HOME to a folder elsewhere");
      expect(result.stderr).not.toContain(`${dataFolder} is a file`);
    }
    expect(existsSync(join(file, "x"))).toBe(false);
  });

  test("a data folder that is itself a file is still named as the file", async () => {
    const file = join(home.home, "afile");
    writeFileSync(file, "");
    refused(await statusWithHome(file), `the data folder ${file} is a file, not a folder`);
  });
});
