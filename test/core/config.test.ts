import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { canonicalConfigKey, parseConfigValue, resolveConfig, withDefaults } from "../../src/core/config.ts";
import { formatDurationMs, parseDurationMs } from "../../src/core/duration.ts";
import { nearestName, suggestion, UserError } from "../../src/core/errors.ts";

// Real processes on a busy two-core machine: generous, not the 5 s default.
setDefaultTimeout(60_000);

function refusal(work: () => unknown): string {
  try {
    work();
  } catch (error) {
    expect(error).toBeInstanceOf(UserError);
    expect((error as UserError).exitCode).toBe(2);
    return `${(error as UserError).message} — ${(error as UserError).hint}`;
  }
  throw new Error("expected a refusal");
}

describe("config values", () => {
  test("defaults", () => {
    expect(withDefaults({})).toEqual({
      "max-retries": "3",
      "backoff-base": "2",
      "backoff-max": "3600",
      "poll-interval": "1",
      "job-timeout": "3600",
      lease: "30",
      retention: "off",
      "retention-archive": "off",
      notify: "[]",
      "webhook-secret": "none",
      limits: "none",
    });
    expect(resolveConfig({})).toEqual({
      maxRetries: 3,
      backoffBase: 2,
      backoffMaxSeconds: 3600,
      pollIntervalMs: 1000,
      jobTimeoutMs: 3_600_000,
      leaseMs: 30_000,
      retentionMs: null,
      retentionArchive: null,
      limits: null,
    });
  });

  test.each([
    ["max-retries", "5", "5"],
    ["max-retries", "0", "0"],
    ["backoff-base", "3", "3"],
    ["backoff-base", "1.5", "1.5"],
    ["backoff-max", "5m", "300"],
    ["backoff-max", "90", "90"],
    ["poll-interval", "2", "2"],
    ["poll-interval", "250ms", "0.25"],
    ["job-timeout", "2h", "7200"],
    ["job-timeout", "90s", "90"],
    ["lease", "30s", "30"],
    ["lease", "5m", "300"],
    ["notify", "none", "[]"],
    ["notify", "[]", "[]"],
  ])("%s %s is stored as %s", (key, value, stored) => {
    expect(parseConfigValue(key, value)).toBe(stored);
  });

  test.each([
    ["max-retries", "abc"],
    ["max-retries", "-1"],
    ["max-retries", "1.5"],
    ["max-retries", "1e309"],
    ["backoff-base", "0"],
    ["backoff-base", "Infinity"],
    ["backoff-base", ""],
    // As every number option: decimals only.
    ["backoff-base", "0x5"],
    ["backoff-base", "1e1"],
    ["backoff-max", "soon"],
    ["poll-interval", "0"],
    ["job-timeout", "-5m"],
    ["lease", "1s"],
  ])("%s %j is refused", (key, value) => {
    expect(refusal(() => parseConfigValue(key, value))).toContain(key);
  });

  test("keys: the original's max_retries spelling works, unknown keys suggest", () => {
    expect(canonicalConfigKey("max_retries")).toBe("max-retries");
    expect(canonicalConfigKey("Poll-Interval")).toBe("poll-interval");
    expect(refusal(() => canonicalConfigKey("max-retry"))).toContain("did you mean `max-retries`?");
    expect(refusal(() => canonicalConfigKey("colour"))).toContain("valid names: max-retries");
  });

  test("whole numbers are read as number options are: a sign and spaces around them are allowed", () => {
    expect(parseConfigValue("max-retries", "+2")).toBe("2");
    expect(parseConfigValue("max-retries", " 3 ")).toBe("3");
    expect(refusal(() => parseConfigValue("max-retries", "0x10"))).toContain("must be a whole number");
    expect(refusal(() => parseConfigValue("max-retries", "2.5"))).toContain("must be a whole number");
  });

  test("a stored value that no longer parses falls back to the default", () => {
    expect(resolveConfig({ "max-retries": "many" }).maxRetries).toBe(3);
  });
});

describe("durations", () => {
  test("parse", () => {
    expect(
      ["90", "90s", "5m", "2h", "1h30m", "250ms", "1d", "1w"].map((t) => parseDurationMs(t, "x")),
    ).toEqual([90_000, 90_000, 300_000, 7_200_000, 5_400_000, 250, 86_400_000, 604_800_000]);
    expect(parseDurationMs(1.5, "x")).toBe(1500);
  });

  test("refuse", () => {
    for (const value of ["", "5 m", "5x", "m5", "-1s", Number.NaN, -1, Number.POSITIVE_INFINITY, null, {}]) {
      expect(refusal(() => parseDurationMs(value, "timeout"))).toContain("timeout");
    }
  });

  test("a unit written twice or after a smaller one is refused, not summed; parts largest first add up", () => {
    for (const value of ["1h1h", "30m1h", "1s1m", "5ms1s", "1d2d3d", "-1h1h"]) {
      expect(refusal(() => parseDurationMs(value, "timeout"))).toBe(
        `timeout "${value}" is not a duration: its units repeat or are out of order — write each unit once, largest first, e.g. "1h30m" or "2d12h"`,
      );
    }
    expect(["1w2d3h4m5s6ms", "1s500ms", "2d12h"].map((t) => parseDurationMs(t, "x"))).toEqual([
      604_800_000 + 2 * 86_400_000 + 3 * 3_600_000 + 4 * 60_000 + 5_000 + 6,
      1_500,
      216_000_000,
    ]);
  });

  test("each refusal says what is wrong: malformed, negative, or out of the range", () => {
    expect(refusal(() => parseDurationMs("-5s", "--timeout"))).toContain(
      '--timeout must not be negative, got "-5s"',
    );
    expect(refusal(() => parseDurationMs(-5, "--timeout"))).toContain(
      "--timeout must not be negative, got -5",
    );
    expect(refusal(() => parseDurationMs("36526d", "delay"))).toContain(
      'delay "36526d" is longer than 100 years',
    );
    expect(parseDurationMs("-0s", "x")).toBe(0);
    for (const value of ["36526d", "36525d", "1".repeat(400)]) {
      expect(refusal(() => parseConfigValue("lease", value))).toContain("lease must be between 2s and 24h");
    }
    // The example is the bound the value is past.
    expect(refusal(() => parseConfigValue("lease", "36525d"))).toEndWith("e.g. config set lease 24h");
    expect(refusal(() => parseConfigValue("lease", "1s"))).toEndWith("e.g. config set lease 2s");
    expect(refusal(() => parseConfigValue("lease", "-5s"))).toContain(
      'lease must not be negative, got "-5s"',
    );
    expect(refusal(() => parseConfigValue("retention", "100y"))).toBe(
      'retention "100y" is not a duration — e.g. config set retention 1m (units: ms, s, m, h, d, w)',
    );
  });

  test("format", () => {
    expect([500, 1500, 59_999, 90_000, 3_599_999, 3_600_000, 5_400_000].map(formatDurationMs)).toEqual([
      "500ms",
      "1.5s",
      "1m",
      "1m30s",
      "1h",
      "1h",
      "1h30m",
    ]);
  });
});

describe("did you mean", () => {
  test("close typos are suggested, far-off words are not", () => {
    expect(nearestName("max_retry", ["id", "max_retries"])).toBe("max_retries");
    expect(nearestName("comand", ["id", "command"])).toBe("command");
    expect(nearestName("bad", ["id", "command", "tags"])).toBeUndefined();
    // A swap and a dropped letter in a six-letter name: two typos, judged by the longer word.
    expect(nearestName("emial", ["emails", "reports"])).toBe("emails");
    expect(nearestName("emai", ["emails", "reports"])).toBe("emails");
    expect(nearestName("ls", ["list", "logs"])).toBeUndefined();
    expect(suggestion("zzz", ["pending", "dead"])).toBe("valid names: pending, dead");
  });
});
