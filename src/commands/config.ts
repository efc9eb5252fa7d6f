import type { CAC } from "cac";
import { CONFIG_KEYS, canonicalConfigKey, parseConfigValue, withDefaults } from "../core/config.ts";
import { UserError } from "../core/errors.ts";
import { colors, configJson, printJson } from "../render.ts";
import { type GlobalOptions, withStore } from "./context.ts";

export function registerConfig(cli: CAC): void {
  cli
    .command("config get [key]", `Show the config, or one key: ${Object.keys(CONFIG_KEYS).join(", ")}`)
    .option("--json", "Print JSON (default: human text)")
    .example("queuectl config get")
    .example("queuectl config get max-retries")
    .action(async (key: string | undefined, options: GlobalOptions) => {
      const canonical = key === undefined ? undefined : canonicalConfigKey(String(key));
      await withStore(options, async (store) => {
        const values = withDefaults(await store.configGetAll());
        if (canonical !== undefined) {
          if (options.json) printJson(configJson({ [canonical]: values[canonical] ?? "" }));
          else console.log(values[canonical]);
          return;
        }
        if (options.json) printJson(configJson(values));
        else {
          for (const [name, value] of Object.entries(values)) {
            console.log(
              `${name.padEnd(14)} ${String(value).padEnd(8)} ${colors.dim(CONFIG_KEYS[name]?.describe ?? "")}`,
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
      await withStore(options, async (store) => {
        await store.configSet({ key: canonical, value: stored });
        console.log(`${colors.green("✓")} ${canonical} = ${stored}`);
      });
    });
}
