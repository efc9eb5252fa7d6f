/**
 * Matrix jobfiles synced into a real store, on every backend: each expanded job is a job of
 * its own to the reconcile rules (its own revision and history), so changing one cell
 * touches one job, removing a value cancels only its jobs, and a re-sync changes nothing.
 * The plan says which declaration each expanded job came from; a bad matrix is one located
 * error, and the jobs the file declared before stay as they were.
 */

// biome-ignore-all lint/suspicious/noTemplateCurlyInString: `${{ matrix.KEY }}` in plain strings is jobfile syntax
import { expect, setDefaultTimeout, test } from "bun:test";
import { planLines } from "../../src/render/sync.ts";
import { runCli } from "../helpers/cli.ts";
import { type BackendTest, completeAll, forEachBackend, jobOf, sync } from "./helpers.ts";

// Real processes on a busy two-core machine: generous, not the 5 s default.
setDefaultTimeout(60_000);

const IDS = ["build-eu-m", "build-eu-s", "build-us-m", "build-us-s"];

const SLOW_EU_S = "  include:\n    - {region: eu, size: s, flags: --slow}\n";
const FAST_EU_S = "  include:\n    - {region: eu, size: s, flags: --fast}\n";

/** A region × size matrix; `extra` is appended under `matrix:` (an `include` gives `flags`). */
function buildFile(regions = "[eu, us]", extra = SLOW_EU_S): string {
  return [
    "id: build",
    "command: make REGION=${{ matrix.region }} SIZE=${{ matrix.size }} ${{ matrix.flags }}",
    "env:",
    "  REGION: ${{ matrix.region }}",
    "matrix:",
    `  region: ${regions}`,
    "  size: [s, m]",
    extra,
  ].join("\n");
}

function actions(outcome: Awaited<ReturnType<typeof sync>>): string[] {
  return outcome.plan.changes.map((change) => `${change.id} ${change.action}`).sort();
}

async function revisions(t: BackendTest, ids: readonly string[]): Promise<Record<string, string>> {
  const entries = await Promise.all(
    ids.map(async (id) => [id, (await jobOf(t.store, id)).revision] as const),
  );
  return Object.fromEntries(entries);
}

forEachBackend("matrix jobfiles", (t) => {
  test("add: one declaration becomes a job per combination, each with its own spec and revision", async () => {
    await t.setUp();
    t.fixture.write("build.yaml", buildFile());
    const outcome = await sync(t.store, t.fixture.dir);
    expect(actions(outcome)).toEqual(IDS.map((id) => `${id} create`));
    const job = await jobOf(t.store, "build-us-m");
    expect([job.spec.command, job.spec.env]).toEqual(["make REGION=us SIZE=m ", { REGION: "us" }]);
    expect(new Set(Object.values(await revisions(t, IDS))).size).toBe(4);
    const plan = planLines(outcome).join("\n");
    expect(plan).toContain("+ build-us-m  create (matrix build: region=us, size=m)  build.yaml");
    expect(outcome.plan.changes.map((change) => change.job?.matrix?.declaration)).toEqual(
      IDS.map(() => "build"),
    );
  });

  test("re-sync is a no-op", async () => {
    await t.setUp();
    t.fixture.write("build.yaml", buildFile());
    await sync(t.store, t.fixture.dir);
    const before = await revisions(t, IDS);
    const again = await sync(t.store, t.fixture.dir);
    expect(again.plan.changes).toEqual([]);
    expect(again.plan.unchanged.map((job) => job.spec.id).sort()).toEqual(IDS);
    expect(await revisions(t, IDS)).toEqual(before);
  });

  test("change one cell: only that job is updated, and reverting it runs nothing again", async () => {
    await t.setUp();
    t.fixture.write("build.yaml", buildFile());
    await sync(t.store, t.fixture.dir);
    expect(await completeAll(t.store)).toEqual(IDS);
    const before = await revisions(t, IDS);

    t.fixture.write("build.yaml", buildFile("[eu, us]", FAST_EU_S));
    const changed = await sync(t.store, t.fixture.dir);
    expect(actions(changed)).toEqual(["build-eu-s replace"]);
    expect(changed.plan.changes[0]?.fields.map((field) => field.field)).toEqual(["command"]);
    const after = await revisions(t, IDS);
    expect(after["build-eu-s"]).not.toBe(before["build-eu-s"]);
    expect({ ...after, "build-eu-s": "" }).toEqual({ ...before, "build-eu-s": "" });
    expect((await jobOf(t.store, "build-eu-s")).spec.command).toBe("make REGION=eu SIZE=s --fast");

    // Back to the revision this id already completed: its history, not its state, decides.
    t.fixture.write("build.yaml", buildFile());
    const reverted = await sync(t.store, t.fixture.dir);
    expect(actions(reverted)).toEqual(["build-eu-s showCompleted"]);
    expect((await jobOf(t.store, "build-eu-s")).state).toBe("completed");
  });

  test("remove a value: only its jobs are canceled (pending) or forgotten (finished)", async () => {
    await t.setUp();
    t.fixture.write("build.yaml", buildFile("[eu, us, ap]"));
    await sync(t.store, t.fixture.dir);
    expect(await completeAll(t.store)).toHaveLength(6);
    t.fixture.write(
      "build.yaml",
      buildFile("[eu, us, ap]", `${SLOW_EU_S}  exclude:\n    - {region: ap, size: m}\n`),
    );
    const excluded = await sync(t.store, t.fixture.dir);
    expect(actions(excluded)).toEqual(["build-ap-m forget"]);

    t.fixture.write("build.yaml", buildFile("[eu, us, ap]", FAST_EU_S));
    expect(actions(await sync(t.store, t.fixture.dir))).toEqual([
      "build-ap-m redeclare",
      "build-eu-s replace",
    ]);
    expect((await jobOf(t.store, "build-eu-s")).state).toBe("pending");
    t.fixture.write(
      "build.yaml",
      buildFile("[us, ap]", '  include:\n    - {region: us, size: s, flags: ""}\n'),
    );
    const removed = await sync(t.store, t.fixture.dir);
    expect(actions(removed)).toEqual(["build-eu-m forget", "build-eu-s cancel"]);
    // The file is still there: its lines say what did happen.
    expect(removed.plan.changes.map((change) => change.reason)).toEqual([
      "noLongerDeclared",
      "noLongerDeclared",
    ]);
    expect(planLines(removed).join("\n")).toContain("cancel: no longer declared in its file (was pending)");
    expect((await jobOf(t.store, "build-eu-s")).state).toBe("canceled");
    expect((await jobOf(t.store, "build-us-s")).state).toBe("completed");
    expect((await sync(t.store, t.fixture.dir)).plan.changes).toEqual([]);
    // A file emptied, not removed: still there, declaring nothing.
    t.fixture.write("build.yaml", "jobs: []\n");
    const emptied = await sync(t.store, t.fixture.dir);
    expect(new Set(emptied.plan.changes.map((change) => change.reason))).toEqual(
      new Set(["noLongerDeclared"]),
    );
  });

  test("a bad matrix is one located error; the jobs the file declared stay as they were", async () => {
    await t.setUp();
    t.fixture.write("build.yaml", buildFile());
    await sync(t.store, t.fixture.dir);
    const before = await revisions(t, IDS);
    t.fixture.write("build.yaml", buildFile("[]"));
    const bad = await sync(t.store, t.fixture.dir);
    expect(bad.plan.changes).toEqual([]);
    expect(bad.plan.errors.map((e) => `${e.file}:${e.line}:${e.column} ${e.field} ${e.message}`)).toEqual([
      "build.yaml:6:3 matrix.region `matrix.region` is an empty list",
    ]);
    expect(await revisions(t, IDS)).toEqual(before);
  });

  test("the CLI shows the expansion in its dry-run plan and refuses a bad matrix in one line", async () => {
    await t.setUp();
    t.fixture.write("build.yaml", buildFile());
    const dry = await runCli(["sync", t.fixture.dir, "--dry-run"], { env: t.fixture.env });
    expect(dry.exitCode).toBe(0);
    expect(dry.stdout).toContain(
      "+ build-eu-s  create (matrix build: region=eu, size=s, flags=--slow)  build.yaml",
    );
    const json = await runCli(["sync", t.fixture.dir, "--dry-run", "--json"], { env: t.fixture.env });
    const changes = (JSON.parse(json.stdout) as { plan: { changes: { id: string; matrix: unknown }[] } }).plan
      .changes;
    expect(changes.find((change) => change.id === "build-us-m")?.matrix).toEqual({
      declaration: "build",
      values: { region: "us", size: "m" },
    });

    t.fixture.write("build.yaml", buildFile().replace("matrix.size", "matrix.sise"));
    const bad = await runCli(["sync", t.fixture.dir], { env: t.fixture.env });
    expect(bad.exitCode).toBe(2);
    expect(bad.stdout + bad.stderr).toContain(
      "build.yaml:2:1: `command` uses `${{ matrix.sise }}`, but the matrix has no key `sise` — did you mean `size`?",
    );
  });
});
