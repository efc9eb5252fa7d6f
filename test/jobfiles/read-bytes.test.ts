/**
 * A jobfile that is not UTF-8 is an error at the first bad byte's line and column, as an
 * editor counts them. The place is checked against TextDecoder itself on random bytes: the
 * longest prefix it decodes is exactly what comes before the reported place.
 */

import { describe, expect, test } from "bun:test";
import { parseJobfileBytes } from "../../src/jobfiles/read.ts";
import { seededRandom, testSeed } from "../helpers/seed.ts";

const encode = (text: string) => new TextEncoder().encode(text);

function joined(...parts: (string | number[])[]): Uint8Array {
  const chunks = parts.map((part) => (typeof part === "string" ? encode(part) : Uint8Array.from(part)));
  const bytes = new Uint8Array(chunks.reduce((sum, chunk) => sum + chunk.length, 0));
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.length;
  }
  return bytes;
}

function placeOf(bytes: Uint8Array): [number, number, string] {
  const problem = parseJobfileBytes(bytes, "x.yaml").problems[0];
  if (!problem) throw new Error("expected a problem");
  return [problem.line, problem.column, problem.message];
}

describe("a jobfile with a UTF-16 byte-order mark", () => {
  const utf16 = (text: string, littleEndian: boolean) => {
    const bytes = new Uint8Array(2 + text.length * 2);
    const view = new DataView(bytes.buffer);
    view.setUint16(0, 0xfeff, littleEndian);
    for (let i = 0; i < text.length; i++) view.setUint16(2 + i * 2, text.charCodeAt(i), littleEndian);
    return bytes;
  };

  test("reads as the same jobs as its UTF-8 text (the revision is the spec's)", () => {
    const text = "command: echo héllo\nmax_retries: 1\n";
    const plain = parseJobfileBytes(encode(text), "w.yaml");
    for (const littleEndian of [true, false]) {
      const parsed = parseJobfileBytes(utf16(text, littleEndian), "w.yaml");
      expect(parsed.problems).toEqual([]);
      expect(parsed.jobs.map((job) => job.spec)).toEqual(plain.jobs.map((job) => job.spec));
    }
  });

  test("that is not UTF-16 after all is refused, naming the encoding", () => {
    expect(placeOf(Uint8Array.from([0xff, 0xfe, 0x00, 0xd8]))).toEqual([1, 1, "is not UTF-16LE text"]);
  });
});

describe("a jobfile that is not UTF-8", () => {
  test("names the line and column of the first bad byte", () => {
    expect(placeOf(joined("command: echo ", [0xff], "\n"))).toEqual([1, 15, "is not UTF-8 text"]);
    // Characters before it count once each, however many bytes or UTF-16 units they take.
    expect(placeOf(joined("a: 1\nb: é\ncommand: é😀 ", [0xc3], "\n"))).toEqual([3, 13, "is not UTF-8 text"]);
    // A surrogate written as UTF-8, an overlong form, a sequence cut short at the end.
    expect(placeOf(joined("x: ", [0xed, 0xa0, 0x80]))).toEqual([1, 4, "is not UTF-8 text"]);
    expect(placeOf(joined("x: ", [0xc0, 0xaf]))).toEqual([1, 4, "is not UTF-8 text"]);
    expect(placeOf(joined("x: ab", [0xe2, 0x82]))).toEqual([1, 6, "is not UTF-8 text"]);
    // The very first byte, in a file with a newline after it.
    expect(placeOf(joined([0xff], "a\nb\n"))).toEqual([1, 1, "is not UTF-8 text"]);
  });

  test("agrees with TextDecoder on random bytes", () => {
    const random = seededRandom(testSeed("utf-8 places"));
    const fatal = new TextDecoder("utf-8", { fatal: true });
    const pieces = [
      "a",
      "\n",
      "é",
      "€",
      "😀",
      [0x80],
      [0xff],
      [0xc3],
      [0xe2, 0x82],
      [0xed, 0xa0, 0x80],
      [0xf4, 0x90],
    ];
    for (let round = 0; round < 500; round++) {
      const parts = Array.from({ length: 1 + Math.floor(random() * 12) }, () => {
        const piece = pieces[Math.floor(random() * pieces.length)] ?? "a";
        return typeof piece === "string" ? piece : [...piece];
      });
      const bytes = joined(...parts);
      let valid = true;
      try {
        fatal.decode(bytes);
      } catch {
        valid = false;
      }
      if (valid) continue;
      const [line, column] = placeOf(bytes);
      // What comes before the place: line - 1 lines, then column - 1 characters.
      const text = new TextDecoder("utf-8").decode(bytes);
      const lines = text.split("\n");
      expect(line).toBeLessThanOrEqual(lines.length);
      const before = [
        ...lines.slice(0, line - 1).map((l) => `${l}\n`),
        [...(lines[line - 1] ?? "")].slice(0, column - 1).join(""),
      ].join("");
      // Before the first bad byte, the lossy decoding is the text itself; the bad byte is its
      // first U+FFFD (none is written here), so the place falls exactly there.
      expect(before.length).toBe(text.indexOf("\uFFFD"));
    }
  });
});
