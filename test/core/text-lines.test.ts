/**
 * Bulk input is decoded a chunk at a time and split into lines (core/text-lines.ts). However
 * the bytes are cut into chunks, in the middle of a character or of a line, the lines are the
 * ones decoding the whole input at once gives; bytes that are not text are refused. The
 * inputs and their cuts are random, from a printed seed.
 */

import { expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { UserError } from "../../src/core/errors.ts";
import { spoolIfPipe, textLines } from "../../src/core/text-lines.ts";
import { seededRandom, testSeed } from "../helpers/seed.ts";

const SEED = testSeed("text-lines");

async function* asChunks(parts: Uint8Array[]): AsyncGenerator<Uint8Array> {
  for (const part of parts) yield part;
}

/** `bytes` cut at random places, some cuts close together, some far apart. */
function cutRandomly(bytes: Uint8Array, random: () => number): Uint8Array[] {
  // The first chunk tells the encoding by its first bytes, as a file's first read always can.
  const parts: Uint8Array[] = [bytes.slice(0, 4)];
  let at = 4;
  while (at < bytes.length) {
    const size = random() < 0.5 ? 1 + Math.floor(random() * 4) : 1 + Math.floor(random() * 400);
    parts.push(bytes.slice(at, at + size));
    at += size;
  }
  return parts;
}

async function linesOf(parts: Uint8Array[]): Promise<{ first: number; lines: string[] }> {
  const lines: string[] = [];
  let first = 0;
  for await (const block of textLines(asChunks(parts), "jobs.ndjson")) {
    if (first === 0) first = block.first;
    expect(block.first).toBe(first + lines.length);
    lines.push(...block.lines);
  }
  return { first, lines };
}

/** Text with characters of one to four UTF-8 bytes, a U+FEFF inside a line, long and empty lines. */
function randomText(random: () => number): string {
  const pieces = ["a", "é", "€", "😀", "\uFEFF", '{"id":"x"}', "\r", " ", "\n", "\n"];
  let text = "";
  const length = Math.floor(random() * 3000);
  for (let index = 0; index < length; index++) text += pieces[Math.floor(random() * pieces.length)];
  if (random() < 0.3) text += "z".repeat(2000);
  return text;
}

test("however the bytes are cut, the lines are those of the whole text", async () => {
  const random = seededRandom(SEED);
  for (let round = 0; round < 200; round++) {
    const text = randomText(random);
    const withMark = random() < 0.3;
    const bytes = new TextEncoder().encode(withMark ? `\uFEFF${text}` : text);
    const { first, lines } = await linesOf(cutRandomly(bytes, random));
    // A leading U+FEFF is the byte-order mark and dropped, every other one kept; a last
    // "\n" ends the last line rather than starting an empty one.
    let expected = !withMark && text.startsWith("\uFEFF") ? text.slice(1) : text;
    if (expected.endsWith("\n")) expected = expected.slice(0, -1);
    expect(lines.join("\n")).toBe(expected);
    if (lines.length > 0) expect(first).toBe(1);
  }
});

test("a line longer than many chunks comes whole", async () => {
  const line = "é".repeat(300_000);
  const bytes = new TextEncoder().encode(`${line}\nnext`);
  const parts: Uint8Array[] = [];
  for (let at = 0; at < bytes.length; at += 4093) parts.push(bytes.slice(at, at + 4093));
  expect((await linesOf(parts)).lines).toEqual([line, "next"]);
});

test("bytes that are not UTF-8 are refused, wherever the chunks are cut", async () => {
  const random = seededRandom(SEED + 1);
  for (const bad of [[0xff], [0xe2, 0x82], [0xc3]]) {
    const bytes = new Uint8Array([...new TextEncoder().encode("ok\nfine "), ...bad, 0x0a, 0x61]);
    const refusal = await linesOf(cutRandomly(bytes, random)).then(
      () => null,
      (error: unknown) => error,
    );
    expect(refusal).toBeInstanceOf(UserError);
    expect((refusal as UserError).message).toBe("jobs.ndjson is not UTF-8 text");
  }
  // A character cut short by the end of the input.
  const cut = new Uint8Array([0x61, 0x0a, 0xe2, 0x82]);
  await expect(linesOf([cut])).rejects.toThrow("jobs.ndjson is not UTF-8 text");
});

test("UTF-16 input with its byte-order mark is decoded across cuts", async () => {
  const random = seededRandom(SEED + 2);
  const text = '{"id":"a","command":"echo é"}\n{"id":"b","command":"😀"}';
  const units = [0xff, 0xfe];
  for (let index = 0; index < text.length; index++) {
    const code = text.charCodeAt(index);
    units.push(code & 0xff, code >> 8);
  }
  const { lines } = await linesOf(cutRandomly(new Uint8Array(units), random));
  expect(lines).toEqual(text.split("\n"));
});

/** spoolIfPipe of a named pipe that `script` writes to (as "$0", descriptor 3), the writer left open meanwhile. */
async function spoolFromWriter(script: string): Promise<unknown> {
  const dir = mkdtempSync(join(tmpdir(), "queuectl-spool-"));
  const fifo = join(dir, "input");
  expect(Bun.spawnSync(["mkfifo", fifo]).exitCode).toBe(0);
  const writer = Bun.spawn(["sh", "-c", `exec 3>"$0"; ${script}`, fifo]);
  try {
    const spooled = await spoolIfPipe(fifo, "check the path").catch((error: unknown) => error);
    if (spooled instanceof UserError) return spooled.message.replace(fifo, "FIFO");
    if (spooled instanceof Error) throw spooled;
    const { path, cleanup } = spooled as Awaited<ReturnType<typeof spoolIfPipe>>;
    const text = await Bun.file(path).bytes();
    cleanup();
    return text;
  } finally {
    writer.kill("SIGKILL");
    await writer.exited;
    rmSync(dir, { recursive: true, force: true });
  }
}

test("a pipe is refused at its first NUL character, before it ends: /dev/zero filled the temporary folder", async () => {
  // Each writer keeps the pipe open after its bytes: waiting for the end would never return.
  expect(await spoolFromWriter(`printf '{"id":"a"}\\000\\n' >&3; sleep 60`)).toBe("FIFO: contains NUL bytes");
  // UTF-16 by its byte-order mark: zero bytes are text, a zero unit is NUL, even cut by reads.
  expect(await spoolFromWriter(`printf '\\377\\376' >&3; head -c 4096 /dev/zero >&3; sleep 60`)).toBe(
    "FIFO: contains NUL bytes",
  );
  expect(
    await spoolFromWriter(`printf '\\377\\376a\\000\\000' >&3; sleep 0.2; printf '\\000' >&3; sleep 60`),
  ).toBe("FIFO: contains NUL bytes");
});

test("UTF-16 through a pipe is spooled whole, its byte-order mark cut by the reads or not", async () => {
  const body = "\\173\\000\\175\\000"; // "{}" in UTF-16LE
  for (const script of [
    `printf '\\377\\376${body}'`,
    `printf '\\377' >&3; sleep 0.2; printf '\\376${body}'`,
  ]) {
    expect(await spoolFromWriter(`${script} >&3; exec 3>&-`)).toEqual(
      new Uint8Array([0xff, 0xfe, 0x7b, 0, 0x7d, 0]),
    );
  }
});

test("UTF-8 input is refused at its first chunk holding a NUL byte, not after reading it all", async () => {
  let pulled = 0;
  async function* zeros(): AsyncGenerator<Uint8Array> {
    // A line without end, as /dev/zero reads: the decoder would keep every byte of it.
    for (; pulled < 1000; pulled++) yield new Uint8Array(65_536);
  }
  const reading = (async () => {
    for await (const _ of textLines(zeros(), "/dev/zero")) {
      // Nothing comes before the refusal.
    }
  })();
  await expect(reading).rejects.toThrow("/dev/zero: contains NUL bytes");
  expect(pulled).toBe(0);
});
