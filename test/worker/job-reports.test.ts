/**
 * Jobs that talk back, with real workers on every backend: progress a job writes to
 * $QUEUECTL_PROGRESS shows on the job while it runs and stays after it ends; a JSON result
 * written to $QUEUECTL_RESULT is stored, passed along a pipeline to the jobs that run
 * `after` it, and refused (with a note on the attempt) when it is too big or not JSON.
 */

import { afterEach, describe, expect, setDefaultTimeout, test } from "bun:test";
import { readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { job as jobDetail } from "../../src/dashboard/api.ts";
import type { Store } from "../../src/store/store.ts";
import { dependencyResultNames, parseProgress, RESULT_CAP_BYTES } from "../../src/worker/job-reports.ts";
import { waitFor } from "../helpers/cli.ts";
import { backends, Harness } from "./in-process.ts";

setDefaultTimeout(60_000);

let harness: Harness | undefined;
afterEach(async () => {
  await harness?.cleanup();
  harness = undefined;
});

async function setUp(backend: (typeof backends)[number]): Promise<{ h: Harness; store: Store }> {
  harness = new Harness(await backend.create());
  const store = await harness.open();
  await store.configSet({ key: "poll-interval", value: "0.1" });
  return { h: harness, store };
}

describe("progress lines", () => {
  test("a percentage with an optional message; anything else is ignored", () => {
    expect(parseProgress("40 copying files\n")).toEqual({ pct: 40, message: "copying files" });
    expect(parseProgress("12.7% half")).toEqual({ pct: 12, message: "half" });
    expect(parseProgress("100")).toEqual({ pct: 100, message: null });
    expect(parseProgress("10 a\n20 b\n\n")).toEqual({ pct: 20, message: "b" });
    expect(parseProgress("copying\u001b[2J 5")).toBeNull();
    expect(parseProgress("5 bell\u0007")?.message).toBe("bell");
    expect(parseProgress("x".repeat(300))).toBeNull();
    for (const bad of ["", "101 too far", "-5 negative", "forty", "1e3"])
      expect(parseProgress(bad)).toBeNull();
    expect(parseProgress(`1 ${"m".repeat(500)}`)?.message?.length).toBe(200);
    // Cut before an emoji that would be split in two, never inside it.
    expect(parseProgress(`1 ${"m".repeat(199)}😀 more`)?.message).toBe("m".repeat(199));
    // Lines redrawn with a carriage return, as rsync and curl write them: the last one counts.
    expect(parseProgress("10%\r20%\r30% done\r")).toEqual({ pct: 30, message: "done" });
  });

  test("dependency names are upper case, A-Z 0-9 and _, and never collide", () => {
    expect([...dependencyResultNames(["build-1", "Build.1", "x"]).values()]).toEqual([
      "BUILD_1",
      "BUILD_1_2",
      "X",
    ]);
    // One `_` per character, an emoji (two UTF-16 units) included.
    expect(dependencyResultNames(["ünï😀"]).get("ünï😀")).toBe("_N__");
  });
});

for (const backend of backends) {
  describe(`jobs that talk back (${backend.name})`, () => {
    test("progress shows while the job runs, bad lines are ignored, and the last value stays", async () => {
      const { h, store } = await setUp(backend);
      const gate = join(h.queue.home.home, "go");
      // The job reports, then waits for the test to have seen the report before it goes on.
      const command = `echo "40 copying" > "$QUEUECTL_PROGRESS"; while [ ! -e ${gate} ]; do sleep 0.05; done; echo "not progress at all" > "$QUEUECTL_PROGRESS"; sleep 0.3; echo "90 almost" > "$QUEUECTL_PROGRESS"`;
      await h.enqueue(store, [{ id: "p", command }]);
      h.start(await h.open());
      const running = await waitFor(
        async () => {
          const job = await store.jobGet({ id: "p" });
          return job?.progress_pct === 40 ? job : null;
        },
        { timeoutMs: 20_000, what: "progress 40" },
      );
      expect(running.state).toBe("processing");
      expect(running.progress_message).toBe("copying");
      writeFileSync(gate, "");
      expect(await h.settled(store, "p")).toBe("completed");
      const done = await store.jobGet({ id: "p" });
      expect([done?.progress_pct, done?.progress_message]).toEqual([90, "almost"]);
      expect(h.workers[0]?.events.filter((event) => event.type === "error")).toEqual([]);
    });

    test("a three-step pipeline passes a value along through results", async () => {
      const { h, store } = await setUp(backend);
      await h.enqueue(store, [
        { id: "step-a", command: `echo '{"n": 1}' > "$QUEUECTL_RESULT"` },
        {
          id: "step-b",
          after: ["step-a"],
          // From the environment variable of the dependency…
          command: `n=$(echo "$QUEUECTL_RESULT_STEP_A" | sed 's/[^0-9]//g'); echo "{\\"n\\": $((n + 1))}" > "$QUEUECTL_RESULT"`,
        },
        {
          id: "step-c",
          after: ["step-b"],
          // …and from its file.
          command: `n=$(sed 's/[^0-9]//g' "$QUEUECTL_DEP_RESULTS/STEP_B.json"); echo "{\\"n\\": $((n * 10))}" > "$QUEUECTL_RESULT"`,
        },
      ]);
      h.start(await h.open(), { concurrency: 2 });
      h.start(await h.open());
      expect(await h.settled(store, "step-c")).toBe("completed");
      const results = await store.jobResults({ ids: ["step-a", "step-b", "step-c"] });
      const byId = Object.fromEntries(results.map((entry) => [entry.id, JSON.parse(entry.result ?? "null")]));
      expect(byId).toEqual({ "step-a": { n: 1 }, "step-b": { n: 2 }, "step-c": { n: 20 } });
      // The dashboard's job detail returns it as `show --json` does.
      const detail = (await (await jobDetail(store, "step-c")).json()) as { result: unknown };
      expect(detail.result).toEqual({ n: 20 });
    });

    test("a result over the cap or not JSON is not stored, and the attempt says why", async () => {
      const { h, store } = await setUp(backend);
      const goodJson = join(h.queue.home.home, "good.json");
      await h.enqueue(store, [
        { id: "big", command: `head -c ${RESULT_CAP_BYTES + 1} /dev/zero | tr '\\0' 1 > "$QUEUECTL_RESULT"` },
        { id: "junk", command: `echo 'not json' > "$QUEUECTL_RESULT"` },
        { id: "fifo", command: `rm -f "$QUEUECTL_RESULT"; mkfifo "$QUEUECTL_RESULT"` },
        { id: "dangling", command: `ln -s /nonexistent/result "$QUEUECTL_RESULT"` },
        { id: "silent", command: "true" },
        // JSON that would read one way in `show --json` and another as stored: refused too.
        { id: "twice", command: `printf '{"a":1,"a":2}' > "$QUEUECTL_RESULT"` },
        { id: "huge", command: `printf '{"n":1e400}' > "$QUEUECTL_RESULT"` },
        // Bytes that are not UTF-8 would be stored and handed on changed (as U+FFFD).
        { id: "latin1", command: `printf '"\\377\\376"' > "$QUEUECTL_RESULT"` },
        { id: "blurred", command: `echo '[1.0, 12345678901234567890]' > "$QUEUECTL_RESULT"` },
        // A link to good JSON is still a link: never followed.
        { id: "linked", command: `echo '{"ok":1}' > ${goodJson}; ln -s ${goodJson} "$QUEUECTL_RESULT"` },
      ]);
      h.start(await h.open());
      const ids = [
        "big",
        "junk",
        "fifo",
        "dangling",
        "silent",
        "twice",
        "huge",
        "latin1",
        "blurred",
        "linked",
      ];
      for (const id of ids) expect(await h.settled(store, id)).toBe("completed");
      for (const { result } of await store.jobResults({ ids })) expect(result).toBeNull();
      // The files (and FIFOs and links) a job left in its report files' places are removed
      // before its outcome is recorded.
      expect(readdirSync(join(h.queue.home.home, "reports"))).toEqual([]);
      const [big] = await store.attemptList({ jobId: "big" });
      expect(big?.error).toContain("over the 64 KiB cap");
      const [junk] = await store.attemptList({ jobId: "junk" });
      expect(junk?.error).toContain("not JSON");
      const [twice] = await store.attemptList({ jobId: "twice" });
      expect(twice?.error).toBe('result not stored: $QUEUECTL_RESULT gives the key "a" twice');
      const [huge] = await store.attemptList({ jobId: "huge" });
      expect(huge?.error).toBe(
        "result not stored: $QUEUECTL_RESULT holds the number 1e400, which a double cannot keep exactly (write it as a string)",
      );
      const [latin1] = await store.attemptList({ jobId: "latin1" });
      expect(latin1?.error).toBe("result not stored: $QUEUECTL_RESULT is not UTF-8 text, as JSON must be");
      // 1.0 is 1 however it is written; the twenty digits are not what JSON.parse gives back.
      const [linked] = await store.attemptList({ jobId: "linked" });
      expect(linked?.error).toBe("result not stored: $QUEUECTL_RESULT is not a regular file");
      const [blurred] = await store.attemptList({ jobId: "blurred" });
      expect(blurred?.error).toContain("holds the number 12345678901234567890, which a double cannot keep");
    });

    test("a result of exactly the cap is stored, white space around it set aside", async () => {
      const { h, store } = await setUp(backend);
      // A JSON string of RESULT_CAP_BYTES bytes, quotes included, and the newline echo would add.
      const value = `head -c ${RESULT_CAP_BYTES - 2} /dev/zero | tr '\\0' a`;
      await h.enqueue(store, [
        { id: "full", command: `{ printf '"'; ${value}; printf '"\\n'; } > "$QUEUECTL_RESULT"` },
      ]);
      h.start(await h.open());
      expect(await h.settled(store, "full")).toBe("completed");
      const [stored] = await store.jobResults({ ids: ["full"] });
      expect(stored?.result?.length).toBe(RESULT_CAP_BYTES);
      expect((await store.attemptList({ jobId: "full" }))[0]?.error).toBeNull();
    });

    test("a job that puts a file where the report folder was still completes, with no note", async () => {
      const { h, store } = await setUp(backend);
      const command = `d=$(dirname "$QUEUECTL_RESULT"); rm -rf "$d"; : > "$d"`;
      await h.enqueue(store, [{ id: "vandal", command }]);
      h.start(await h.open());
      expect(await h.settled(store, "vandal")).toBe("completed");
      const [attempt] = await store.attemptList({ jobId: "vandal" });
      expect(attempt?.error).toBeNull();
    });

    test("a FIFO or a folder in the result file's place is said so on the attempt", async () => {
      const { h, store } = await setUp(backend);
      await h.enqueue(store, [
        { id: "fifo", command: 'mkfifo "$QUEUECTL_RESULT"' },
        // A folder with a file in it, and one where the progress file goes: both removed after.
        {
          id: "folder",
          command: 'mkdir "$QUEUECTL_RESULT" "$QUEUECTL_PROGRESS"; : > "$QUEUECTL_RESULT/big"',
        },
      ]);
      h.start(await h.open());
      for (const id of ["fifo", "folder"]) {
        expect(await h.settled(store, id)).toBe("completed");
        const [attempt] = await store.attemptList({ jobId: id });
        expect(attempt?.error).toBe("result not stored: $QUEUECTL_RESULT is not a regular file");
        expect((await store.jobGet({ id }))?.result).toBeNull();
      }
      expect(readdirSync(join(h.queue.home.home, "reports"))).toEqual([]);
    });

    test("a retry that writes no result does not keep the failed attempt's", async () => {
      const { h, store } = await setUp(backend);
      await store.configSet({ key: "backoff-base", value: "1" });
      const marker = join(h.queue.home.home, "ran-once");
      const command = `if [ -e ${marker} ]; then exit 0; fi; touch ${marker}; echo '"first"' > "$QUEUECTL_RESULT"; echo "50 first" > "$QUEUECTL_PROGRESS"; exit 1`;
      await h.enqueue(store, [{ id: "retry", command, max_retries: 1 }]);
      h.start(await h.open());
      expect(await h.settled(store, "retry")).toBe("completed");
      const job = await store.jobGet({ id: "retry" });
      expect(job?.attempts).toBe(2);
      expect(job?.result).toBeNull();
      expect(job?.progress_pct).toBeNull();
    });

    test("a run handed back (a stopping worker's second signal) leaves neither its result nor its progress", async () => {
      const { h, store } = await setUp(backend);
      const reported = join(h.queue.home.home, "reported");
      const command = `echo '{"v":"handback"}' > "$QUEUECTL_RESULT"; echo "33 handback" > "$QUEUECTL_PROGRESS"; touch ${reported}; exec sleep 300`;
      await h.enqueue(store, [{ id: "back", command }]);
      const { worker, run } = h.start(await h.open());
      await waitFor(async () => (await store.jobGet({ id: "back" }))?.progress_pct === 33, {
        what: "the progress to be stored while the job runs",
      });
      worker.requestStop("signal");
      worker.escalate();
      await run;
      const job = await store.jobGet({ id: "back" });
      expect(job).toMatchObject({ state: "pending", attempts: 0, result: null, progress_pct: null });
      expect(readdirSync(join(h.queue.home.home, "reports"))).toEqual([]);
    });
  });
}
