import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { UserError } from "../../src/core/errors.ts";
import { canonicalJson, firstRunAt, normalizeSpec, SpecError, specRevision } from "../../src/core/spec.ts";

// Real processes on a busy two-core machine: generous, not the 5 s default.
setDefaultTimeout(60_000);

/** The message and hint of the SpecError that `input` raises. */
function specError(input: unknown): string {
  try {
    normalizeSpec(input);
  } catch (error) {
    expect(error).toBeInstanceOf(SpecError);
    const { message, hint } = error as SpecError;
    return `${message} — ${hint}`;
  }
  throw new Error(`expected ${JSON.stringify(input)} to be refused`);
}

describe("normalizeSpec", () => {
  test("keeps only what differs from the defaults", () => {
    expect(
      normalizeSpec({ id: "a", command: "echo", priority: 0, queue: "default", tags: [], env: {}, delay: 0 }),
    ).toEqual({ id: "a", command: "echo" });
  });

  test("normalizes every field", () => {
    expect(
      normalizeSpec({
        id: "full",
        command: ["echo", "a b"],
        max_retries: 0,
        timeout: "2h",
        priority: -5,
        run_at: "2030-01-01T09:00:00+02:00",
        cwd: "/srv",
        env: { B: 2, A: "x", C: true },
        tags: ["z", "a", "z"],
        queue: "emails",
        state: "pending",
      }),
    ).toEqual({
      id: "full",
      command: ["echo", "a b"],
      max_retries: 0,
      timeout: 7200,
      priority: -5,
      run_at: "2030-01-01T07:00:00.000Z",
      cwd: "/srv",
      env: { A: "x", B: "2", C: "true" },
      tags: ["a", "z"],
      queue: "emails",
    });
  });

  test("timeouts: seconds or durations", () => {
    const timeout = (value: unknown) => normalizeSpec({ id: "t", command: "x", timeout: value }).timeout;
    expect([90, "90", "90s", "5m", "2h", "1h30m", 0.5].map(timeout)).toEqual([
      90, 90, 90, 300, 7200, 5400, 0.5,
    ]);
  });

  test("a numeric id becomes a string; a missing id is generated only when asked", () => {
    expect(normalizeSpec({ id: 42, command: "x" }).id).toBe("42");
    expect(normalizeSpec({ command: "x" }, { generateId: () => "gen-1" }).id).toBe("gen-1");
    expect(specError({ command: "x" })).toContain("`id` is required");
  });

  test.each([
    [{ id: "a", command: "x", max_retry: 3 }, "`max_retry` is not a job field — did you mean `max_retries`?"],
    [{ id: "a", comand: "x" }, "did you mean `command`?"],
    [{ jobz: [{ command: "x" }] }, "`jobz` is not a job field — did you mean `jobs`, the list of jobs?"],
    [
      { id: "a", command: "x", matrix: { os: ["a"] } },
      "`matrix` is not a job field — `matrix` belongs in a jobfile",
    ],
    [{ id: "a", command: "x", max_retries: -1 }, "`max_retries` must be between 0 and 1000"],
    [{ id: "a", command: "x", max_retries: 1.5 }, "`max_retries` must be a whole number"],
    [{ id: "a", command: "x", max_retries: "3" }, "`max_retries` must be a whole number"],
    [
      { id: "a", command: "x", max_retries: Number.POSITIVE_INFINITY },
      "`max_retries` must be a whole number",
    ],
    [{ id: "a", command: "x", priority: "high" }, "`priority` must be a whole number"],
    [{ id: "a", command: "" }, "`command` must not be empty"],
    [{ id: "a", command: "  " }, "`command` must not be empty"],
    [{ id: "a", command: [] }, "`command` must not be an empty list"],
    [{ id: "a", command: ["sleep", 5] }, "`command` must be a list of strings"],
    [{ id: "a", command: ["", "x"] }, "`command` must start with a program name"],
    [{ id: "a", command: "a\u0000b" }, "`command` contains a NUL byte"],
    [{ id: "a", command: 5 }, "`command` must be a string or a list of strings"],
    [{ id: "a" }, "`command` is required"],
    [{ id: "", command: "x" }, "`id` must not be empty"],
    [{ id: true, command: "x" }, "`id` must be a string"],
    [{ id: "a\u001b[2J", command: "x" }, "`id` contains control characters"],
    [{ id: "a\u009b", command: "x" }, "`id` contains control characters"],
    [{ id: "rtl\u202eevil", command: "x" }, "`id` contains invisible formatting characters"],
    [{ id: "a\u200bb", command: "x" }, "`id` contains invisible formatting characters"],
    // Each printed "deploy" beside a job that is "deploy": soft hyphen, variation selector,
    // combining grapheme joiner, Hangul filler, a tag character, a no-break space.
    ...[
      "dep\u00adloy",
      "deploy\ufe0f",
      "deploy\u034f",
      "de\u3164ploy",
      "deploy\u{e0041}",
      "de\u00a0ploy",
    ].map(
      (id) =>
        [{ id, command: "x" }, "`id` contains invisible formatting characters"] as [
          Record<string, unknown>,
          string,
        ],
    ),
    [{ id: " padded ", command: "x" }, '`id` " padded " starts or ends with white space'],
    [{ id: 2 ** 64, command: "x" }, "`id` is a number too large to keep exactly"],
    [{ id: "a", command: "x", env: { A: 2 ** 64 } }, "`env.A` is a number that cannot be kept as written"],
    [
      { id: "a", command: "x", env: { B: Number.POSITIVE_INFINITY } },
      "`env.B` is a number that cannot be kept",
    ],
    [{ id: "x".repeat(256), command: "x" }, "`id` is longer than 255 characters"],
    [{ id: "a", command: "x", timeout: 0 }, "`timeout` must be at least 1 ms"],
    [{ id: "a", command: "x", timeout: 0.0001 }, "`timeout` must be at least 1 ms"],
    [{ id: "a", command: "x", timeout: "5 minutes" }, "is not a duration"],
    [{ id: "a", command: "x", timeout: -1 }, "`timeout` must not be negative, got -1"],
    [{ id: "a", command: "x", timeout: "-90s" }, '`timeout` must not be negative, got "-90s"'],
    [{ id: "a", command: "x", delay: "soon" }, "is not a duration"],
    [{ id: "a", command: "x", run_at: "2030-01-01T00:00:00Z", delay: "5m" }, "cannot both be set"],
    [{ id: "a", command: "x", run_at: "next tuesday" }, "is not an ISO-8601 time"],
    [{ id: "a", command: "x", run_at: "1" }, "is not an ISO-8601 time"],
    [{ id: "a", command: "x", run_at: 1_700_000_000 }, "must be an ISO-8601 time"],
    [{ id: "a", command: "x", cwd: "" }, "`cwd` must be a folder path"],
    [{ id: "a", command: "x", env: ["A=1"] }, "`env` must be a mapping"],
    [{ id: "a", command: "x", env: { "A-B": "1" } }, "`env.A-B` is not a valid environment variable name"],
    [{ id: "a", command: "x", env: { A: { nested: 1 } } }, "`env.A` must be a string, number or boolean"],
    [{ id: "a", command: "x", tags: "nightly" }, "`tags` must be a list of strings"],
    [{ id: "a", command: "x", tags: [""] }, "`tags` must hold non-empty strings"],
    [{ id: "a", command: "x", queue: "has space" }, "`queue` must be a name"],
    [{ id: "a", command: "x", state: "completed" }, '`state` can only be "pending"'],
    [{ id: "a", command: "x", after: ["a"] }, "`after` names the job itself"],
    [{ id: "-dash", command: "x" }, 'starts with "-"'],
    [{ id: "..", command: "x" }, "is a path step, not a name"],
    [{ id: ".", command: "x" }, "is a path step, not a name"],
    [{ id: "a", command: "x", run_at: "2026-02-30T00:00:00Z" }, "not a date on the calendar"],
    [["not", "an", "object"], "a job must be a JSON object"],
    [null, "a job must be a JSON object"],
  ])("refuses %j", (input, expected) => {
    expect(specError(input)).toContain(expected);
  });

  test("an env named __proto__ is not silently dropped", () => {
    const env = JSON.parse('{"__proto__":"x","A":"1"}');
    const spec = normalizeSpec({ id: "a", command: "x", env });
    expect(Object.keys(spec.env ?? {})).toEqual(["A", "__proto__"]);
    expect(JSON.stringify(spec.env)).toBe('{"A":"1","__proto__":"x"}');
  });

  test("a lone surrogate anywhere is refused, naming where; a pair is a character", () => {
    const lone = "\ud800";
    for (const [input, field] of [
      [{ id: "a", command: `echo ${lone}` }, "`command`"],
      [{ id: `a${lone}`, command: "x" }, "`id`"],
      [{ id: "a", command: ["echo", "\udc00"] }, "`command[1]`"],
      [{ id: "a", command: "x", env: { A: `x${lone}` } }, "`env.A`"],
      [{ id: "a", command: "x", env: { [`A${lone}`]: "x" } }, "`env.A?`"],
      [{ id: "a", command: "x", tags: ["ok", lone] }, "`tags[1]`"],
    ] as const) {
      expect(specError(input)).toStartWith(`${field} holds a lone UTF-16 surrogate`);
    }
    expect(normalizeSpec({ id: "a", command: "echo \ud83d\ude00" }).command).toBe("echo 😀");
  });

  test("every refusal is a UserError with exit code 2 and one line", () => {
    try {
      normalizeSpec({ id: "a", command: "x", nope: 1 });
    } catch (error) {
      expect(error).toBeInstanceOf(UserError);
      expect((error as UserError).exitCode).toBe(2);
      expect(`${(error as UserError).message}${(error as UserError).hint}`).not.toContain("\n");
    }
  });
});

describe("revision", () => {
  const a = normalizeSpec({
    id: "r",
    command: "echo",
    tags: ["b", "a"],
    env: { X: "1", Y: "2" },
    timeout: "5m",
  });
  const b = normalizeSpec({
    timeout: 300,
    env: { Y: "2", X: 1 },
    tags: ["a", "b", "a"],
    command: "echo",
    id: "r",
    priority: 0,
  });

  test("ignores key order, duplicates, defaults and equivalent forms", () => {
    expect(specRevision(a)).toBe(specRevision(b));
    expect(canonicalJson(a)).toBe(canonicalJson(b));
  });

  test("is the SHA-256 of the canonical JSON, whatever fields and key order the spec has", () => {
    const specs = [
      normalizeSpec({ id: "job-1", command: "true" }),
      a,
      normalizeSpec({
        id: 'all\u00e9"',
        command: ["sh", "-c", "echo \u2028"],
        max_retries: 0,
        priority: -5,
        delay: "1s",
        cwd: "/tmp",
        queue: "q",
        after: ["x", "y"],
        env: { Z_1: "\u00e9", A: "" },
      }),
      normalizeSpec({ id: "s", command: "x", schedule: "*/5 * * * *", timezone: "UTC", catchup: "all" }),
      { command: "x", id: "order" } as ReturnType<typeof normalizeSpec>,
      { id: "extra", command: "x", zeta: 1, alpha: [2] } as unknown as ReturnType<typeof normalizeSpec>,
      { id: "undefined", command: "x", priority: undefined },
    ];
    for (const spec of specs) {
      const expected = new Bun.CryptoHasher("sha256").update(canonicalJson(spec)).digest("hex").slice(0, 16);
      expect(specRevision(spec)).toBe(expected);
    }
    // Stored revisions must never change: a pinned value.
    expect(specRevision(normalizeSpec({ id: "job-1", command: "true" }))).toBe("7f182e963163f74f");
  });

  test("changes when the spec changes", () => {
    expect(specRevision({ ...a, command: "echo 2" })).not.toBe(specRevision(a));
    expect(specRevision({ ...a, max_retries: 3 })).not.toBe(specRevision(a));
  });
});

describe("firstRunAt", () => {
  const now = Date.parse("2030-01-01T00:00:00Z");
  test("now, now + delay, or run_at", () => {
    expect(firstRunAt(normalizeSpec({ id: "a", command: "x" }), now)).toBe(now);
    expect(firstRunAt(normalizeSpec({ id: "a", command: "x", delay: "5m" }), now)).toBe(now + 300_000);
    expect(firstRunAt(normalizeSpec({ id: "a", command: "x", delay: 90 }), now)).toBe(now + 90_000);
    expect(firstRunAt(normalizeSpec({ id: "a", command: "x", run_at: "2030-06-01T12:00:00Z" }), now)).toBe(
      Date.parse("2030-06-01T12:00:00Z"),
    );
  });
});

describe("schedule patterns", () => {
  test("a pattern no date matches is refused; a rare one is kept", () => {
    for (const schedule of ["0 3 30 2 *", "0 3 31 4 *", "0 0 31 11 *"]) {
      expect(() => normalizeSpec({ id: "s", command: "x", schedule })).toThrow(/never fires/);
    }
    // Every match in years gone by: it would sit in the queue and never run.
    for (const schedule of ["0 0 0 1 1 * 2020", "0 0 0 * * * 2021-2022"]) {
      expect(() => normalizeSpec({ id: "s", command: "x", schedule })).toThrow(/never fires again/);
    }
    for (const schedule of ["0 0 29 2 *", "0 3 31 * *", "0 0 30 2 1", "0 0 0 1 1 * 2020-2400"]) {
      expect(normalizeSpec({ id: "s", command: "x", schedule }).schedule).toBe(schedule);
    }
    expect(
      normalizeSpec({ id: "s", command: "x", schedule: "0 0 29 2 *", timezone: "Pacific/Kiritimati" })
        .schedule,
    ).toBe("0 0 29 2 *");
  });
});
