/** Starts the real `queuectl dashboard` process on a free port and finds its URL on stdout. */

import type { Subprocess } from "bun";
import { CLI_PATH } from "../helpers/cli.ts";

export interface RunningDashboard {
  /** e.g. http://127.0.0.1:41234 (no trailing slash), the Origin the page itself sends. */
  origin: string;
  process: Subprocess<"ignore", "pipe", "pipe">;
  stop: () => Promise<void>;
}

export async function startDashboard(
  env: Record<string, string>,
  args: string[] = [],
  timeoutMs = 20_000,
): Promise<RunningDashboard> {
  const child = Bun.spawn(["bun", CLI_PATH, "dashboard", "--port", "0", ...args], {
    env,
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  const reader = child.stdout.getReader();
  const decoder = new TextDecoder();
  let seen = "";
  const deadline = setTimeout(() => child.kill(), timeoutMs);
  try {
    while (!/on (http:\/\/\S+?)\/\s/.test(seen)) {
      const { value, done } = await reader.read();
      if (done) {
        const stderr = await new Response(child.stderr).text();
        throw new Error(
          `the dashboard exited before listening (exit ${await child.exited}): ${stderr}${seen}`,
        );
      }
      seen += decoder.decode(value, { stream: true });
    }
  } finally {
    clearTimeout(deadline);
    reader.releaseLock();
  }
  const origin = seen.match(/on (http:\/\/\S+?)\/\s/)?.[1] ?? "";
  return {
    origin,
    process: child,
    async stop() {
      child.kill("SIGTERM");
      await child.exited;
    },
  };
}
