/**
 * What an enqueue says about `after`, on every backend, in memory and streamed: an unknown
 * dependency is named as the user wrote the job (by its id, or by where it sits when its id
 * was generated), and the jobs the store queued canceled, because a dependency had already
 * ended (README, Dependencies), are reported with what re-arms them.
 */

import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { resolveConfig } from "../../src/core/config.ts";
import { canceledAtOnceWarnings } from "../../src/core/dependencies.ts";
import { ARGUMENT_NAME, parseJobInput, prepareJobs } from "../../src/core/job-input.ts";
import { enqueuePrepared } from "../../src/flow/enqueue.ts";
import { readInput } from "../../src/flow/enqueue-input.ts";
import { enqueueStream } from "../../src/flow/enqueue-stream.ts";
import type { Store } from "../../src/store/store.ts";
import { enqueue, forEachBackend, refusal, runNext, stateOf } from "./helpers.ts";

setDefaultTimeout(60_000);

/** `enqueue` of `text` as the input `name` (the JSON argument, or a file read whole). */
function enqueueText(store: Store, text: string, name: string) {
  const now = Date.now();
  return enqueuePrepared(store, prepareJobs(parseJobInput(text, name), name, resolveConfig({}), now), now);
}

/** `enqueue -f jobs.ndjson` of these lines, through the streaming path. */
async function enqueueNdjson(store: Store, lines: object[]) {
  const folder = mkdtempSync(join(tmpdir(), "queuectl-after-"));
  try {
    const path = join(folder, "jobs.ndjson");
    writeFileSync(path, `${lines.map((line) => JSON.stringify(line)).join("\n")}\n`);
    const input = await readInput(path, "ndjson");
    if (input.kind !== "stream") throw new Error("expected a streamed input");
    return await enqueueStream(store, input.input, { config: resolveConfig({}), now: Date.now() });
  } finally {
    rmSync(folder, { recursive: true, force: true });
  }
}

/** A store holding `dd`, dead. */
async function withDeadJob(store: Store): Promise<Store> {
  await enqueue(store, [{ id: "dd", command: "false" }]);
  expect(await runNext(store, "dead")).toBe("dd");
  return store;
}

const RETRY_DD = 'run "dd" again (queuectl dlq retry dd)';

forEachBackend((backend) => {
  describe("an unknown dependency is named as the user wrote the job", () => {
    const missing = 'waits for "nope", which is not in the queue';
    test("the JSON argument: by its id when it has one, else as the job; never a generated id", async () => {
      const store = await backend.store();
      expect(await refusal(enqueueText(store, '{"command":"true","after":["nope"]}', ARGUMENT_NAME))).toBe(
        `the job ${missing} — enqueue that job first, or fix the \`after\` list`,
      );
      expect(
        await refusal(enqueueText(store, '{"id":"j","command":"true","after":["nope"]}', ARGUMENT_NAME)),
      ).toBe(`job "j" ${missing} — enqueue that job first, or fix the \`after\` list`);
      expect(await store.jobList({})).toEqual([]);
    });

    test("a file: by its item, or the file when it holds one job, and by its id when it has one", async () => {
      const store = await backend.store();
      const sameFile = "enqueue that job first, in the same file, or fix the `after` list";
      const list = '[{"id":"a","command":"true"},{"command":"true","after":["nope"]}]';
      expect(await refusal(enqueueText(store, list, "jobs.json"))).toBe(
        `jobs.json, item 2: the job ${missing} — ${sameFile}`,
      );
      expect(await refusal(enqueueText(store, '{"command":"true","after":["nope"]}', "job.json"))).toBe(
        `job.json: the job ${missing} — ${sameFile}`,
      );
      expect(
        await refusal(enqueueText(store, '[{"id":"b","command":"true","after":["nope"]}]', "j.json")),
      ).toBe(`j.json, item 1: job "b" ${missing} — ${sameFile}`);
      expect(await store.jobList({})).toEqual([]);
    });

    test("a streamed file: by its line, and by its id when it has one", async () => {
      const store = await backend.store();
      const sameFile = "enqueue that job first, in the same file, or fix the `after` list";
      const lines = [
        { id: "a", command: "true" },
        { command: "true" },
        { command: "true", after: ["a", "nope"] },
      ];
      expect(await refusal(enqueueNdjson(store, lines))).toEndWith(
        `/jobs.ndjson, line 3: the job ${missing} — ${sameFile}`,
      );
      const named = [
        { id: "a", command: "true" },
        { id: "b", command: "true", after: ["nope"] },
      ];
      expect(await refusal(enqueueNdjson(store, named))).toEndWith(
        `/jobs.ndjson, line 2: job "b" ${missing} — ${sameFile}`,
      );
      expect(await store.jobList({})).toEqual([]);
    });
  });

  describe("jobs queued canceled, because a dependency had already ended, are reported", () => {
    test("in memory: each with what ended and what re-arms it, a cascade with its root", async () => {
      const store = await withDeadJob(await backend.store());
      await enqueue(store, [{ id: "ok", command: "true" }]);
      const result = await enqueue(store, [
        { id: "y", command: "true", after: ["x"] },
        { id: "x", command: "true", after: ["ok", "dd"] },
        { id: "waits", command: "true", after: ["ok"] },
      ]);
      expect(canceledAtOnceWarnings(result.canceledAtOnce)).toEqual([
        `job "x" was canceled at once: dependency dd ended dead — ${RETRY_DD} and "x" waits for it again`,
        `job "y" was canceled at once: dependency x was canceled because dd did not complete — ${RETRY_DD} and "y" waits for it again`,
      ]);
      expect(await stateOf(store, "y")).toBe("canceled");
      expect(await stateOf(store, "waits")).toBe("pending");
      // What the warning says to do re-arms them.
      await store.jobTransition({
        id: "dd",
        from: ["dead"],
        to: "pending",
        resetAttempts: true,
        now: Date.now(),
      });
      expect([await stateOf(store, "x"), await stateOf(store, "y")]).toEqual(["pending", "pending"]);
    });

    test("a dependency canceled by hand is run again with rerun; none ended, nothing is said", async () => {
      const store = await backend.store();
      await enqueue(store, [{ id: "c", command: "true", delay: "1h" }]);
      const now = Date.now();
      await store.jobTransition({ id: "c", from: ["pending"], to: "canceled", resetAttempts: false, now });
      const result = await enqueue(store, [{ id: "j", command: "true", after: ["c"] }]);
      expect(canceledAtOnceWarnings(result.canceledAtOnce)).toEqual([
        'job "j" was canceled at once: dependency c ended canceled — run "c" again (queuectl rerun c) and "j" waits for it again',
      ]);
      const fine = await enqueue(store, [
        { id: "k", command: "true" },
        { id: "l", command: "true", after: ["k"] },
      ]);
      expect(fine.canceledAtOnce).toEqual([]);
    });

    test("streamed: found by looking up the few dependencies outside the input", async () => {
      const store = await withDeadJob(await backend.store());
      const result = await enqueueNdjson(store, [
        { id: "a", command: "true" },
        { id: "b", command: "true", after: ["a", "dd"] },
        { id: "c", command: "true", after: ["a"] },
      ]);
      expect(canceledAtOnceWarnings(result.canceledAtOnce)).toEqual([
        `job "b" was canceled at once: dependency dd ended dead — ${RETRY_DD} and "b" waits for it again`,
      ]);
    });

    test("streamed: past a thousand dependencies outside the input, by listing the ended jobs", async () => {
      const store = await withDeadJob(await backend.store());
      const lines: object[] = [];
      for (let index = 0; index < 1001; index++) {
        lines.push(
          { id: `s${index}`, command: "true" },
          { id: `w${index}`, command: "true", after: [`s${index}`] },
        );
      }
      for (let index = 0; index < 7; index++) lines.push({ id: `d${index}`, command: "true", after: ["dd"] });
      const warnings = canceledAtOnceWarnings((await enqueueNdjson(store, lines)).canceledAtOnce);
      expect(warnings).toHaveLength(6);
      expect(warnings[0]).toStartWith('job "d0" was canceled at once: dependency dd ended dead');
      expect(warnings[5]).toBe("2 more jobs were canceled at once: queuectl list --state canceled");
      expect(await stateOf(store, "w1000")).toBe("pending");
    });
  });
});
