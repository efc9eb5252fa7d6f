/** The pure webhook decisions: validation, who gets which event, the body, the signature and the retry schedule. */

import { describe, expect, test } from "bun:test";
import { createHmac } from "node:crypto";
import type { Job } from "../../src/core/job.ts";
import {
  jobNotification,
  type NotifyEvent,
  nextDeliveryAttempt,
  normalizeNotify,
  notificationBody,
  notifyUrls,
  webhookSignature,
} from "../../src/core/notify.ts";
import { normalizeSpec, SpecError } from "../../src/core/spec.ts";

const ALL: NotifyEvent[] = ["completed", "failed", "dead"];

describe("normalizeNotify", () => {
  test("normalizes URLs and events, fills in all events, merges one URL", () => {
    expect(
      normalizeNotify([
        "https://example.com/a",
        { url: "https://example.com/b", events: ["dead", "failed", "dead"] },
        { url: "https://EXAMPLE.com/b", events: "completed" },
      ]),
    ).toEqual([
      { url: "https://example.com/a", events: ALL },
      { url: "https://example.com/b", events: ALL },
    ]);
    expect(normalizeNotify({ url: "http://localhost:8080/x" })).toEqual([
      { url: "http://localhost:8080/x", events: ALL },
    ]);
  });

  test("refuses what cannot be delivered, naming the field and the way out", () => {
    const refused = (value: unknown) => {
      try {
        normalizeNotify(value);
      } catch (error) {
        expect(error).toBeInstanceOf(SpecError);
        return `${(error as SpecError).message} — ${(error as SpecError).hint}`;
      }
      throw new Error("accepted");
    };
    expect(refused("https://x")).toContain("must be a list");
    expect(refused([{ url: "ftp://x" }])).toContain('`notify[0].url` "ftp://x" is not an http or https URL');
    expect(refused([{ url: "not a url" }])).toContain("is not a URL");
    expect(refused([{ url: "https://x", events: ["complete"] }])).toContain("did you mean `completed`");
    expect(refused([{ url: "https://x", events: [] }])).toContain(
      "must be a list of completed, failed, dead",
    );
    expect(refused([{ url: "https://x", event: ["dead"] }])).toContain("did you mean `events`");
    expect(refused([{ events: ["dead"] }])).toContain("`notify[0].url` must be an http(s) URL");
    // One receiver without a list is named as it was typed.
    expect(refused({ events: ["dead"] })).toContain("`notify.url` must be an http(s) URL");
  });

  test("is a job field: validated at the door, and the same list in any order has one revision", () => {
    const a = normalizeSpec({
      id: "a",
      command: "true",
      notify: [{ url: "https://x/", events: ["dead", "failed"] }],
    });
    const b = normalizeSpec({
      id: "a",
      command: "true",
      notify: [{ events: ["failed", "dead"], url: "https://x/" }],
    });
    expect(a).toEqual(b);
    expect(normalizeSpec({ id: "a", command: "true", notify: [] }).notify).toBeUndefined();
    expect(() => normalizeSpec({ id: "a", command: "true", notify: [{ url: 1 }] })).toThrow(SpecError);
    try {
      normalizeSpec({ id: "a", command: "true", notfy: [] });
      throw new Error("accepted");
    } catch (error) {
      expect((error as SpecError).hint).toContain("did you mean `notify`");
    }
  });
});

describe("notifyUrls", () => {
  const job = [{ url: "https://j/", events: ["completed", "dead"] as ("completed" | "dead")[] }];
  const queue = [
    { url: "https://q/", events: ["failed" as const] },
    { url: "https://j/", events: ["dead" as const] },
  ];
  const config = [{ url: "https://c/", events: ["dead" as const] }];

  test("job, then queue, then config; each URL once; only those that want the event", () => {
    expect(notifyUrls({ event: "dead", job, queue, config })).toEqual(["https://j/", "https://c/"]);
    expect(notifyUrls({ event: "failed", job, queue, config })).toEqual(["https://q/"]);
    expect(notifyUrls({ event: "completed", job, queue, config })).toEqual(["https://j/"]);
    expect(notifyUrls({ event: "completed", job: undefined, queue: [], config: [] })).toEqual([]);
  });

  test("one endpoint however it is written: a fragment, never sent, makes no other one", () => {
    const spellings = normalizeNotify([
      "http://127.0.0.1:18096/u3",
      "http://127.0.0.1:18096/u3#x",
      "http://127.0.0.1:18096/u3?",
      "HTTP://127.0.0.1:18096/./u3",
      "http://127.0.0.1:18096/u3?a=1#y",
    ]);
    // An empty query is left: a server may tell `/u3?` from `/u3`.
    expect(notifyUrls({ event: "completed", job: spellings, queue: [], config: [] })).toEqual([
      "http://127.0.0.1:18096/u3",
      "http://127.0.0.1:18096/u3?",
      "http://127.0.0.1:18096/u3?a=1",
    ]);
  });
});

describe("jobNotification", () => {
  const job = (state: Job["state"], notify?: { url: string; events: NotifyEvent[] }[]): Job =>
    ({
      id: "j",
      queue: "default",
      state,
      spec: { id: "j", command: "true", notify },
      attempts: 1,
      max_retries: 0,
      exit_code: 0,
      last_error: null,
      created_at: 0,
      started_at: 0,
      finished_at: 0,
      next_run_at: null,
    }) as unknown as Job;
  const config = [{ url: "https://c/", events: ALL }];

  test("an announced state with listeners: its event, their URLs and the body, once for all URLs", () => {
    const done = job("completed", [{ url: "https://j/", events: ["completed"] }]);
    expect(jobNotification({ job: done, queue: [], config, now: 5 })).toEqual({
      event: "completed",
      urls: ["https://j/", "https://c/"],
      body: notificationBody("completed", done, 5),
    });
  });

  test("nothing for a state that is not announced, or an event nobody listens for", () => {
    expect(jobNotification({ job: job("processing"), queue: [], config, now: 5 })).toBeNull();
    const deadOnly = [{ url: "https://q/", events: ["dead" as const] }];
    expect(jobNotification({ job: job("failed"), queue: deadOnly, config: [], now: 5 })).toBeNull();
  });
});

describe("delivery", () => {
  test("the body carries the event, the job's state, attempt, exit code and times", () => {
    const job = {
      id: "j",
      queue: "default",
      state: "failed",
      attempts: 2,
      max_retries: 3,
      exit_code: 1,
      last_error: "exit 1",
      created_at: 1_700_000_000_000,
      started_at: 1_700_000_001_000,
      finished_at: null,
      next_run_at: 1_700_000_005_000,
    } as Job;
    expect(JSON.parse(notificationBody("failed", job, 1_700_000_002_000))).toEqual({
      event: "failed",
      job_id: "j",
      queue: "default",
      state: "failed",
      attempt: 2,
      max_attempts: 4,
      exit_code: 1,
      error: "exit 1",
      created_at: "2023-11-14T22:13:20.000Z",
      started_at: "2023-11-14T22:13:21.000Z",
      finished_at: null,
      next_run_at: "2023-11-14T22:13:25.000Z",
      occurred_at: "2023-11-14T22:13:22.000Z",
    });
  });

  test("the signature is sha256=<hex HMAC-SHA256 of the raw body>", () => {
    const body = '{"event":"completed"}';
    const hex = createHmac("sha256", "s3cret").update(body).digest("hex");
    expect(webhookSignature("s3cret", body)).toBe(`sha256=${hex}`);
    expect(webhookSignature("s3cret", `${body} `)).not.toBe(`sha256=${hex}`);
  });

  test("retries follow the job backoff, at most 5 min apart, and give up an hour after the event", () => {
    const createdAt = 0;
    const waits: number[] = [];
    let now = createdAt;
    for (let attempts = 1; ; attempts++) {
      const next = nextDeliveryAttempt({ attempts, createdAt, now, backoffBase: 2 });
      if (next === null) break;
      waits.push((next - now) / 1000);
      now = next;
    }
    expect(waits.slice(0, 9)).toEqual([2, 4, 8, 16, 32, 64, 128, 256, 300]);
    expect(now).toBeLessThanOrEqual(3_600_000);
    expect(now).toBeGreaterThan(3_600_000 - 300_000);
  });
});
