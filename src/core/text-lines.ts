/**
 * Input read as it arrives, line by line, so that a bulk file of a million jobs never sits in
 * memory whole: at most one chunk of bytes and one unfinished line are held at a time. Lines
 * come in blocks (one per chunk) because awaiting once per line would cost more than parsing it.
 */

import { closeSync, existsSync, openSync, rmSync, statSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { UserError } from "./errors.ts";
import { randomHex } from "./random-hex.ts";

export interface LineBlock {
  /** The 1-based number of `lines[0]` in the input. */
  first: number;
  /** Raw lines without their "\n"; joining them with "\n" gives the input back. */
  lines: string[];
}

/**
 * Windows tools write a byte-order mark (PowerShell's `Out-File` even writes UTF-16), which
 * JSON.parse would reject as a syntax error at the first character; the decoder drops it.
 */
export function encodingOf(bytes: Uint8Array): "utf-8" | "utf-16le" | "utf-16be" {
  if (bytes[0] === 0xff && bytes[1] === 0xfe) return "utf-16le";
  if (bytes[0] === 0xfe && bytes[1] === 0xff) return "utf-16be";
  return "utf-8";
}

/** Input holding a NUL byte: no JSON, YAML or NDJSON holds one. */
export function nulBytes(name: string): UserError {
  return new UserError(`${name}: contains NUL bytes`, "give a text file of JSON, YAML or NDJSON");
}

function notText(name: string, encoding: string): UserError {
  return new UserError(`${name} is not ${encoding.toUpperCase()} text`, "save it as UTF-8 and try again");
}

/**
 * Decodes UTF-8 a chunk at a time, each time up to the chunk's last "\n" (a byte no longer
 * character can contain), keeping the bytes after it for the next chunk. Whole pieces decode
 * many times faster than TextDecoder's streaming mode, which a 3.5 MB file paid 5 to 25 ms
 * for on the thread that prepares a bulk input (bench/RESULTS.md).
 */
class Utf8Pieces {
  private readonly first = new TextDecoder("utf-8", { fatal: true });
  // After the first piece a U+FEFF is a character of a line, not a byte-order mark.
  private readonly rest = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
  private started = false;
  /** Bytes after the last "\n" so far: parts, joined once, so that a long line costs no quadratic copying. */
  private carried: Uint8Array[] = [];

  /** The text of the chunk's complete lines, each with its "\n"; throws on bytes that are not UTF-8. */
  decode(chunk: Uint8Array): string {
    const end = chunk.lastIndexOf(NEWLINE) + 1;
    // Copies (a Buffer's slice would be a view): a stream may reuse a chunk's memory.
    if (end === 0) {
      this.carried.push(new Uint8Array(chunk));
      return "";
    }
    const text = this.decodeBytes(this.withCarried(chunk.subarray(0, end)));
    if (end < chunk.length) this.carried.push(new Uint8Array(chunk.subarray(end)));
    return text;
  }

  /** The text after the last "\n", once the input has ended. */
  end(): string {
    return this.decodeBytes(this.withCarried(new Uint8Array(0)));
  }

  private withCarried(bytes: Uint8Array): Uint8Array {
    if (this.carried.length === 0) return bytes;
    const joined = Buffer.concat([...this.carried, bytes]);
    this.carried = [];
    return joined;
  }

  private decodeBytes(bytes: Uint8Array): string {
    if (bytes.length === 0) return "";
    const decoder = this.started ? this.rest : this.first;
    this.started = true;
    return decoder.decode(bytes);
  }
}

const NEWLINE = 0x0a;

/** Decodes `chunks` and splits them into lines; a NUL byte or undecodable bytes refuse the input. */
export async function* textLines(chunks: AsyncIterable<Uint8Array>, name: string): AsyncGenerator<LineBlock> {
  let decode: ((chunk: Uint8Array) => string) | undefined;
  let finish: () => string = () => "";
  let encoding = "utf-8";
  let partial = "";
  let next = 1;
  const split = (text: string): LineBlock | undefined => {
    if (text.includes("\0")) throw nulBytes(name);
    const lines = (partial + text).split("\n");
    partial = lines.pop() ?? "";
    if (lines.length === 0) return undefined;
    const block = { first: next, lines };
    next += lines.length;
    return block;
  };
  for await (const chunk of chunks) {
    if (decode === undefined) {
      encoding = encodingOf(chunk);
      if (encoding === "utf-8") {
        const pieces = new Utf8Pieces();
        decode = (bytes) => pieces.decode(bytes);
        finish = () => pieces.end();
      } else {
        const decoder = new TextDecoder(encoding, { fatal: true });
        decode = (bytes) => decoder.decode(bytes, { stream: true });
        finish = () => decoder.decode();
      }
    }
    // Before the decoder, which keeps a line's bytes until its newline: /dev/zero has none.
    if (encoding === "utf-8" && chunk.includes(0)) throw nulBytes(name);
    let text: string;
    try {
      text = decode(chunk);
    } catch {
      throw notText(name, encoding);
    }
    const block = split(text);
    if (block) yield block;
  }
  let rest = "";
  try {
    rest = finish();
  } catch {
    throw notText(name, encoding);
  }
  const block = split(rest);
  if (block) yield block;
  if (partial !== "") yield { first: next, lines: [partial] };
}

/** The bytes of a file, or of stdin for "-", as they are read; a file that cannot be read is a UserError. */
export async function* inputChunks(path: string, hint: string): AsyncGenerator<Uint8Array> {
  const stream = path === "-" ? Bun.stdin.stream() : Bun.file(path).stream();
  let started = false;
  try {
    for await (const chunk of stream) {
      started = true;
      yield chunk;
    }
    return;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    // Bun's file stream refuses a character device such as /dev/null (EPERM); Node's reads it.
    if (code !== "EPERM" || started || path === "-") throw unreadable(path, error, hint);
  }
  try {
    const { createReadStream } = require("node:fs") as typeof import("node:fs");
    for await (const chunk of createReadStream(path)) yield chunk as Uint8Array;
  } catch (error) {
    throw unreadable(path, error, hint);
  }
}

function unreadable(path: string, error: unknown, hint: string): UserError {
  const code = (error as NodeJS.ErrnoException).code;
  return new UserError(
    `cannot read ${path === "-" ? "stdin" : path} (${code ?? (error as Error).message})`,
    hint,
  );
}

export interface SpooledInput {
  /** A regular file to read, as often as needed. */
  path: string;
  /** Removes the copy, if one was made. */
  cleanup: () => void;
}

/** stdin, a FIFO or a device: input that can be read only once, and only as fast as it comes. */
function isPipe(path: string): boolean {
  if (path === "-") return true;
  try {
    const stats = statSync(path);
    return stats.isFIFO() || stats.isCharacterDevice() || stats.isSocket();
  } catch {
    // Missing or unreadable: reading it says so, naming the path.
    return false;
  }
}

/**
 * Finds a NUL character in input as it streams: a zero byte of UTF-8, or a zero unit of
 * UTF-16, whose text holds zero bytes of its own. The first two bytes tell which, however
 * the reads cut them (a byte-order mark, as encodingOf reads it).
 */
class NulWatch {
  private readonly head: number[] = [];
  private utf16: boolean | null = null;
  private seen = 0;
  /** The byte before the next, for a UTF-16 unit cut in two by a read. */
  private previous = -1;

  holds(chunk: Uint8Array): boolean {
    if (this.utf16 === null) {
      for (let i = 0; i < chunk.length && this.head.length < 2; i++) this.head.push(chunk[i] as number);
      const [first, second] = this.head;
      if (first !== 0xff && first !== 0xfe) this.utf16 = false;
      else if (second !== undefined) this.utf16 = encodingOf(Uint8Array.from(this.head)) !== "utf-8";
    }
    let found = this.utf16 === false && chunk.includes(0);
    for (let i = 0; this.utf16 !== false && i < chunk.length && !found; i++) {
      const byte = chunk[i] as number;
      found = this.utf16 === true && (this.seen + i) % 2 === 1 && byte === 0 && this.previous === 0;
      this.previous = byte;
    }
    this.seen += chunk.length;
    return found;
  }
}

/**
 * Input from a pipe is copied to a private temporary file before any of it is stored, so a
 * slow producer never holds a store transaction open (on SQLite that would hold the write
 * lock every worker needs) and the input can be read twice, to name both lines of a repeated
 * id. A regular file is read where it is.
 *
 * The copy is unlinked as soon as it is open and read again through /proc/self/fd, so a
 * process killed while it reads or stores leaves no copy behind: the kernel frees it with
 * the last descriptor. Where /proc is missing, the copy has a name until cleanup. It is made
 * directly in the temporary folder, with a random name and O_EXCL (so no one else's file or
 * link is used): a private folder around it took a second step to remove, and a kill between
 * the two left the folder behind.
 */
export async function spoolIfPipe(path: string, hint: string): Promise<SpooledInput> {
  if (!isPipe(path)) return { path, cleanup: () => {} };
  const copy = join(tmpdir(), `queuectl-input-${randomHex(9)}`);
  const fd = openSync(copy, "wx+", 0o600);
  const anonymous = existsSync("/proc/self/fd");
  if (anonymous) rmSync(copy, { force: true });
  const cleanup = () => {
    try {
      closeSync(fd);
    } catch {
      // Closed already.
    }
    rmSync(copy, { force: true });
  };
  try {
    // Refused as it comes, not after the copy: /dev/zero or a binary pipe would fill the
    // temporary folder first.
    const nul = new NulWatch();
    for await (const chunk of inputChunks(path, hint)) {
      if (nul.holds(chunk)) throw nulBytes(path === "-" ? "stdin" : path);
      for (let written = 0; written < chunk.length; ) written += writeSync(fd, chunk, written);
    }
  } catch (error) {
    cleanup();
    throw error;
  }
  return { path: anonymous ? `/proc/self/fd/${fd}` : copy, cleanup };
}

/** The size in bytes of the file at `path`, or undefined when it cannot be read here. */
export function inputBytes(path: string): number | undefined {
  try {
    return statSync(path).size;
  } catch {
    return undefined;
  }
}
