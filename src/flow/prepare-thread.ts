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

/**
 * Lines per block sent. A chunk of the file holds about 10,000; sent whole, the main thread
 * waited for the first one to be prepared before its first INSERT and the thread sat idle
 * through the last one's INSERTs. Blocks of 1,000 keep both busy: `enqueue -f` of 100,000
 * jobs went from 0.765 to 0.74 s (medians of 20 interleaved runs, bench/RESULTS.md).
 */
const BLOCK_LINES = 1000;

/** Blocks sent and not yet taken by the main thread, at most: 20,000 lines, as two chunks were. */
const AHEAD = 20;

let taken = 0;
let wake: (() => void) | null = null;

function report(message: ThreadReport, transfer: Transferable[] = []): void {
  self.postMessage(message, transfer);
}

async function prepare({ path, readHint, name, config, now }: Extract<ThreadRequest, { kind: "start" }>) {
  let sent = 0;
  for await (const chunk of textLines(inputChunks(path, readHint), name)) {
    for (let at = 0; at < chunk.lines.length; at += BLOCK_LINES) {
      const block = { first: chunk.first + at, lines: chunk.lines.slice(at, at + BLOCK_LINES) };
      const packed = packBlock(prepareBlock(block, name, config, now));
      report({ kind: "block", block: packed }, [packed.numbers.buffer]);
      sent++;
      while (sent - taken >= AHEAD) await new Promise<void>((resolve) => (wake = resolve));
    }
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
    else if (error instanceof Error) report({ kind: "failed", message: error.message, stack: error.stack });
    else report({ kind: "failed", message: String(error) });
  });
};
