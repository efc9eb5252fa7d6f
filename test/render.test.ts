/** `list`'s table: columns line up as a terminal shows them, and a cut command fits the width. */

import { expect, test } from "bun:test";
import type { Job } from "../src/core/job.ts";
import { commandText, isSafeText, jobTable, safeText, timeText } from "../src/render.ts";

const NOW = Date.parse("2030-01-01T00:00:00Z");

function job(id: string, command: string): Job {
  return {
    id,
    spec: { id, command } as Job["spec"],
    state: "pending",
    attempts: 0,
    max_retries: 3,
    priority: 0,
    queue: "default",
    tags: [],
    created_at: NOW - 5000,
    updated_at: NOW - 5000,
    next_run_at: NOW - 5000,
    started_at: null,
    finished_at: null,
    worker_id: null,
    lease_until: null,
    token: 0,
    exit_code: null,
    last_error: null,
    source: null,
    revision: "r",
  };
}

/** The terminal column at which `text` starts in `line`. */
const columnOf = (line: string, text: string) => Bun.stringWidth(line.slice(0, line.indexOf(text)));

test("wide characters (CJK, emoji) take two columns, and the columns after them still line up", () => {
  const lines = jobTable([job("build", "make"), job("日本語", "echo 日本語"), job("🚀x", "deploy")], 3, NOW)
    .trimEnd()
    .split("\n");
  const stateColumns = lines
    .slice(0, 4)
    .map((line) => columnOf(line, line.includes("STATE") ? "STATE" : "pending"));
  expect(new Set(stateColumns).size).toBe(1);
});

test("on a terminal the command is cut to the width as displayed, never past it", () => {
  const command = "echo 日本語日本語日本語日本語日本語日本語 🚀🚀🚀🚀🚀🚀🚀🚀";
  for (const width of [60, 61, 62, 63]) {
    const rows = jobTable([job("a", command)], 1, NOW, width)
      .split("\n")
      .slice(0, 2);
    for (const row of rows) expect(Bun.stringWidth(row)).toBeLessThanOrEqual(width);
    expect(rows[1]).toEndWith("…");
  }
});

test("on a terminal a long progress message is cut in the time column, and the command keeps its room", () => {
  const busy = { ...job("p", "make all"), progress_pct: 40, progress_message: `copying ${"x".repeat(200)}` };
  const rows = jobTable([busy, job("other", "echo a fairly long command line")], 2, NOW, 110).split("\n");
  for (const row of rows.slice(0, 3)) expect(Bun.stringWidth(row)).toBeLessThanOrEqual(110);
  expect(rows[1]).toContain("40% copying x");
  expect(rows[1]).toContain("…");
  expect(rows[2]).toEndWith("echo a fairly long command line");
  // Piped, nothing is cut.
  expect(jobTable([busy], 1, NOW)).toContain("x".repeat(200));
});

test("a terminal too narrow for the other columns (or reporting 0 columns) still shows the whole command", () => {
  for (const width of [0, 30]) {
    const rows = jobTable([job("a-long-job-id", "make test")], 1, NOW, width).split("\n");
    expect(rows[0]).toEndWith("COMMAND");
    expect(rows[1]).toEndWith("make test");
  }
});

test("the time column counts days past two days, so a job due next year reads in days", () => {
  const due = (ms: number) => timeText({ ...job("a", "true"), next_run_at: NOW + ms }, NOW);
  const hour = 3_600_000;
  expect(due(47 * hour)).toBe("in 47h");
  expect(due(48 * hour)).toBe("in 2d");
  expect(due(395 * 24 * hour + 2 * hour + 60_000)).toBe("in 395d2h");
  expect(timeText({ ...job("b", "true"), created_at: NOW - 72 * hour }, NOW)).toBe("3d ago");
});

test("an argv command is shown as a shell would take it back: $, * and backticks stay words", () => {
  expect(commandText(["echo", "*", "$HOME", "`id`", "it's", "", "plain-word"])).toBe(
    "echo '*' '$HOME' '`id`' 'it'\\''s' '' plain-word",
  );
  expect(commandText("echo $HOME")).toBe("echo $HOME");
});

test("characters that print as nothing are shown escaped; the joiners inside emoji are not", () => {
  expect(safeText("z\u200bw.yaml")).toBe("z\\u200bw.yaml");
  expect(safeText("\ufeffa\u2060b")).toBe("\\ufeffa\\u2060b");
  expect(safeText("👨\u200d👩\u200d👧 \u0645\u200c\u06cc")).toBe("👨\u200d👩\u200d👧 \u0645\u200c\u06cc");
});

test("isSafeText says true exactly when safeText would leave the text as it is", () => {
  const samples = [
    "job-1",
    "échec ünïcode",
    "",
    "a\nb",
    "tab\there",
    "\u001b[2J",
    "\u0007",
    "\u007f",
    "\u009b",
    "\u200e",
    "\u202e",
    "\u2066",
    "\u2028",
    "emoji 🎉",
    "z\u200bw",
    "\ufeffbom",
    "family 👨\u200d👩\u200d👧",
  ];
  // Every code point below 0x3000 too, one at a time inside a word.
  for (let code = 0; code < 0x3000; code++) samples.push(`a${String.fromCharCode(code)}b`);
  for (const text of samples) expect([text, isSafeText(text)]).toEqual([text, safeText(text) === text]);
});
