import type { CAC } from "cac";
import { UserError } from "../core/errors.ts";
import { colors, printJson, safeText, scheduleJson, scheduleLines } from "../render.ts";
import { type GlobalOptions, withExistingStore } from "./context.ts";

export function registerSchedule(cli: CAC): void {
  cli
    .command("schedule list", "Show recurring jobs and their next occurrence")
    .option("--json", "Print JSON (default: human text)")
    .example("queuectl schedule list")
    .action(async (options: GlobalOptions) => {
      await withExistingStore(options, async (store) => {
        const schedules = await store.scheduleList();
        if (options.json) printJson(schedules.map(scheduleJson));
        else console.log(schedules.length === 0 ? "No schedules." : scheduleLines(schedules));
      });
    });

  cli
    .command("schedule remove <id>", "Stop a schedule's future occurrences (queued ones stay)")
    .example("queuectl schedule remove nightly-report")
    .action(async (id: string, options: GlobalOptions) => {
      await withExistingStore(options, async (store) => {
        const schedule = await store.scheduleGet({ id: String(id) });
        if (!schedule)
          throw new UserError(
            `no schedule with id "${safeText(String(id))}"`,
            "see `queuectl schedule list`",
          );
        if (schedule.source) {
          throw new UserError(
            `schedule "${safeText(schedule.id)}" comes from ${safeText(schedule.source)}`,
            "remove it from that jobfile and sync",
          );
        }
        await store.scheduleRemove({ id: schedule.id });
        console.log(`${colors.green("✓")} schedule ${safeText(schedule.id)} removed`);
      });
    });
}
