/**
 * Reading `enqueue --file` input: NDJSON streams (see flow/enqueue-stream.ts), JSON and YAML
 * are read whole. Loaded only when a file is given, so a one-job enqueue never pays for it.
 */

import type { InputFormat } from "../core/job-input.ts";
import { inputChunks, type LineBlock, textLines } from "../core/text-lines.ts";
import type { StreamedInput } from "../flow/enqueue-stream.ts";

const READ_HINT = "check the path; use -f - to read stdin";

export type Input =
  | { kind: "whole"; text: string; name: string; format: InputFormat | undefined }
  | { kind: "stream"; input: StreamedInput };

/** The blocks already read, then the rest of the same reading. */
async function* resume(read: LineBlock[], rest: AsyncIterator<LineBlock>): AsyncGenerator<LineBlock> {
  yield* read;
  for (let next = await rest.next(); !next.done; next = await rest.next()) yield next.value;
}

/**
 * NDJSON streams; JSON and YAML are parsed whole. Without a format, the input is NDJSON when
 * its first line is a whole JSON object and another line follows (what whole-input detection
 * concludes too: such a text cannot parse as one JSON document).
 */
export async function readInput(path: string, format: InputFormat | undefined): Promise<Input> {
  const name = path === "-" ? "stdin" : path;
  const reading = textLines(inputChunks(path, READ_HINT), name)[Symbol.asyncIterator]();
  const again = () => textLines(inputChunks(path, READ_HINT), name);
  let fresh = true;
  const streamed = (read: LineBlock[]): Input => ({
    kind: "stream",
    input: {
      name,
      rereadable: path !== "-",
      lines: () => {
        if (!fresh) return again();
        fresh = false;
        return resume(read, reading);
      },
    },
  });
  if (format === "ndjson") return streamed([]);
  const read: LineBlock[] = [];
  const filled: string[] = [];
  let next = await reading.next();
  while (!next.done) {
    read.push(next.value);
    filled.push(...next.value.lines.filter((line) => line.trim() !== "").slice(0, 2 - filled.length));
    if (format === undefined && filled.length >= 2) break;
    next = await reading.next();
  }
  if (
    format === undefined &&
    filled.length >= 2 &&
    isJsonObjectLine(filled[0] ?? "") &&
    filled[1]?.trim().startsWith("{")
  ) {
    return streamed(read);
  }
  const lines = read.flatMap((block) => block.lines);
  for await (const block of resume([], reading)) lines.push(...block.lines);
  return { kind: "whole", text: lines.join("\n"), name, format };
}

function isJsonObjectLine(line: string): boolean {
  try {
    const value = JSON.parse(line);
    return typeof value === "object" && value !== null && !Array.isArray(value);
  } catch {
    return false;
  }
}
