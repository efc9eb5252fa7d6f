/**
 * Two processes opening a new store at the same moment both turn it to WAL; each holds the
 * file to read it and then needs it alone to change it, so SQLite answers one of them with
 * SQLITE_BUSY at once rather than after its busy timeout (wal-mode.ts). Two real processes
 * open a row of new stores, each store at the same instant in both: none may fail. Without
 * the retry, several of the stores failed to open in one of the two with "stayed locked".
 */

import { expect, setDefaultTimeout, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

setDefaultTimeout(120_000);

const CONNECTION = resolve(import.meta.dir, "../../src/store/sqlite/connection.ts");
const STORES = 30;
/** Between two stores' instants: each opener has long finished the last one by then. */
const STEP_MS = 40;

/** Opens `jobs-<k>.db` in `dir` at `startAt + k * STEP_MS`, as every command opens a store. */
const OPENER = `
  import { openConnection } from ${JSON.stringify(CONNECTION)};
  const [dir, startAt] = [process.argv[2], Number(process.argv[3])];
  const outcomes = [];
  for (let k = 0; k < ${STORES}; k++) {
    const at = startAt + k * ${STEP_MS};
    // Asleep until just before the instant, so that waiting costs a busy suite little; then spin.
    await Bun.sleep(Math.max(0, at - Date.now() - 5));
    while (Date.now() < at) {}
    try {
      const connection = openConnection(dir + "/jobs-" + k + ".db");
      outcomes.push(connection.db.query("PRAGMA journal_mode").get().journal_mode);
      connection.db.close();
    } catch (error) {
      outcomes.push("failed: " + error.message);
    }
  }
  console.log(JSON.stringify(outcomes));
`;

test(`two processes open ${STORES} new stores, each at the same instant, and every one opens in WAL mode`, async () => {
  const dir = mkdtempSync(join(tmpdir(), "queuectl-wal-race-"));
  try {
    const script = join(dir, "open.ts");
    writeFileSync(script, OPENER);
    // Far enough ahead for both to have started and loaded their modules, even on a busy machine.
    const startAt = Date.now() + 1_000;
    const openers = [0, 1].map(() =>
      Bun.spawn(["bun", script, dir, String(startAt)], { stdout: "pipe", stderr: "inherit" }),
    );
    const outcomes = (
      await Promise.all(openers.map(async (opener) => JSON.parse(await new Response(opener.stdout).text())))
    ).flat() as string[];
    expect(outcomes.filter((outcome) => outcome !== "wal")).toEqual([]);
    expect(outcomes).toHaveLength(STORES * 2);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
