/**
 * The one rule of occurrence ids: `<schedule id>@<instant>` (the instant as toISOString
 * writes it) is what the ticker builds, and what no other door may take while that
 * schedule exists.
 */

import { describe, expect, setDefaultTimeout, test } from "bun:test";
import fc from "fast-check";
import {
  claimantIds,
  describeScheduleClaim,
  firstScheduleClaim,
  occurrenceId,
  parseOccurrenceId,
  scheduleClaim,
} from "../../src/core/occurrence-id.ts";
import { occurrenceSpec } from "../../src/core/schedule.ts";
import { normalizeSpec } from "../../src/core/spec.ts";

setDefaultTimeout(10_000);

const AT = Date.parse("2026-12-02T12:32:04.000Z");

describe("occurrence ids", () => {
  test("parse reads back what the ticker builds, for any schedule id and instant", () => {
    fc.assert(
      fc.property(
        fc.string({ minLength: 1 }),
        fc.integer({ min: Date.parse("1970-01-01T00:00:00Z"), max: Date.parse("9999-12-31T23:59:59Z") }),
        (scheduleId, at) => {
          expect(parseOccurrenceId(occurrenceId(scheduleId, at))).toEqual({ scheduleId, at });
        },
      ),
    );
  });

  test("the ids occurrences get are the ids the rule parses", () => {
    const spec = normalizeSpec({ id: "nightly", command: "true", schedule: "0 3 * * *" });
    expect(parseOccurrenceId(occurrenceSpec(spec, AT).id)).toEqual({ scheduleId: "nightly", at: AT });
  });

  test("a schedule id may hold @ itself: the instant follows the last one", () => {
    expect(parseOccurrenceId("team@host@2026-12-02T12:32:04.000Z")).toEqual({
      scheduleId: "team@host",
      at: AT,
    });
  });

  test("only the canonical instant is an occurrence id; anything else is an ordinary id", () => {
    for (const id of [
      "sec@2026-12-02T12:32:04Z",
      "sec@2026-12-02T12:32:04.000+00:00",
      "sec@2026-12-02",
      "sec@2026-02-30T00:00:00.000Z",
      "sec@tomorrow",
      "@2026-12-02T12:32:04.000Z",
      "sec",
      "user@example.com",
    ]) {
      expect(parseOccurrenceId(id)).toBeNull();
    }
  });

  test("a schedule claims its own id and its occurrence ids, and nothing else", () => {
    const schedules = new Set(["sec", "team@host"]);
    const isSchedule = (id: string) => schedules.has(id);
    expect(scheduleClaim("sec", isSchedule)).toEqual({ kind: "schedule", scheduleId: "sec" });
    expect(scheduleClaim("sec@2026-12-02T12:32:04.000Z", isSchedule)).toEqual({
      kind: "occurrence",
      scheduleId: "sec",
    });
    expect(scheduleClaim("team@host@2026-12-02T12:32:04.000Z", isSchedule)?.scheduleId).toBe("team@host");
    expect(scheduleClaim("other@2026-12-02T12:32:04.000Z", isSchedule)).toBeNull();
    expect(scheduleClaim("sec@2026-12-02T12:32:04Z", isSchedule)).toBeNull();
    expect(scheduleClaim("secs", isSchedule)).toBeNull();
  });

  test("claimantIds names every schedule id the claims depend on", () => {
    expect(claimantIds(["plain", "sec@2026-12-02T12:32:04.000Z"])).toEqual([
      "plain",
      "sec@2026-12-02T12:32:04.000Z",
      "sec",
    ]);
  });

  test("the first claimed id in input order is the one reported, with a message naming the schedule", () => {
    const claimed = firstScheduleClaim(["a", "s@2026-12-02T12:32:04.000Z", "s"], (id) => id === "s");
    expect(claimed?.id).toBe("s@2026-12-02T12:32:04.000Z");
    const described = describeScheduleClaim(
      claimed?.id ?? "",
      claimed?.claim ?? { kind: "schedule", scheduleId: "" },
    );
    expect(described.message).toBe(
      'id "s@2026-12-02T12:32:04.000Z" is the id of an occurrence of schedule "s"',
    );
    expect(described.why).toContain('"s@<time>"');
  });
});
