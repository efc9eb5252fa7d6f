/** The overlap decision, pure: every policy against every kind of existing occurrence, on a fixed clock. */

import { describe, expect, test } from "bun:test";
import type { OverlapPolicy } from "../../src/core/flow-spec.ts";
import { JOB_STATES, type JobState } from "../../src/core/job.ts";
import { dueOccurrences, occurrenceId } from "../../src/core/schedule.ts";
import {
  decideOccurrences,
  summarizeOccurrences,
  UNFINISHED_OCCURRENCE_STATES,
} from "../../src/core/schedule-tick.ts";
import { normalizeSpec } from "../../src/core/spec.ts";

const MINUTE = 60_000;
const FIRST = Date.parse("2026-06-01T12:10:00Z");

/** Three owed occurrences: a ten-minute schedule last handled at 12:10, ticked at 12:31. */
function owedThree(): [string, string, string] {
  const spec = normalizeSpec({ id: "s", command: "true", schedule: "*/10 * * * *", catchup: "all" });
  const due = dueOccurrences(spec, FIRST, FIRST + 21 * MINUTE);
  expect(due.runAt.map((at) => new Date(at).toISOString())).toEqual([
    "2026-06-01T12:10:00.000Z",
    "2026-06-01T12:20:00.000Z",
    "2026-06-01T12:30:00.000Z",
  ]);
  const [a = 0, b = 0, c = 0] = due.runAt;
  return [occurrenceId("s", a), occurrenceId("s", b), occurrenceId("s", c)];
}

const EARLIER = occurrenceId("s", FIRST - 10 * MINUTE);

function decide(overlap: OverlapPolicy, owed: string[], existing: { id: string; state: JobState }[] = []) {
  return summarizeOccurrences(decideOccurrences({ overlap, owed, existing }));
}

describe("catch-up of three owed occurrences", () => {
  test("allow queues all three", () => {
    const owed = owedThree();
    expect(decide("allow", owed)).toEqual({ enqueued: owed, skipped: [], replaced: [] });
  });

  test("skip queues the oldest only: the later ones would find it still waiting", () => {
    const owed = owedThree();
    expect(decide("skip", owed)).toEqual({ enqueued: [owed[0]], skipped: owed.slice(1), replaced: [] });
  });

  test("replace queues the newest only, and cancels nothing it queued itself", () => {
    const owed = owedThree();
    const actions = decideOccurrences({ overlap: "replace", owed, existing: [] });
    expect(actions).toEqual([
      { kind: "skip", id: owed[0], reason: "superseded" },
      { kind: "skip", id: owed[1], reason: "superseded" },
      { kind: "enqueue", id: owed[2] },
    ]);
  });
});

describe("an earlier occurrence in each state", () => {
  for (const state of JOB_STATES) {
    const unfinished = UNFINISHED_OCCURRENCE_STATES.includes(state);
    const existing = [{ id: EARLIER, state }];

    test(`${state}: skip ${unfinished ? "queues nothing" : "queues the oldest owed"}`, () => {
      const owed = owedThree();
      expect(decide("skip", owed, existing)).toEqual(
        unfinished
          ? { enqueued: [], skipped: owed, replaced: [] }
          : { enqueued: [owed[0]], skipped: owed.slice(1), replaced: [] },
      );
    });

    test(`${state}: replace queues the newest owed${unfinished ? " and cancels the earlier one" : ""}`, () => {
      const owed = owedThree();
      expect(decide("replace", owed, existing)).toEqual({
        enqueued: [owed[2]],
        skipped: owed.slice(0, 2),
        replaced: unfinished ? [EARLIER] : [],
      });
    });

    test(`${state}: allow queues everything owed and cancels nothing`, () => {
      const owed = owedThree();
      expect(decide("allow", owed, existing)).toEqual({ enqueued: owed, skipped: [], replaced: [] });
    });
  }

  test("replace cancels before it enqueues, every unfinished earlier occurrence", () => {
    const [owed] = owedThree();
    const other = occurrenceId("s", FIRST - 20 * MINUTE);
    expect(
      decideOccurrences({
        overlap: "replace",
        owed: [owed],
        existing: [
          { id: other, state: "processing" },
          { id: EARLIER, state: "failed" },
        ],
      }),
    ).toEqual([
      { kind: "cancel", id: other },
      { kind: "cancel", id: EARLIER },
      { kind: "enqueue", id: owed },
    ]);
  });
});

describe("owed occurrences that already exist", () => {
  test("are never queued twice, whatever the policy", () => {
    const owed = owedThree();
    const existing = owed.map((id) => ({ id, state: "completed" as const }));
    for (const overlap of ["allow", "skip", "replace"] as const) {
      expect(decideOccurrences({ overlap, owed, existing })).toEqual(
        owed.map((id) => ({ kind: "skip", id, reason: "exists" })),
      );
    }
  });

  test("replace with nothing new to queue cancels nothing", () => {
    const owed = owedThree();
    const existing = [
      { id: EARLIER, state: "processing" as const },
      ...owed.map((id) => ({ id, state: "pending" as const })),
    ];
    expect(decide("replace", owed, existing)).toEqual({ enqueued: [], skipped: owed, replaced: [] });
  });

  test("skip: an unfinished owed one blocks the rest; allow queues only the missing ones", () => {
    const owed = owedThree();
    const existing = [{ id: owed[0] ?? "", state: "pending" as const }];
    expect(decide("skip", owed, existing)).toEqual({ enqueued: [], skipped: owed, replaced: [] });
    expect(decide("allow", owed, existing)).toEqual({
      enqueued: owed.slice(1),
      skipped: [owed[0]],
      replaced: [],
    });
  });
});
