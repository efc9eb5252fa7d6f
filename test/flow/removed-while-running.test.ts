import { expect, setDefaultTimeout, test } from "bun:test";
import { normalizeSpec, specRevision } from "../../src/core/spec.ts";
import { forEachBackend } from "./helpers.ts";

// Real processes on a busy two-core machine: generous, not the 5 s default.
setDefaultTimeout(60_000);

forEachBackend((backend) => {
  test("a job whose jobfile is removed while it runs finishes, and is not retried when that run fails", async () => {
    const store = await backend.store();
    const spec = normalizeSpec({ id: "declared", command: "false", max_retries: 3 });
    const job = {
      spec,
      revision: specRevision(spec),
      maxRetries: 3,
      nextRunAt: 0,
      source: "/jobs/declared.yaml",
    };
    const declaration = { ...job, source: "/jobs/declared.yaml", owner: "/jobs", adoptFrom: null };
    await store.jobfileApply({ changes: { declarations: [declaration], removals: [] }, now: 1 });
    const claimed = await store.jobClaim({ workerId: "w", host: "h", now: 2, leaseMs: 60_000 });
    expect(claimed?.id).toBe("declared");
    const removed = await store.jobfileApply({
      changes: { declarations: [], removals: [{ id: "declared", owner: "/jobs" }] },
      now: 3,
    });
    expect(removed.cancel).toEqual([]);
    expect((await store.jobGet({ id: "declared" }))?.state).toBe("processing");
    const failed = {
      exitCode: 1,
      signal: null,
      error: "exit 1",
      stdoutBytes: 0,
      stderrBytes: 0,
      logPath: null,
      outputTail: null,
    };
    await store.jobFail({
      id: "declared",
      token: claimed?.token ?? 0,
      now: 4,
      state: "failed",
      nextRunAt: 10,
      result: failed,
    });
    const after = await store.jobGet({ id: "declared" });
    expect(after?.state).toBe("canceled");
    expect(after?.last_error).toContain("jobfile was removed");
  });
});
