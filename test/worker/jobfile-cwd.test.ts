/**
 * A jobfile's relative `cwd` is the folder beside its file, wherever the worker runs; an
 * ad hoc job's relative `cwd` is the worker's own folder's, as a shell's would be. The
 * revision keeps the `cwd` as written, so a checkout moved elsewhere re-runs nothing.
 */

import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { normalizeSpec, specRevision } from "../../src/core/spec.ts";
import { runSpec } from "../../src/worker/run.ts";
import { backends, withQueue } from "./in-process.ts";

// Real processes on a busy two-core machine: generous, not the 5 s default.
setDefaultTimeout(60_000);

const SETTINGS = { "poll-interval": "0.1" };

test("only a jobfile job's relative cwd is taken from its file's folder", () => {
  const spec = normalizeSpec({ id: "j", command: "pwd", cwd: "data" });
  expect(runSpec(spec, "/repo/jobs/nightly/j.yaml").cwd).toBe("/repo/jobs/nightly/data");
  expect(runSpec(spec, null)).toBe(spec);
  const absolute = normalizeSpec({ id: "j", command: "pwd", cwd: "/srv" });
  expect(runSpec(absolute, "/repo/jobs/j.yaml")).toBe(absolute);
  // What is hashed is the spec as written, not the folder it resolves to.
  expect(specRevision(spec)).toBe(specRevision(normalizeSpec({ id: "j", command: "pwd", cwd: "data" })));
});

for (const backend of backends) {
  describe.concurrent(`a jobfile's relative cwd (${backend.name})`, () => {
    test(
      "runs in the folder beside the jobfile",
      withQueue(backend, SETTINGS, async (h, store) => {
        const folder = join(h.queue.home.home, "repo", "jobs", "nightly");
        mkdirSync(join(folder, "data"), { recursive: true });
        const out = join(h.queue.home.home, "pwd.txt");
        const spec = normalizeSpec({ id: "report", command: `pwd > ${out}`, cwd: "data" });
        await store.jobfileApply({
          changes: {
            declarations: [
              {
                spec,
                revision: specRevision(spec),
                maxRetries: 0,
                nextRunAt: 0,
                source: join(folder, "report.yaml"),
                owner: join(h.queue.home.home, "repo", "jobs"),
                adoptFrom: null,
              },
            ],
            removals: [],
          },
          now: Date.now(),
        });
        h.start(store);
        expect(await h.settled(store, "report")).toBe("completed");
        expect(readFileSync(out, "utf8").trim()).toBe(join(folder, "data"));
      }),
    );
  });
}
