/**
 * A spec's revision is the first 16 hex digits of the SHA-256 of its canonical JSON
 * (core/revision.ts), and stores of every release hold revisions: the text hashed must never
 * change. The fast paths that build it must write what canonicalJson writes, character for
 * character, whatever the strings hold.
 */

import { expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { canonicalJson } from "../../src/core/revision.ts";
import { specRevision } from "../../src/core/spec.ts";

const hashed = (value: unknown) =>
  createHash("sha256").update(canonicalJson(value)).digest("hex").slice(0, 16);

test("revisions written by earlier releases stay what they were", () => {
  expect(specRevision({ id: "nightly/backup", command: "echo backup" })).toBe("87d8ff89eeaf1993");
  const escaped = {
    id: 'q"uote',
    command: "printf 'a\\\\b\\n' \u2028 é 😀",
    env: { B: "x\ty", A: "1" },
    tags: ["z", "a"],
  };
  expect(specRevision(escaped as never)).toBe("64f24ffae3891817");
  expect(specRevision({ id: "lone", command: "x\ud800y" })).toBe("dcf1ca0f8a51b658");
});

test("every character in a string field hashes as canonicalJson writes it", () => {
  const strings: string[] = ['"', "\\", "\ud800", "\udfff", "\ud83d\ude00", "a\ud83dz", "\u2028", "\u007f"];
  for (let code = 0; code < 0x3000; code++) strings.push(`x${String.fromCharCode(code)}y`);
  for (const text of strings) {
    const spec = { id: "job", command: text };
    expect(specRevision(spec)).toBe(hashed(spec));
  }
});
