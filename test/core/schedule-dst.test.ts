/**
 * Schedules across changes of the UTC offset, pure and on a fixed clock. When the clocks go
 * back, every wall time of the repeated stretch fires once, at its first occurrence, for
 * any pattern and any zone and size of shift; when they go forward, a wall time they skip
 * runs once, at the change, beside every run croner places.
 */

import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { join } from "node:path";
import { dueOccurrences, nextOccurrence } from "../../src/core/schedule.ts";
import { normalizeSpec } from "../../src/core/spec.ts";

setDefaultTimeout(30_000);

const HOUR = 3_600_000;

function specOf(schedule: string, timezone?: string) {
  return normalizeSpec({ id: "d", command: "true", schedule, ...(timezone ? { timezone } : {}) });
}

/** Every occurrence in [from, until), as nextOccurrence gives them one after another. */
function runs(schedule: string, timezone: string, from: string, until: string): number[] {
  const spec = specOf(schedule, timezone);
  const found: number[] = [];
  let cursor = Date.parse(from) - 1;
  for (;;) {
    const next = nextOccurrence(spec, cursor);
    if (next === null || next >= Date.parse(until)) return found;
    found.push(next);
    cursor = next;
  }
}

/** croner's own runs in [from, until), with nothing passed over: what the clocks-forward side must keep. */
function cronerRuns(schedule: string, timezone: string, from: string, until: string): number[] {
  const { Cron } = require("croner") as typeof import("croner");
  const cron = new Cron(schedule, { paused: true, timezone });
  const found: number[] = [];
  let cursor = Date.parse(from) - 1;
  for (;;) {
    const next = cron.nextRun(new Date(cursor))?.getTime() ?? null;
    if (next === null || next >= Date.parse(until)) return found;
    found.push(next);
    cursor = next;
  }
}

const iso = (times: number[]) => times.map((at) => new Date(at).toISOString());

function wallTime(zone: string, at: number): string {
  return new Intl.DateTimeFormat("sv-SE", {
    timeZone: zone,
    dateStyle: "short",
    timeStyle: "medium",
  }).format(at);
}

/** The nights the clocks go back (start and end of the UTC window around the change). */
const FALL_BACK = [
  // 03:00 CEST → 02:00 CET: 02:00–02:59 happens twice.
  { zone: "Europe/Berlin", from: "2026-10-24T22:00:00Z", until: "2026-10-25T04:00:00Z" },
  // 02:00 EDT → 01:00 EST: 01:00–01:59 happens twice.
  { zone: "America/New_York", from: "2026-11-01T03:00:00Z", until: "2026-11-01T09:00:00Z" },
  // 02:00 LHDT → 01:30 LHST: a shift of 30 minutes, 01:30–01:59 happens twice.
  { zone: "Australia/Lord_Howe", from: "2026-04-04T12:00:00Z", until: "2026-04-04T18:00:00Z" },
];

/** Patterns that touch each zone's repeated stretch: lists, ranges, steps, seconds and every minute. */
const PATTERNS = [
  "0,30 1,2 * * *",
  "15,45 1-2 * * *",
  "*/20 1,2 * * *",
  "* 1,2 * * *",
  "0,30 0,15,30,45 1,2 * * *",
  "0 */1 * * *",
  "*/5 * * * *",
];

describe("clocks going back: each wall time fires once", () => {
  test("Europe/Berlin, 25 October 2026: the tester's examples", () => {
    const night = ["Europe/Berlin", "2026-10-24T22:00:00Z", "2026-10-25T04:00:00Z"] as const;
    expect(iso(runs("0 2 * * *", ...night))).toEqual(["2026-10-25T00:00:00.000Z"]);
    expect(iso(runs("15 2 * * *", ...night))).toEqual(["2026-10-25T00:15:00.000Z"]);
    expect(iso(runs("0,30 2 * * *", ...night))).toEqual([
      "2026-10-25T00:00:00.000Z",
      "2026-10-25T00:30:00.000Z",
    ]);
    expect(iso(runs("*/20 2 * * *", ...night))).toEqual([
      "2026-10-25T00:00:00.000Z",
      "2026-10-25T00:20:00.000Z",
      "2026-10-25T00:40:00.000Z",
    ]);
    expect(iso(runs("10-11 2 * * *", ...night))).toEqual([
      "2026-10-25T00:10:00.000Z",
      "2026-10-25T00:11:00.000Z",
    ]);
    expect(iso(runs("0,30 0 2 * * *", ...night))).toEqual([
      "2026-10-25T00:00:00.000Z",
      "2026-10-25T00:00:30.000Z",
    ]);
    const everyMinute = runs("* 2 * * *", ...night);
    expect(everyMinute).toHaveLength(60);
    expect(iso(everyMinute).at(-1)).toBe("2026-10-25T00:59:00.000Z");
  });

  test("America/New_York: 01:00 and 01:30 once, in EDT", () => {
    expect(
      iso(runs("0,30 1 * * *", "America/New_York", "2026-11-01T03:00:00Z", "2026-11-01T09:00:00Z")),
    ).toEqual(["2026-11-01T05:00:00.000Z", "2026-11-01T05:30:00.000Z"]);
  });

  test("Australia/Lord_Howe, a 30-minute shift: 01:30 and 01:45 once, in LHDT", () => {
    expect(
      iso(
        runs("0,15,30,45 1-2 * * *", "Australia/Lord_Howe", "2026-04-04T12:00:00Z", "2026-04-04T18:00:00Z"),
      ),
    ).toEqual([
      "2026-04-04T14:00:00.000Z",
      "2026-04-04T14:15:00.000Z",
      "2026-04-04T14:30:00.000Z",
      "2026-04-04T14:45:00.000Z",
      // 15:00Z and 15:15Z are 01:30 and 01:45 again (LHST): passed over.
      "2026-04-04T15:30:00.000Z",
      "2026-04-04T15:45:00.000Z",
      "2026-04-04T16:00:00.000Z",
      "2026-04-04T16:15:00.000Z",
    ]);
  });

  test("every pattern in every zone: no wall time twice, and none that croner fires is lost", () => {
    for (const { zone, from, until } of FALL_BACK) {
      for (const pattern of PATTERNS) {
        const walls = runs(pattern, zone, from, until).map((at) => wallTime(zone, at));
        expect({ zone, pattern, repeated: walls.length - new Set(walls).size }).toEqual({
          zone,
          pattern,
          repeated: 0,
        });
        const cronerWalls = new Set(cronerRuns(pattern, zone, from, until).map((at) => wallTime(zone, at)));
        expect({ zone, pattern, walls: [...new Set(walls)] }).toEqual({
          zone,
          pattern,
          walls: [...cronerWalls],
        });
      }
    }
  });

  test("an every-second schedule pauses for the repeated hour and resumes at its end", () => {
    const spec = specOf("* * * * * *", "Europe/Berlin");
    expect(iso([nextOccurrence(spec, Date.parse("2026-10-25T00:59:59Z")) ?? 0])).toEqual([
      "2026-10-25T02:00:00.000Z",
    ]);
    expect(iso([nextOccurrence(spec, Date.parse("2026-10-25T01:30:00Z")) ?? 0])).toEqual([
      "2026-10-25T02:00:00.000Z",
    ]);
  });

  test("catch-up over the repeated hour owes each wall time once, and the next one is the next day's", () => {
    const spec = normalizeSpec({
      id: "d",
      command: "true",
      schedule: "0,30 2 * * *",
      timezone: "Europe/Berlin",
      catchup: "all",
    });
    const due = dueOccurrences(spec, Date.parse("2026-10-25T00:00:00Z"), Date.parse("2026-10-25T03:00:00Z"));
    expect(iso(due.runAt)).toEqual(["2026-10-25T00:00:00.000Z", "2026-10-25T00:30:00.000Z"]);
    expect(due.skipped).toBe(0);
    expect(iso([due.nextAt ?? 0])).toEqual(["2026-10-26T01:00:00.000Z"]);
  });

  test("a next_at stored inside the repeated hour (by an older version) is not owed", () => {
    const spec = specOf("0,30 2 * * *", "Europe/Berlin");
    const due = dueOccurrences(spec, Date.parse("2026-10-25T01:00:00Z"), Date.parse("2026-10-25T01:05:00Z"));
    expect(due.runAt).toEqual([]);
    expect(iso([due.nextAt ?? 0])).toEqual(["2026-10-26T01:00:00.000Z"]);
  });
});

describe("clocks going forward: a wall time they skip runs once, at the change", () => {
  /** `change`: the instant the clocks jump; `skipped`: the wall times that never show, written as UTC. */
  const SPRING = [
    {
      zone: "Europe/Berlin",
      from: "2026-03-28T22:00:00Z",
      until: "2026-03-29T04:00:00Z",
      change: "2026-03-29T01:00:00.000Z",
      skipped: ["2026-03-29T02:00:00Z", "2026-03-29T03:00:00Z"],
    },
    {
      zone: "America/New_York",
      from: "2026-03-08T04:00:00Z",
      until: "2026-03-08T10:00:00Z",
      change: "2026-03-08T07:00:00.000Z",
      skipped: ["2026-03-08T02:00:00Z", "2026-03-08T03:00:00Z"],
    },
    {
      zone: "Australia/Lord_Howe",
      from: "2026-10-03T12:00:00Z",
      until: "2026-10-03T18:00:00Z",
      change: "2026-10-03T15:30:00.000Z",
      skipped: ["2026-10-04T02:00:00Z", "2026-10-04T02:30:00Z"],
    },
  ];

  test("every pattern in every zone: croner's runs stay, and a skipped wall time adds the change once", () => {
    for (const { zone, from, until, change, skipped } of SPRING) {
      for (const pattern of [...PATTERNS, "30 2 * * *", "0,30 2 * * *", "45 2,4 * * *", "15 2,3 * * *"]) {
        // croner on a clock that never skips, over the skipped stretch: does the pattern name one of it?
        const namesSkipped = cronerRuns(pattern, "UTC", skipped[0] ?? "", skipped[1] ?? "").length > 0;
        const expected = [
          ...new Set([...iso(cronerRuns(pattern, zone, from, until)), ...(namesSkipped ? [change] : [])]),
        ];
        expect({ zone, pattern, runs: iso(runs(pattern, zone, from, until)) }).toEqual({
          zone,
          pattern,
          runs: expected.sort(),
        });
      }
    }
  });

  test("with another hour in the list, the skipped one is not lost: 02:45 runs at 03:00, 04:45 as ever", () => {
    expect(
      iso(runs("45 2,4 * * *", "Europe/Berlin", "2027-03-27T23:00:00Z", "2027-03-28T23:00:00Z")),
    ).toEqual(["2027-03-28T01:00:00.000Z", "2027-03-28T02:45:00.000Z"]);
  });

  test("a skipped 02:30 in Europe/Berlin runs once, at 03:00 local", () => {
    expect(iso(runs("30 2 * * *", "Europe/Berlin", "2026-03-28T00:00:00Z", "2026-03-30T12:00:00Z"))).toEqual([
      "2026-03-28T01:30:00.000Z",
      "2026-03-29T01:00:00.000Z",
      "2026-03-30T00:30:00.000Z",
    ]);
  });
});

describe("a schedule without a timezone", () => {
  test("runs in UTC, as the README and `schedule list` say, whatever zone the host is set to", () => {
    const script = `
      import { nextOccurrence } from ${JSON.stringify(join(import.meta.dir, "../../src/core/schedule.ts"))};
      import { normalizeSpec } from ${JSON.stringify(join(import.meta.dir, "../../src/core/spec.ts"))};
      const spec = normalizeSpec({ id: "d", command: "true", schedule: "0 3 * * *" });
      console.log(new Date(nextOccurrence(spec, Date.parse("2026-06-01T00:00:00Z"))).toISOString());`;
    const child = Bun.spawnSync([process.execPath, "-e", script], {
      env: { ...process.env, TZ: "Europe/Berlin" },
    });
    expect(child.stderr.toString()).toBe("");
    expect(child.stdout.toString().trim()).toBe("2026-06-01T03:00:00.000Z");
    expect(nextOccurrence(specOf("0 3 * * *"), Date.parse("2026-06-01T00:00:00Z"))).toBe(
      Date.parse("2026-06-01T00:00:00Z") + 3 * HOUR,
    );
  });
});
