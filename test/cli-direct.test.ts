import { describe, expect, test } from "bun:test";
import { directCall } from "../src/cli-direct.ts";

const JOB = '{"id":"a","command":"true"}';

describe("directCall", () => {
  test("takes enqueue {…} and status, with --json and --db in any order", () => {
    expect(directCall(["enqueue", JOB])).toEqual({ command: "enqueue", json: JOB, options: {} });
    expect(directCall(["--json", "enqueue", JOB, "--db", "q.db"])).toEqual({
      command: "enqueue",
      json: JOB,
      options: { json: true, db: "q.db" },
    });
    expect(directCall(["status", "--db=q.db"])).toEqual({ command: "status", options: { db: "q.db" } });
  });

  test("leaves everything else to cac, so its errors and help stay the same", () => {
    for (const args of [
      [],
      ["enqueue"],
      ["enqueue", "-f", "jobs.ndjson"],
      ["enqueue", JOB, "extra"],
      ["enqueue", "job"],
      ["enqueue", JOB, "--debug"],
      ["enqueue", JOB, "--help"],
      ["enqueue", JOB, "--json", "--json"],
      ["status", "x"],
      ["status", "--db"],
      ["status", "--db", ""],
      ["status", "--db", "5"],
      ["status", "--db", "-"],
      ["status", "--db", "a.db", "--db", "b.db"],
      ["list"],
    ]) {
      expect(directCall(args)).toBeUndefined();
    }
  });
});
