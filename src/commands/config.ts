import type { CAC } from "cac";
import { CONFIG_KEYS, canonicalConfigKey, parseConfigValue, withDefaults } from "../core/config.ts";
import { UserError } from "../core/errors.ts";
import { colors, configJson, printJson, safeText } from "../render.ts";
import { assertArchivePath } from "../worker/archive.ts";
import { type GlobalOptions, withExistingStore, withStore } from "./context.ts";

const VALUE_COLUMN_MAX = 24;

export function registerConfig(cli: CAC): void {
  cli
    .command("config get [key]", `Show the config, or one key: ${Object.keys(CONFIG_KEYS).join(", ")}`)
    .option("--json", "Print JSON (default: human text)")
    .example("queuectl config get")
    .example("queuectl config get max-retries")
    .action(async (key: string | undefined, options: GlobalOptions) => {
      const canonical = key === undefined ? undefined : canonicalConfigKey(String(key));
      await withExistingStore(options, async (store) => {
        const values = withDefaults(await store.configGetAll());
        if (canonical !== undefined) {
          if (options.json) printJson(configJson({ [canonical]: values[canonical] ?? "" }));
          else console.log(safeText(String(values[canonical])));
          return;
        }
        if (options.json) printJson(configJson(values));
        else {
          // A value another host wrote to a shared store must not drive this terminal.
          const rows = Object.entries(values).map(
            ([name, value]) => [name, safeText(String(value))] as const,
          );
          const keyWidth = Math.max(...rows.map(([name]) => name.length));
          // A long value (a webhook list, an archive path) takes the room it needs on its own
          // row rather than widening the column for every other row.
          const fitting = rows
            .map(([, value]) => value.length)
            .filter((length) => length <= VALUE_COLUMN_MAX);
          const valueWidth = Math.max(8, ...fitting);
          for (const [name, value] of rows) {
            console.log(
              `${name.padEnd(keyWidth)} ${value.padEnd(valueWidth)} ${colors.dim(CONFIG_KEYS[name]?.describe ?? "")}`,
            );
          }
        }
      });
    });

  cli
    .command(
      "config set <key> <value>",
      `Change a setting (${Object.keys(CONFIG_KEYS).join(", ")}; durations as 30, 30s, 5m or 2h); running workers pick it up without a restart`,
    )
    .example("queuectl config set max-retries 5")
    .example("queuectl config set lease 60s")
    .action(async (key: string, value: string, options: GlobalOptions) => {
      if (value === undefined)
        throw new UserError("config set needs a key and a value", "e.g. queuectl config set max-retries 5");
      const canonical = canonicalConfigKey(String(key));
      const stored = parseConfigValue(canonical, String(value));
      if (canonical === "retention-archive" && stored !== "off")
        assertArchivePath(stored, "retention-archive");
      await withStore(options, async (store) => {
        await store.configSet({ key: canonical, value: stored });
        console.log(`${colors.green("✓")} ${canonical} = ${safeText(stored)}`);
      });
    });
}
