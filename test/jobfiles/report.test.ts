/** How a plan reads: one line per decided change, its field changes, and counts shared with Applied. */

import { expect, test } from "bun:test";
import type { JobState } from "../../src/core/job.ts";
import { idsByAction, type JobFacts, type JobfileAction } from "../../src/core/reconcile.ts";
import type { Plan, PlannedJob } from "../../src/jobfiles/plan.ts";
import { appliedCounts, planCounts, type SyncOutcome } from "../../src/jobfiles/sync-outcome.ts";
import { appliedSummary, planLines, planSummary } from "../../src/render/sync.ts";

const COMPLETED_AT = Date.UTC(2026, 10, 30, 22, 0, 4);

function change(action: JobfileAction, state: JobState, extra: Partial<PlannedJob> = {}): PlannedJob {
  const actual: JobFacts = {
    id: "x",
    state,
    revision: "7b2e11aaaa",
    spec: { id: "x", command: "echo v2" },
    nextRevision: null,
    source: "/jobs/x.yaml",
    declared: true,
    owner: "/jobs",
    completed: [],
    canceledDependents: [],
    canceledByRemoval: false,
  };
  const job = {
    spec: { id: "x", command: "echo v1" },
    revision: "3f9a1cbbbb",
    maxRetries: 3,
    nextRunAt: 0,
    source: "/jobs/x.yaml",
    file: "x.yaml",
    line: 1,
    column: 1,
  };
  return {
    id: "x",
    action,
    job: action === "cancel" || action === "forget" ? null : job,
    actual: action === "create" ? null : actual,
    file: "x.yaml",
    adopt: null,
    reason: action === "cancel" || action === "forget" ? "jobfileRemoved" : null,
    completed: null,
    rearms: [],
    fields: [],
    ...extra,
  };
}

function outcome(changes: PlannedJob[]): SyncOutcome {
  const plan: Plan = {
    changes,
    unchanged: [],
    schedules: { creates: [], updates: [], removals: [], unchanged: [] },
    errors: [],
  };
  return {
    root: "/jobs",
    namespace: null,
    fileCount: 1,
    canceledAtOnce: [],
    plan,
    applied: null,
    appliedSchedules: null,
    settlesAt: null,
  };
}

test("each action reads as what will happen, never as a condition", () => {
  const completed = { revision: "3f9a1cbbbb", at: COMPLETED_AT };
  const lines = planLines(
    outcome([
      change("showCompleted", "pending", { completed }),
      change("showCompleted", "dead", { completed }),
      change("defer", "processing"),
      change("dropDeferred", "processing"),
      change("skipCompleted", "processing", { completed }),
      change("skipCompleted", "processing", {
        completed,
        actual: { ...change("defer", "processing").actual, nextRevision: "c0ffee1234" } as never,
      }),
      change("replace", "completed", {
        fields: [{ field: "command", from: "echo v2", to: "echo v1" }],
        adopt: { from: "/old/jobs", reason: "gone" },
      }),
    ]),
  );
  expect(lines).toEqual([
    "  = x  unchanged: revision 3f9a1c completed 2026-11-30T22:00:04Z; the pending run of 7b2e11 is dropped  x.yaml",
    "  = x  unchanged: revision 3f9a1c completed 2026-11-30T22:00:04Z (was dead at 7b2e11)  x.yaml",
    "  ~ x  update: queued after the running attempt of 7b2e11  x.yaml",
    "  ~ x  update: back to the running revision 7b2e11; the change queued behind it is dropped  x.yaml",
    "  = x  unchanged: revision 3f9a1c completed 2026-11-30T22:00:04Z; the running attempt of 7b2e11 finishes, nothing runs after it  x.yaml",
    "  = x  unchanged: revision 3f9a1c completed 2026-11-30T22:00:04Z; the running attempt of 7b2e11 finishes, nothing runs after it; the change queued behind it is dropped  x.yaml",
    "  ~ x  adopt from /old/jobs (folder no longer exists); update: the new revision is queued (was completed)  x.yaml",
    '      ~ command: "echo v2" → "echo v1"',
  ]);
  expect(lines.join("\n")).not.toMatch(/unless|if /);
});

test("the plan's counts are Applied's when the store did what the plan said", () => {
  const changes = [
    change("create", "pending"),
    change("replace", "pending"),
    change("defer", "processing"),
    change("showCompleted", "pending"),
    change("skipCompleted", "processing"),
    change("cancel", "pending"),
    change("forget", "completed"),
  ].map((planned, index) => ({ ...planned, id: `j${index}` }));
  const planned = outcome(changes);
  const applied = { ...idsByAction(), rearmed: [], canceledDependents: [] };
  for (const planned of changes) applied[planned.action].push(planned.id);
  expect(appliedCounts(applied, null)).toEqual(planCounts(planned));
  expect(planSummary(planned)).toBe(
    "Plan: 1 to create, 2 to update, 2 already completed (not re-run), 1 to cancel, 1 to forget (file removed, history kept); 0 unchanged.",
  );
  expect(appliedSummary(applied, null)).toBe(
    "Applied: 1 created, 2 updated, 2 already completed (not re-run), 1 canceled, 1 forgotten.",
  );
});

test("the summary gives the reason its forgotten jobs share, and none it does not know", () => {
  const forget = (id: string, reason: PlannedJob["reason"]) => ({
    ...change("forget", "completed"),
    id,
    reason,
  });
  expect(planSummary(outcome([forget("a", "noLongerDeclared"), forget("b", "noLongerDeclared")]))).toContain(
    "2 to forget (no longer declared in its file, history kept)",
  );
  expect(planSummary(outcome([forget("a", "noLongerDeclared"), forget("b", null)]))).toContain(
    "2 to forget (no longer declared, history kept)",
  );
  expect(planSummary(outcome([forget("a", null)]))).toContain("1 to forget (file removed, history kept)");
});

test("a changed duration reads as a jobfile writes it, not as the milliseconds or seconds stored", () => {
  const fields = [
    { field: "delay", from: 3_600_000, to: undefined },
    { field: "timeout", from: 90, to: 300 },
    { field: "priority", from: 1, to: 2 },
  ];
  const lines = planLines(outcome([change("replace", "pending", { fields })]));
  expect(lines.slice(1)).toEqual([
    '      ~ delay: "1h" → (unset)',
    '      ~ timeout: "1m30s" → "5m"',
    "      ~ priority: 1 → 2",
  ]);
});
