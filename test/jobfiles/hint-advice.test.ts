/**
 * A hint is only worth its words if doing what it says works: here the file is rewritten as
 * the hint tells, and the next sync applies it.
 */

import { afterEach, beforeEach, describe, expect, setDefaultTimeout, test } from "bun:test";
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

describe("NDJSON in a .json jobfile", () => {
  test("rewritten as the hint's example says, it syncs", async () => {
    const jobs = ['{"id":"n1","command":"echo 1"}', '{"id":"n2","command":"echo 2"}'];
    fixture.write("nd.json", `${jobs.join("\n")}\n`);
    const refused = await sync(store, fixture.dir);
    expect(refused.plan.errors).toHaveLength(1);
    const hint = refused.plan.errors[0]?.hint ?? "";
    // The example the hint gives, filled with the file's own jobs.
    const example = /\((\{"jobs": \[\{…\}, \{…\}\]\})/.exec(hint)?.[1];
    expect(example).toBeDefined();
    fixture.write("nd.json", (example as string).replace("{…}, {…}", jobs.join(",\n")));
    const applied = await sync(store, fixture.dir);
    expect(applied.plan.errors).toEqual([]);
    expect(applied.applied?.create.sort()).toEqual(["n1", "n2"]);
  });
});
