/**
 * The PostgreSQL backend's behaviour without a server: URL parsing, the one-line error for
 * an unreachable host, and the wake-up that falls back to a plain wait. Runs everywhere.
 */

import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { SQL } from "bun";
import { StoreUnreachableError, UserError } from "../../src/core/errors.ts";
import { openPostgresStore } from "../../src/store/postgres/backend.ts";
import { ChangeListener } from "../../src/store/postgres/changes.ts";
import { describeFailure } from "../../src/store/postgres/connection.ts";
import { parsePostgresUrl } from "../../src/store/postgres-url.ts";

// Real processes on a busy two-core machine: generous, not the 5 s default.
setDefaultTimeout(60_000);

/** Port 1 on loopback: nothing listens there, so connecting is refused at once. */
const NOWHERE = "postgres://queue:s3cret%21pw@127.0.0.1:1/jobs";

describe("postgres without a server", () => {
  test("the URL gives the schema, a location without the password, and a URL Bun can use", () => {
    const target = parsePostgresUrl(`${NOWHERE}?sslmode=disable&schema=team_a`);
    expect(target).toMatchObject({
      schema: "team_a",
      host: "127.0.0.1:1",
      database: "jobs",
      user: "queue",
      password: "s3cret!pw",
      location: "postgres://queue@127.0.0.1:1/jobs?schema=team_a",
    });
    // `schema` is ours: the server would reject it as an unknown setting.
    expect(target.url).not.toContain("schema");
    expect(target.url).toContain("sslmode=disable");
    expect(parsePostgresUrl("postgres://db.example.com/q").location).toMatch(
      /^postgres:\/\/\w+@db\.example\.com:5432\/q$/,
    );
  });

  test("a URL without host or database, an unknown parameter or sslmode is bad input (exit 2)", () => {
    for (const [url, fragment] of [
      ["postgres://", "must name a host and a database"],
      ["postgres://queue@db.internal", "must name a host and a database"],
      [`${NOWHERE}?sslmode=bogus`, 'sslmode "bogus"'],
      [`${NOWHERE}?foo=bar`, 'unknown parameter "foo"'],
      // A password with a character the URL reserves, unescaped: the hint says how to write it.
      ["postgres://queue:pa/ss@127.0.0.1/jobs", "user name or password holds a /, ? or #"],
      ["postgres://queue:pa#ss@127.0.0.1/jobs", "user name or password holds a /, ? or #"],
      ["postgres://queue:pa?ss@127.0.0.1/jobs", "user name or password holds a /, ? or #"],
    ] as const) {
      let caught: unknown;
      try {
        parsePostgresUrl(url);
      } catch (error) {
        caught = error;
      }
      expect(caught).toBeInstanceOf(UserError);
      expect((caught as UserError).exitCode).toBe(2);
      expect((caught as UserError).message).toContain(fragment);
    }
  });

  test("a schema name that would need quoting is refused with the rule", () => {
    for (const bad of ["Team", "a-b", "1abc", "x".repeat(51), "a;drop"]) {
      expect(() => parsePostgresUrl(`${NOWHERE}?schema=${encodeURIComponent(bad)}`)).toThrow(UserError);
    }
    const error = (() => {
      try {
        parsePostgresUrl(`${NOWHERE}?schema=Team`);
      } catch (e) {
        return e as UserError;
      }
    })();
    expect(error?.message).toContain('"Team" is not a usable schema name');
    expect(error?.hint).toContain("lowercase letters, digits and _");
  });

  test("a schema name the server refuses as reserved is bad input, not a fault of queuectl", () => {
    const target = parsePostgresUrl(`${NOWHERE}?schema=team_a`);
    const refusal = Object.assign(new Error('unacceptable schema name "team_a"'), { errno: "42939" });
    const error = describeFailure(target, refusal) as UserError;
    expect(error).toBeInstanceOf(UserError);
    expect(error.exitCode).toBe(2);
    expect(error.message).toContain('refuses the schema name "team_a"');
    expect(error.hint).toContain("?schema=");
  });

  test("an unreachable server is a runtime error naming host and database, never the password", async () => {
    const error = await openPostgresStore(NOWHERE).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UserError);
    expect((error as UserError).exitCode).toBe(1);
    expect((error as UserError).message).toStartWith("cannot reach PostgreSQL at 127.0.0.1:1/jobs");
    expect(`${(error as UserError).message} ${(error as UserError).hint}`).not.toContain("s3cret");
    // So that `wait` and `logs --follow` wait it out (flow/patient-reads.ts).
    expect(error).toBeInstanceOf(StoreUnreachableError);
  });

  test("a connection the server ended (restart, pg_terminate_backend) counts as unreachable, not as bad input", () => {
    const target = parsePostgresUrl(NOWHERE);
    for (const errno of ["57P01", "57P03", "08006"]) {
      const ended = Object.assign(new Error("terminating connection due to administrator command"), {
        errno,
      });
      expect({ errno, error: describeFailure(target, ended) }).toEqual({
        errno,
        error: expect.any(StoreUnreachableError),
      });
    }
  });

  test("waiting for a change falls back to a plain wait when LISTEN cannot be set up", async () => {
    const sql = new SQL(NOWHERE, { connectionTimeout: 2 });
    const listener = new ChangeListener(sql, "queuectl:test");
    try {
      let waited = false;
      await listener.wait(50).then(() => {
        waited = true;
      });
      expect(waited).toBe(true);
      await expect(listener.marker()).rejects.toThrow();
    } finally {
      await listener.stop();
      await sql.close();
    }
  });
});
