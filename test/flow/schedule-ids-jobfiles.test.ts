/**
 * Jobfiles and the ids schedules claim, on every backend: a jobfile may not declare an
 * occurrence id (`<schedule id>@<instant>`) of a schedule the store has or the folder
 * declares. The file is in error (file:line, naming the schedule) and keeps what it had.
 */

import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { tickSchedules } from "../../src/flow/tick.ts";
import { type BackendTest, forEachBackend, sync } from "../jobfiles/helpers.ts";
import { enqueue } from "./helpers.ts";

// Real stores on a busy two-core machine: generous, not the 5 s default.
setDefaultTimeout(60_000);

const NIGHTLY = 'command: echo nightly\nschedule: "0 3 * * *"\n';
const OCCURRENCE = "nightly@2026-12-03T03:00:00.000Z";
const HANDMADE = `id: "${OCCURRENCE}"\ncommand: echo handmade\n`;

forEachBackend("schedule ids in jobfiles", suite);

function suite(t: BackendTest): void {
  describe("a jobfile may not declare an occurrence id", () => {
    test("of a schedule made with enqueue: the file is in error, naming the schedule", async () => {
      await t.setUp();
      await enqueue(t.store, [{ id: "nightly", command: "echo nightly", schedule: "0 3 * * *" }]);
      t.fixture.write("hand.yaml", `# an occurrence, made by hand\n${HANDMADE}`);
      t.fixture.write("fine.yaml", "command: echo fine\n");
      const outcome = await sync(t.store, t.fixture.dir);
      expect(outcome.plan.errors).toEqual([
        {
          file: "hand.yaml",
          line: 2,
          column: 1,
          field: "id",
          message: `id "${OCCURRENCE}" is the id of an occurrence of schedule "nightly"`,
          hint: 'give this job another `id`; ids of the form "nightly@<time>" are kept for that schedule\'s occurrences',
        },
      ]);
      expect(outcome.applied?.create).toEqual(["fine"]);
      expect(await t.store.jobGet({ id: OCCURRENCE })).toBeNull();
    });

    test("of a schedule another file of the folder declares, in the same sync", async () => {
      await t.setUp();
      t.fixture.write("nightly.yaml", NIGHTLY);
      t.fixture.write("hand.yaml", HANDMADE);
      const outcome = await sync(t.store, t.fixture.dir);
      expect(outcome.plan.errors.map((error) => [error.file, error.field, error.message])).toEqual([
        ["hand.yaml", "id", `id "${OCCURRENCE}" is the id of an occurrence of schedule "nightly"`],
      ]);
      expect(outcome.appliedSchedules?.created).toEqual(["nightly"]);
      expect((await t.store.jobList({})).map((job) => job.id)).toEqual([]);
    });

    test("nor may a jobfile schedule take one", async () => {
      await t.setUp();
      t.fixture.write("nightly.yaml", NIGHTLY);
      t.fixture.write("hand.yaml", `${HANDMADE}schedule: "0 4 * * *"\n`);
      const outcome = await sync(t.store, t.fixture.dir);
      expect(outcome.plan.errors.map((error) => error.file)).toEqual(["hand.yaml"]);
      expect((await t.store.scheduleList()).map((schedule) => schedule.id)).toEqual(["nightly"]);
    });

    test("declared before the schedule existed: the job stays as it was, and the next sync reports it", async () => {
      await t.setUp();
      t.fixture.write("hand.yaml", HANDMADE);
      expect((await sync(t.store, t.fixture.dir)).applied?.create).toEqual([OCCURRENCE]);
      const schedule = { id: "nightly", command: "echo nightly", schedule: "0 3 * * *" };
      await enqueue(t.store, [schedule], Date.parse("2026-12-02T12:00:00Z"));
      const outcome = await sync(t.store, t.fixture.dir);
      expect(outcome.plan.errors.map((error) => error.file)).toEqual(["hand.yaml"]);
      expect(outcome.plan.changes).toEqual([]);
      expect((await t.store.jobGet({ id: OCCURRENCE }))?.spec.command).toBe("echo handmade");
      // The ticker never writes over it: that occurrence is skipped (and a worker says so).
      const fired = await tickSchedules(t.store, Date.parse("2026-12-03T03:00:30Z"));
      expect(fired.skipped).toContain(OCCURRENCE);
      expect((await t.store.jobGet({ id: OCCURRENCE }))?.spec.command).toBe("echo handmade");
    });

    test("an id that only looks like one is an ordinary id", async () => {
      await t.setUp();
      t.fixture.write("nightly.yaml", NIGHTLY);
      t.fixture.write("a.yaml", 'id: "nightly@2026-12-03T03:00:00Z"\ncommand: echo a\n');
      t.fixture.write("b.yaml", 'id: "other@2026-12-03T03:00:00.000Z"\ncommand: echo b\n');
      const outcome = await sync(t.store, t.fixture.dir);
      expect(outcome.plan.errors).toEqual([]);
      expect(outcome.applied?.create).toEqual([
        "nightly@2026-12-03T03:00:00Z",
        "other@2026-12-03T03:00:00.000Z",
      ]);
    });
  });
}
