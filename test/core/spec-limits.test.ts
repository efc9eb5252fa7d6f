/**
 * The limits at the door: a spec the queue could not store, show or run is refused when it
 * is enqueued or synced, never accepted and then failing for everyone later.
 */

import { describe, expect, test } from "bun:test";
import { MAX_DURATION_MS, parseDurationMs } from "../../src/core/duration.ts";
import { UserError } from "../../src/core/errors.ts";
import { MAX_ARGUMENT_BYTES, MAX_EXEC_BYTES } from "../../src/core/exec-limits.ts";
import { firstRunAt, normalizeSpec } from "../../src/core/spec.ts";

const NOW = Date.parse("2026-12-01T00:00:00Z");

function refusal(input: Record<string, unknown>): string {
  try {
    normalizeSpec({ id: "a", command: "true", ...input }, { now: NOW });
  } catch (error) {
    if (!(error instanceof UserError)) throw error;
    expect(error.exitCode).toBe(2);
    expect(`${error.message} — ${error.hint}`).not.toContain("\n");
    return `${error.message} — ${error.hint}`;
  }
  throw new Error(`accepted: ${Object.keys(input).join(", ")}`);
}

describe("the 100-year horizon", () => {
  test.each([
    ["delay", "15000000w"],
    ["delay", 1e308],
    ["delay", "5218w"],
    ["delay", "999999999999999999999999999999d"],
    ["timeout", 1e308],
    ["timeout", "36526d"],
  ])("%s %p is refused as longer than 100 years", (field, value) => {
    expect(refusal({ [field]: value })).toContain(`\`${field}\``);
    expect(refusal({ [field]: value })).toContain("longer than 100 years");
  });

  test("NaN and Infinity are refused", () => {
    expect(refusal({ timeout: Number.NaN })).toContain("`timeout`");
    expect(refusal({ timeout: Number.POSITIVE_INFINITY })).toContain("`timeout`");
    expect(refusal({ delay: "NaN" })).toContain("`delay`");
    expect(refusal({ timeout: "Infinity" })).toContain("`timeout`");
  });

  test("a run_at more than 100 years away is refused; anything nearer, or in the past, is kept", () => {
    expect(refusal({ run_at: "9999-01-01T00:00:00Z" })).toContain("more than 100 years away");
    expect(refusal({ run_at: "2127-01-01T00:00:00Z" })).toContain("`run_at`");
    const near = normalizeSpec({ id: "a", command: "true", run_at: "2126-11-30T00:00:00Z" }, { now: NOW });
    expect(firstRunAt(near, NOW)).toBe(Date.parse("2126-11-30T00:00:00Z"));
    const past = normalizeSpec({ id: "a", command: "true", run_at: "1999-01-01" }, { now: NOW });
    expect(firstRunAt(past, NOW)).toBeLessThan(NOW);
  });

  test("exactly 100 years is accepted, and every time computed from it is a valid date", () => {
    const spec = normalizeSpec(
      { id: "a", command: "true", delay: "36525d", timeout: "36525d" },
      { now: NOW },
    );
    expect(spec.delay).toBe(MAX_DURATION_MS);
    expect(new Date(firstRunAt(spec, NOW)).toISOString()).toBe("2126-12-02T00:00:00.000Z");
    expect(new Date(NOW + (spec.timeout ?? 0) * 1000).toISOString()).toBe("2126-12-02T00:00:00.000Z");
  });

  test("the horizon applies to every duration, not only to specs", () => {
    expect(() => parseDurationMs("1e309", "--older-than")).toThrow(UserError);
    expect(() => parseDurationMs(1e300, "lease")).toThrow("longer than 100 years");
  });
});

describe("commands the system could not exec", () => {
  test("a string command over 128 KiB (one argument of sh -c) is refused with the limit", () => {
    expect(refusal({ command: "x".repeat(MAX_ARGUMENT_BYTES + 1) })).toContain(
      "`command` is 131,072 bytes, over the 131,071 bytes (128 KiB)",
    );
    expect(normalizeSpec({ id: "a", command: "x".repeat(MAX_ARGUMENT_BYTES) }).command).toHaveLength(
      MAX_ARGUMENT_BYTES,
    );
  });

  test("the limit counts bytes, not characters", () => {
    expect(refusal({ command: "é".repeat(70_000) })).toContain("140,000 bytes");
  });

  test("one argument over 128 KiB is refused", () => {
    expect(refusal({ command: ["echo", "x".repeat(MAX_ARGUMENT_BYTES + 1)] })).toContain(
      "has an argument of 131,072 bytes",
    );
  });

  test("an environment entry over 128 KiB is refused, naming it", () => {
    expect(refusal({ env: { BIG: "x".repeat(MAX_ARGUMENT_BYTES) } })).toContain("`env.BIG` is 131,075 bytes");
  });

  test("a 9 MB argument list is refused with the 1 MiB limit", () => {
    const command = ["true", ...Array.from({ length: 90 }, () => "y".repeat(100_000))];
    expect(refusal({ command })).toContain(
      `over the ${MAX_EXEC_BYTES.toLocaleString("en-US")} bytes (1 MiB)`,
    );
  });

  test("command and env count together", () => {
    const half = "y".repeat(100_000);
    const command = ["true", ...Array.from({ length: 6 }, () => half)];
    const env = Object.fromEntries(Array.from({ length: 5 }, (_, i) => [`V${i}`, half]));
    expect(() => normalizeSpec({ id: "a", command })).not.toThrow();
    expect(refusal({ command, env })).toContain("`command` and `env` together take");
  });

  test("a working folder path longer than the system allows is refused", () => {
    expect(refusal({ cwd: `/${"a".repeat(5000)}` })).toContain("`cwd` is longer than the 4095 bytes");
  });
});

describe("what is accepted can be exec'd", () => {
  test("a command at the limits really runs", () => {
    const argument = "x".repeat(MAX_ARGUMENT_BYTES);
    const spec = normalizeSpec({
      id: "a",
      command: ["true", argument],
      env: { A: "y".repeat(MAX_ARGUMENT_BYTES - 2) },
    });
    const result = Bun.spawnSync(spec.command as string[], { env: { ...process.env, ...spec.env } });
    expect(result.exitCode).toBe(0);
  });
});
