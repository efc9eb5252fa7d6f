/** Starts the real `queuectl dashboard` process on a free port and finds its URL on stdout. */

import type { Subprocess } from "bun";
import { CLI_PATH } from "../helpers/cli.ts";

export interface RunningDashboard {
  /** e.g. http://127.0.0.1:41234 (no trailing slash), the Origin the page itself sends. */
  origin: string;
  /** The token in the printed URL (a generated one), or null when none was printed. */
  token: string | null;
  /** `Authorization: Bearer <token>` when a token was printed, else nothing. */
  auth: Record<string, string>;
  process: Subprocess<"ignore", "pipe", "pipe">;
  stop: () => Promise<void>;
}

const LISTENING = /on (http:\/\/\S+?)\/(?:\?token=([0-9a-f]+))?\s/;

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
    while (!LISTENING.test(seen)) {
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
  const [, origin = "", token = null] = seen.match(LISTENING) ?? [];
  return {
    origin,
    token,
    auth: token === null ? {} : { authorization: `Bearer ${token}` },
    process: child,
    async stop() {
      child.kill("SIGTERM");
      await child.exited;
    },
  };
}
