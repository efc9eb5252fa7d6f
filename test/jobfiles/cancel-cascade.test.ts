/**
 * A removed jobfile's cancel takes the jobs waiting on it along: the plan names them, counted
 * as Applied then reports, when the same sync also removes, re-declares or adds those jobs.
 * On every backend.
 */

import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { appliedSummary, planLines, planSummary } from "../../src/render/sync.ts";
import { type BackendTest, forEachBackend, jobOf, NOTHING_APPLIED, sync } from "./helpers.ts";

// Real processes on a busy two-core machine: generous, not the 5 s default.
setDefaultTimeout(60_000);

forEachBackend("cancel cascade", suite);

function suite(t: BackendTest): void {
  describe("what a removal cancels with it", () => {
    /** Plans with a dry run, applies, and returns both summaries and the plan's cancel lists. */
    async function planThenApply() {
      const dry = await sync(t.store, t.fixture.dir, { dryRun: true });
      const applied = await sync(t.store, t.fixture.dir);
      return {
        cancels: dry.plan.changes.filter((c) => c.action === "cancel").map((c) => [c.id, c.cancels]),
        plan: planSummary(dry),
        lines: planLines(dry),
        applied: appliedSummary(applied.applied ?? NOTHING_APPLIED, null),
        dependents: applied.applied?.canceledDependents,
      };
    }

    test("a job removed together with the job it waits on is one cancel of its own, counted once", async () => {
      await t.setUp();
      t.fixture.write("a.yaml", "command: echo a\n");
      t.fixture.write("b.yaml", "command: echo b\nafter: [a]\n");
      t.fixture.write("c.yaml", "command: echo c\nafter: [b]\n");
      await sync(t.store, t.fixture.dir);
      t.fixture.remove("a.yaml");
      t.fixture.remove("b.yaml");
      const seen = await planThenApply();
      expect(seen.cancels).toEqual([
        ["a", ["c"]],
        ["b", []],
      ]);
      expect(seen.plan).toContain("2 to cancel, 1 dependent to cancel");
      expect(seen.applied).toContain("2 canceled, 1 dependent canceled");
      expect(seen.dependents).toEqual(["c"]);
      expect((await jobOf(t.store, "c")).state).toBe("canceled");
    });

    test("a job that stops waiting on the removed one in the same sync is not canceled, nor named", async () => {
      await t.setUp();
      t.fixture.write("a.yaml", "command: echo a\n");
      t.fixture.write("b.yaml", "command: echo b\nafter: [a]\n");
      await sync(t.store, t.fixture.dir);
      t.fixture.remove("a.yaml");
      t.fixture.write("b.yaml", "command: echo b\n");
      const seen = await planThenApply();
      expect(seen.cancels).toEqual([["a", []]]);
      expect(seen.plan).not.toContain("dependent");
      expect(seen.applied).not.toContain("dependent");
      expect((await jobOf(t.store, "b")).state).toBe("pending");
    });

    test("a job added in the same sync that waits on the removed one is named under its cancel", async () => {
      await t.setUp();
      t.fixture.write("a.yaml", "command: echo a\n");
      await sync(t.store, t.fixture.dir);
      t.fixture.remove("a.yaml");
      t.fixture.write("c.yaml", "command: echo c\nafter: [a]\n");
      const seen = await planThenApply();
      expect(seen.cancels).toEqual([["a", ["c"]]]);
      expect(seen.lines.some((line) => line.includes("also cancels c, waiting on it"))).toBe(true);
      expect(seen.applied).toContain("1 created");
      expect(seen.dependents).toEqual(["c"]);
      expect((await jobOf(t.store, "c")).state).toBe("canceled");
    });
  });
}
