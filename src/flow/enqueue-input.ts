/**
 * Reading `enqueue --file` input: NDJSON streams (see flow/enqueue-stream.ts), JSON and YAML
 * are read whole. Loaded only when a file is given, so a one-job enqueue never pays for it.
 */

import type { InputFormat } from "../core/job-input.ts";
import { isJsonObjectLine } from "../core/json-text.ts";
import { inputChunks, spoolIfPipe, textLines } from "../core/text-lines.ts";
import type { StreamedInput } from "./enqueue-stream.ts";

const READ_HINT = "check the path; use -f - to read stdin";

export type Input = (
  | { kind: "whole"; text: string; name: string; format: InputFormat | undefined }
  | { kind: "stream"; input: StreamedInput }
) & {
  /** Removes the temporary copy of piped input; call it once the input has been used. */
  cleanup: () => void;
};

/**
 * NDJSON streams; JSON and YAML are parsed whole. Without a format, the input is NDJSON when
 * its first line is a whole JSON object and another line of JSON follows (such a text cannot
 * parse as one JSON document).
 */
export async function readInput(path: string, format: InputFormat | undefined): Promise<Input> {
  const name = path === "-" ? "stdin" : path;
  const source = await spoolIfPipe(path, READ_HINT);
  try {
    const lines = () => textLines(inputChunks(source.path, READ_HINT), name);
    const file = { path: source.path, readHint: READ_HINT };
    const streamed: Input = { kind: "stream", input: { name, lines, file }, cleanup: source.cleanup };
    if (format === "ndjson") return streamed;
    const read: string[] = [];
    const filled: string[] = [];
    for await (const block of lines()) {
      read.push(...block.lines);
      filled.push(...block.lines.filter((line) => line.trim() !== "").slice(0, 2 - filled.length));
      // Leaving the loop early closes the file.
      if (format === undefined && filled.length >= 2) break;
    }
    if (
      format === undefined &&
      filled.length >= 2 &&
      isJsonObjectLine(filled[0] ?? "") &&
      // A line of JSON after it, object or not, makes NDJSON (a list or a number there is
      // refused as the line it is); anything else (`---`) may still make YAML of the whole.
      isJsonValue(filled[1] ?? "")
    ) {
      return streamed;
    }
    if (format === undefined && filled.length >= 2) {
      read.length = 0;
      for await (const block of lines()) read.push(...block.lines);
    }
    // Each line still ends as it was written but for its `\n`: the last line of a Windows file
    // keeps a lone `\r`, which YAML refuses after a quoted value, so its newline goes back.
    // Only there: an error at the end of any other input keeps its line and column.
    const text =
      read.length > 0 && read[read.length - 1]?.endsWith("\r") ? `${read.join("\n")}\n` : read.join("\n");
    return { kind: "whole", text, name, format, cleanup: source.cleanup };
  } catch (error) {
    source.cleanup();
    throw error;
  }
}

function isJsonValue(line: string): boolean {
  try {
    JSON.parse(line);
    return true;
  } catch {
    return false;
  }
}
