/**
 * `completion bash|zsh|fish`: prints a completion script. `--ids` and `--queues` print the
 * job ids and queue names the scripts offer, read from the store each time TAB is pressed.
 */

import type { CAC } from "cac";
import { completionModel } from "../completion/model.ts";
import { completionScript, SHELLS, type Shell } from "../completion/scripts.ts";
import { suggestion, UserError } from "../core/errors.ts";
import { JOB_STATES } from "../core/job.ts";
import { type GlobalOptions, withExistingStore } from "./context.ts";

interface CompletionOptions extends GlobalOptions {
  ids?: boolean;
  queues?: boolean;
}

/** Ids offered on TAB: the most recent ones; older ids can still be typed. */
const IDS_OFFERED = 500;

export function registerCompletion(cli: CAC): void {
  cli
    .command("completion [shell]", "Print a shell completion script: bash, zsh or fish")
    .option("--ids", "Print recent job ids, one per line; the scripts call this (default: off)")
    .option("--queues", "Print queue names, one per line; the scripts call this (default: off)")
    .example(
      "mkdir -p ~/.local/share/bash-completion/completions && queuectl completion bash > ~/.local/share/bash-completion/completions/queuectl",
    )
    .example("echo 'source <(queuectl completion zsh)' >> ~/.zshrc")
    .example(
      "mkdir -p ~/.config/fish/completions && queuectl completion fish > ~/.config/fish/completions/queuectl.fish",
    )
    .action(async (shell: string | undefined, options: CompletionOptions) => {
      if (options.ids || options.queues) {
        // TAB after a mistyped --db offers nothing, and leaves no new file behind.
        await withExistingStore(options, async (store) => {
          const words = options.ids
            ? (await store.jobPage({ limit: IDS_OFFERED })).jobs.map((job) => job.id)
            : (await store.queueList()).map((queue) => queue.name);
          if (words.length > 0) process.stdout.write(`${words.join("\n")}\n`);
        }).catch((error) => {
          if (!(error instanceof UserError)) throw error;
        });
        return;
      }
      if (shell === undefined) throw new UserError("which shell?", `queuectl completion ${SHELLS.join("|")}`);
      if (!(SHELLS as readonly string[]).includes(shell)) {
        throw new UserError(`no completion for shell "${shell}"`, suggestion(shell, SHELLS));
      }
      process.stdout.write(completionScript(shell as Shell, completionModel(cli, JOB_STATES)));
    });
}
