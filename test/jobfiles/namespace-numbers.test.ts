/**
 * A namespace is a name, though YAML reads `2024` or `1.10` as a number: it is taken as the
 * characters written, as `enqueue` takes `id: 42`, so `1.10` never becomes "1.1".
 */

import { afterEach, beforeEach, describe, expect, setDefaultTimeout, test } from "bun:test";
import { join } from "node:path";
import { UserError } from "../../src/core/errors.ts";
import { readFolderSettings, SETTINGS_FILE } from "../../src/jobfiles/folder-settings.ts";
import type { Store } from "../../src/store/store.ts";
import { type JobsFixture, jobsFixture, sync } from "./helpers.ts";

// Real processes on a busy two-core machine: generous, not the 5 s default.
setDefaultTimeout(60_000);

let fixture: JobsFixture;
let store: Store;
beforeEach(async () => {
  fixture = jobsFixture();
  store = await fixture.store();
});
afterEach(() => fixture.cleanup());

describe("a namespace YAML reads as a number", () => {
  test("is the text written", async () => {
    for (const written of ["2024", "1.10", "007", "0x1F", "1e3"]) {
      fixture.write(SETTINGS_FILE, `namespace: ${written}  # a comment\n`);
      expect(await readFolderSettings(fixture.dir)).toEqual({ namespace: written });
    }
  });

  test("prefixes the folder's ids as written", async () => {
    fixture.write(SETTINGS_FILE, "namespace: 1.10\n");
    fixture.write("build.yaml", "command: echo\n");
    const outcome = await sync(store, fixture.dir);
    expect(outcome.plan.errors).toEqual([]);
    expect(outcome.applied?.create).toEqual(["1.10/build"]);
  });

  test("is still checked as a name", async () => {
    fixture.write(SETTINGS_FILE, "namespace: -7\n");
    const error = await readFolderSettings(fixture.dir).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(UserError);
    expect((error as UserError).message).toBe(
      `${join(fixture.dir, SETTINGS_FILE)}: namespace "-7" is not a valid name`,
    );
  });

  test("`true` is refused with a hint to quote it, which works", async () => {
    fixture.write(SETTINGS_FILE, "namespace: true\n");
    const error = await readFolderSettings(fixture.dir).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(UserError);
    expect((error as UserError).hint).toStartWith('quote it (`namespace: "true"`)');
    fixture.write(SETTINGS_FILE, 'namespace: "true"\n');
    expect(await readFolderSettings(fixture.dir)).toEqual({ namespace: "true" });
  });
});
