/** The pure side of resource limits: parsing at the door, the stored form, and the decision. */

import { describe, expect, test } from "bun:test";
import { parseConfigValue } from "../../src/core/config.ts";
import {
  assertLimitsSetting,
  describeLimits,
  limitsText,
  parseLimits,
  parseLimitsText,
  resolveLimits,
} from "../../src/core/resource-limits.ts";
import { normalizeSpec } from "../../src/core/spec.ts";

const M = 1024 ** 2;

describe("parsing limits", () => {
  test("sizes in K, M and G, durations as timeouts take them, whole processes", () => {
    expect(parseLimits({ memory: "256M", cpu_time: "10m", processes: 100 })).toEqual({
      memory: 256 * M,
      cpu_time: 600,
      processes: 100,
    });
    expect(parseLimits({ memory: "1G" }).memory).toBe(1024 * M);
    expect(parseLimits({ memory: "1.5g" }).memory).toBe(1536 * M);
    expect(parseLimits({ memory: "512MB" }).memory).toBe(512 * M);
    expect(parseLimits({ memory: "2048K" }).memory).toBe(2 * M);
    expect(parseLimits({ cpu_time: 90 }).cpu_time).toBe(90);
    expect(parseLimits({ cpu_time: "1.5s" }).cpu_time).toBe(2);
  });

  test("bad values are one-line errors naming the field and the fix", () => {
    const error = (value: unknown) => {
      try {
        parseLimits(value);
      } catch (caught) {
        return `${(caught as Error).message} — ${(caught as { hint: string }).hint}`;
      }
      return null;
    };
    expect(error({ memory: "256X" })).toBe(
      'limits.memory "256X" is not a size — use e.g. "256M", "1.5G" or "262144K"',
    );
    expect(error({ memory: 256 })).toContain("must be between 1M and 1048576G (1 PiB)");
    expect(error({ cpu_time: "soon" })).toContain('limits.cpu_time "soon" is not a duration');
    expect(error({ cpu_time: "100ms" })).toContain("at least 1s");
    expect(error({ processes: 0 })).toContain("limits.processes must be a whole number");
    expect(error({ memroy: "1G" })).toBe("limits.memroy is not a limit — did you mean `memory`?");
    expect(error("256M")).toContain("limits must be a mapping");
  });

  test("a job's `limits` field is validated with the spec and left out when empty", () => {
    expect(normalizeSpec({ id: "a", command: "x", limits: { memory: "64M" } }).limits).toEqual({
      memory: 64 * M,
    });
    expect(normalizeSpec({ id: "a", command: "x", limits: {} }).limits).toBeUndefined();
    expect(() => normalizeSpec({ id: "a", command: "x", limits: { memory: "lots" } })).toThrow(
      '`limits.memory` "lots" is not a size',
    );
    expect(() => normalizeSpec({ id: "a", command: "x", limit: {} })).toThrow("`limit` is not a job field");
  });

  test("the config key takes JSON or none and stores the form users write", () => {
    expect(parseConfigValue("limits", '{"memory": "256M", "cpu_time": 600}')).toBe(
      '{"memory":"256M","cpu_time":"10m"}',
    );
    expect(parseConfigValue("limits", "none")).toBe("none");
    expect(() => parseConfigValue("limits", "256M")).toThrow("limits");
    for (const limits of [{ memory: 256 * M, cpu_time: 5400, processes: 3 }, { memory: 1_500_000 }]) {
      expect(parseLimitsText(limitsText(limits))).toEqual(limits);
    }
  });
});

describe("which limits apply", () => {
  test("field by field: the job's, else its queue's, else the config's; null when none", () => {
    const config = { memory: 1024 * M, cpu_time: 60, processes: 500 };
    const queue = { memory: 512 * M, processes: 50 };
    expect(resolveLimits({ memory: 64 * M }, queue, config)).toEqual({
      memory: 64 * M,
      cpu_time: 60,
      processes: 50,
    });
    expect(resolveLimits(undefined, queue, null)).toEqual(queue);
    expect(resolveLimits(undefined, undefined, null)).toBeNull();
    expect(resolveLimits({}, {}, {})).toBeNull();
  });

  test("described as show prints it", () => {
    expect(describeLimits({ memory: 256 * M, cpu_time: 600, processes: 100 })).toBe(
      "memory 256 MB, cpu 10m, processes 100",
    );
    expect(describeLimits({ memory: 1536 * M })).toBe("memory 1.5 GB");
  });
});

describe("QUEUECTL_LIMITS", () => {
  test("unset or rlimit is taken; anything else is refused, naming the value and the fix", () => {
    expect(() => assertLimitsSetting(undefined)).not.toThrow();
    expect(() => assertLimitsSetting("rlimit")).not.toThrow();
    expect(() => assertLimitsSetting("cgroup")).toThrow('QUEUECTL_LIMITS is "cgroup", which names no way');
    expect(() => assertLimitsSetting("")).toThrow(`QUEUECTL_LIMITS is ""`);
  });
});
