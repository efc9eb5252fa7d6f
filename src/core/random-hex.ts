/**
 * Random hex digits for names: a worker's id, a webhook claim, a generated dashboard token,
 * a piped input's private copy. From Web Crypto's generator, the same one node:crypto's
 * randomBytes reads: importing node:crypto loads Node's stream machinery, and the executable
 * `bun install` builds (src/build-binary.ts) is one bundle that loads every module's imports
 * when it starts, so a single import of it cost every command, `--version` too, about 12 ms
 * (test/startup-imports.test.ts keeps it out).
 */
export function randomHex(bytes: number): string {
  return Buffer.from(crypto.getRandomValues(new Uint8Array(bytes))).toString("hex");
}
