/**
 * `worker start` as a systemd unit's main process, as the original tool's README runs it
 * (`Type=simple`, `ExecStart=… worker start --count 5`): systemd counts a main process that
 * exits as a stopped service and kills the workers it left. So there the start stays while
 * its workers run and ends with them. SYSTEMD_EXEC_PID is set to the process's own pid, as
 * systemd sets it; the stop is SIGTERM to every process, as systemd sends it to the unit's.
 */

import { expect, setDefaultTimeout, test } from "bun:test";
import { isProcessAlive } from "../../src/worker/process-info.ts";
import { CLI_PATH, runCliJson, waitFor } from "../helpers/cli.ts";
import { workerTestContext } from "../worker/helpers.ts";

setDefaultTimeout(60_000);

const context = workerTestContext();

/** The JSON a process prints first, read as it comes: the process goes on running. */
async function firstJson(stream: ReadableStream<Uint8Array>): Promise<unknown> {
  const decoder = new TextDecoder();
  let text = "";
  for await (const chunk of stream) {
    text += decoder.decode(chunk, { stream: true });
    try {
      return JSON.parse(text);
    } catch {
      // Not all of it yet.
    }
  }
  throw new Error(`no JSON printed: ${text}`);
}

test("as a systemd service's main process, worker start stays while its workers run, and ends with them", async () => {
  const start = Bun.spawn(
    ["sh", "-c", `SYSTEMD_EXEC_PID=$$ exec bun ${CLI_PATH} worker start --count 2 --json`],
    { env: context.home.env, stdout: "pipe", stderr: "pipe" },
  );
  const printed = (await firstJson(start.stdout)) as { workers: { pid: number }[] };
  const pids = printed.workers.map((worker) => worker.pid);
  expect(pids).toHaveLength(2);
  await waitFor(
    async () =>
      (await runCliJson<{ workers: unknown[] }>(["status", "--json"], { env: context.home.env })).workers
        .length === 2,
    { what: "both workers to register" },
  );
  // Printed and registered, and a `status` later: a start that returns would be gone by now.
  expect(start.exitCode).toBeNull();

  for (const pid of [start.pid, ...pids]) process.kill(pid, "SIGTERM");
  expect(await start.exited).toBe(0);
  expect(pids.filter(isProcessAlive)).toEqual([]);
});
