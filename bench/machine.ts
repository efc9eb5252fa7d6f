/**
 * What kind of machine a run had, beyond its CPUs and memory: the figures of two runs are
 * comparable only on alike machines, and the one fact that set them apart most here is
 * what the first touch of fresh memory costs. On some VMs the host backs each new page of a
 * process only when it is first written, at 10 to 15 µs a 4 KiB page rather than well
 * under one: a `bun -e 0` then takes 15 ms instead of 4, and `enqueue -f` of 100,000 jobs,
 * which touches about 16,000 new pages over its threads, spends 150 to 200 ms of CPU on them.
 */

import { cpus, totalmem } from "node:os";

const PAGE_BYTES = 4096;
const SAMPLE_BYTES = 64 * 2 ** 20;
const SAMPLES = 5;

/**
 * Median µs to allocate and first write one 4 KiB page of fresh memory, over SAMPLES
 * buffers of 64 MiB each (large enough that the allocator maps new memory for each).
 */
export function firstTouchMicros(): number {
  const samples: number[] = [];
  for (let sample = 0; sample < SAMPLES; sample++) {
    const started = performance.now();
    const view = new Uint8Array(SAMPLE_BYTES);
    for (let at = 0; at < SAMPLE_BYTES; at += PAGE_BYTES) view[at] = 1;
    samples.push(((performance.now() - started) * 1000) / (SAMPLE_BYTES / PAGE_BYTES));
  }
  samples.sort((a, b) => a - b);
  return samples[Math.floor(SAMPLES / 2)] as number;
}

/** One line naming the machine, for the head of bench/RESULTS.md. */
export function describeMachine(): string {
  const cpu = `${cpus().length} × ${cpus()[0]?.model.trim() ?? "cpu"}`;
  const memory = `${Math.round(totalmem() / 2 ** 30)} GiB`;
  const touch = `first touch of fresh memory ${firstTouchMicros().toFixed(2)} µs a 4 KiB page`;
  return `${cpu}, ${memory}, ${touch}, Bun ${Bun.version}, ${process.platform}`;
}
