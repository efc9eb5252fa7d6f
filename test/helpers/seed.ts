/**
 * Seeds for random tests: one per test file, printed so that a failure can be replayed with
 * `QUEUECTL_TEST_SEED=<seed> bun test <file>`. Without the variable each run draws a new
 * seed, so the suite keeps exploring.
 */

export function testSeed(what: string): number {
  const given = process.env.QUEUECTL_TEST_SEED;
  if (given !== undefined && given !== "" && !/^\d{1,10}$/.test(given))
    throw new Error(`QUEUECTL_TEST_SEED=${given} is not a whole number`);
  const seed = given ? Number(given) >>> 0 : Math.floor(Math.random() * 2 ** 31);
  console.log(`${what}: seed ${seed} (replay with QUEUECTL_TEST_SEED=${seed})`);
  return seed;
}

/** mulberry32: small and fast, and the same seed gives the same numbers on every machine. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
