/**
 * The dashboard's token for its systemd unit. Without a fixed one the dashboard makes a new
 * random token at every start, shown only in the journal, so each restart would sign every
 * browser out. The token lives in an environment file the unit names (EnvironmentFile=),
 * never in the unit itself: `systemctl show` lets any local user read a unit's Environment=,
 * and a unit file is commonly world-readable.
 */

import { chmodSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { UserError } from "../core/errors.ts";
import { ensureHome } from "../core/home.ts";
import { generateToken, isUsableToken, MIN_TOKEN_LENGTH } from "../dashboard/security.ts";

const TOKEN_VARIABLE = "QUEUECTL_DASHBOARD_TOKEN";

export function dashboardTokenFile(home: string): string {
  return join(home, "dashboard.env");
}

function tokenInFile(text: string): string | undefined {
  return new RegExp(`^${TOKEN_VARIABLE}=(\\S+)\\s*$`, "m").exec(text)?.[1];
}

/**
 * The token in the file, made on first use: $QUEUECTL_DASHBOARD_TOKEN when set, else random.
 * An existing token is kept, so reinstalling never signs anyone out; the file is kept 0600.
 */
export function ensureDashboardToken(home: string, env: Record<string, string | undefined>): string {
  const file = dashboardTokenFile(home);
  if (existsSync(file)) {
    const token = tokenInFile(readFileSync(file, "utf8"));
    if (token === undefined || token.length < MIN_TOKEN_LENGTH) {
      throw new UserError(
        `${file} holds no ${TOKEN_VARIABLE}= line with a token of ${MIN_TOKEN_LENGTH}+ characters`,
        `fix that line, or delete the file and run this again to make a new token`,
      );
    }
    chmodSync(file, 0o600);
    return token;
  }
  const chosen = env[TOKEN_VARIABLE] || undefined;
  if (chosen !== undefined && !isUsableToken(chosen)) {
    throw new UserError(
      `$${TOKEN_VARIABLE} must be ${MIN_TOKEN_LENGTH}+ characters, printable ASCII without spaces`,
      "unset it and a random token is made, or generate one with `openssl rand -hex 16`",
    );
  }
  const token = chosen ?? generateToken();
  ensureHome(home);
  writeFileSync(file, `${TOKEN_VARIABLE}=${token}\n`, { mode: 0o600, flag: "wx" });
  return token;
}
