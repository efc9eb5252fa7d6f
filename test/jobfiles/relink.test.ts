/**
 * A symlinked jobs folder re-pointed at another target (`ln -sfn releases/v3 jobs`): the new
 * target takes over the old one's jobs and schedules, visibly, unless the old one is still a
 * folder synced in its own right; a file in error holds its job back until it is fixed, and
 * the takeover goes on at the next sync. `sync` of the link, on every backend.
 */

import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { mkdirSync, renameSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { type BackendTest, forEachBackend, jobOf, sync } from "./helpers.ts";

// Real processes on a busy two-core machine: generous, not the 5 s default.
setDefaultTimeout(60_000);

forEachBackend("relink", suite);

function suite(t: BackendTest): void {
  /** Two targets beside the jobs folder, which becomes a link to the first. */
  function targets(one: Record<string, string>, two: Record<string, string>) {
    const paths = [join(t.fixture.home, "v2"), join(t.fixture.home, "v3")] as const;
    for (const [path, files] of [
      [paths[0], one],
      [paths[1], two],
    ] as const) {
      mkdirSync(path, { mode: 0o700 });
      for (const [name, text] of Object.entries(files)) writeFileSync(join(path, name), text);
    }
    rmSync(t.fixture.dir, { recursive: true });
    symlinkSync(paths[0], t.fixture.dir);
    const repoint = () => {
      symlinkSync(paths[1], `${t.fixture.dir}.new`);
      renameSync(`${t.fixture.dir}.new`, t.fixture.dir);
    };
    return { v2: paths[0], v3: paths[1], repoint };
  }

  describe("a re-pointed jobs folder", () => {
    test("takes over the old target's jobs and schedules; what it does not declare is removed", async () => {
      await t.setUp();
      const { v2, repoint } = targets(
        {
          "a.yaml": "command: echo a2\n",
          "gone.yaml": "command: echo gone\n",
          "s.yaml": 'command: echo s\nschedule: "0 * * * *"\n',
        },
        { "a.yaml": "command: echo a3\n" },
      );
      await sync(t.store, t.fixture.dir);
      repoint();
      const outcome = await sync(t.store, t.fixture.dir);
      expect(outcome.plan.errors).toEqual([]);
      const adopted = outcome.plan.changes.find((change) => change.id === "a");
      expect(adopted?.adopt).toEqual({ from: v2, reason: "relinked" });
      expect((await jobOf(t.store, "a")).spec.command).toBe("echo a3");
      expect((await jobOf(t.store, "gone")).state).toBe("canceled");
      expect((await t.store.scheduleList()).map((schedule) => schedule.id)).toEqual([]);
      expect((await sync(t.store, t.fixture.dir, { dryRun: true })).plan.changes).toEqual([]);
    });

    test("never takes the jobs of an old target that is still synced as a folder of its own", async () => {
      await t.setUp();
      const { v2, repoint } = targets(
        { "a.yaml": "command: echo a2\n", "only.yaml": "command: echo only\n" },
        { "a.yaml": "command: echo a3\n" },
      );
      await sync(t.store, v2);
      await sync(t.store, t.fixture.dir);
      repoint();
      const outcome = await sync(t.store, t.fixture.dir);
      expect(outcome.plan.errors.map((error) => [error.file, error.field])).toEqual([["a.yaml", "id"]]);
      expect((await jobOf(t.store, "a")).spec.command).toBe("echo a2");
      expect((await jobOf(t.store, "only")).state).toBe("pending");
      expect((await sync(t.store, v2)).plan.errors).toEqual([]);
    });

    test("a file in error in the new target keeps its job, and fixing it completes the takeover", async () => {
      await t.setUp();
      const { repoint } = targets(
        { "a.yaml": "command: echo a2\n", "b.yaml": "command: echo b2\n" },
        { "a.yaml": "command: [echo a3\n", "b.yaml": "command: echo b3\n" },
      );
      await sync(t.store, t.fixture.dir);
      repoint();
      const first = await sync(t.store, t.fixture.dir);
      expect(first.plan.errors.map((error) => error.file)).toEqual(["a.yaml"]);
      expect(await jobOf(t.store, "a")).toMatchObject({ state: "pending", spec: { command: "echo a2" } });
      expect((await jobOf(t.store, "b")).spec.command).toBe("echo b3");
      writeFileSync(join(t.fixture.dir, "a.yaml"), "command: echo a3\n");
      const fixed = await sync(t.store, t.fixture.dir);
      expect(fixed.plan.errors).toEqual([]);
      expect(fixed.plan.changes.find((change) => change.id === "a")?.adopt?.reason).toBe("relinked");
      expect((await jobOf(t.store, "a")).spec.command).toBe("echo a3");
    });
  });
}
