/**
 * The thread behind prepared-ahead.ts: reads a streamed input's file itself and prepares its
 * blocks (prepared-block.ts) while the main thread writes the ones before, a few blocks
 * ahead at most so that a large input still costs a few blocks of memory.
 */

import { UserError } from "../core/errors.ts";
import { inputChunks, textLines } from "../core/text-lines.ts";
import type { ThreadReport, ThreadRequest } from "./prepared-ahead.ts";
import { packBlock, prepareBlock } from "./prepared-block.ts";

declare const self: Worker;

/** Blocks sent and not yet taken by the main thread, at most. */
const AHEAD = 2;

let taken = 0;
let wake: (() => void) | null = null;

function report(message: ThreadReport, transfer: Transferable[] = []): void {
  self.postMessage(message, transfer);
}

async function prepare({ path, readHint, name, config, now }: Extract<ThreadRequest, { kind: "start" }>) {
  let sent = 0;
  for await (const block of textLines(inputChunks(path, readHint), name)) {
    const packed = packBlock(prepareBlock(block, name, config, now));
    report({ kind: "block", block: packed }, [packed.numbers.buffer]);
    sent++;
    while (sent - taken >= AHEAD) await new Promise<void>((resolve) => (wake = resolve));
  }
  report({ kind: "end" });
}

self.onmessage = (event: MessageEvent<ThreadRequest>) => {
  const request = event.data;
  if (request.kind === "taken") {
    taken++;
    wake?.();
    wake = null;
    return;
  }
  prepare(request).catch((error: unknown) => {
    if (error instanceof UserError)
      report({ kind: "refused", message: error.message, hint: error.hint, exitCode: error.exitCode });
    else report({ kind: "failed", message: error instanceof Error ? error.message : String(error) });
  });
};
