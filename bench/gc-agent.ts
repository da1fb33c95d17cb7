/**
 * Preloaded into the CSMS child only by the RSS benchmark (`node --expose-gc --import tsx --import
 * ./bench/gc-agent.ts src/cli.ts serve …`), so nothing in src/ changes. On SIGUSR2 it runs two full
 * garbage collections and writes process.memoryUsage() as JSON to $BENCH_GC_OUT.
 */
import { writeFileSync } from 'node:fs';

const out = process.env.BENCH_GC_OUT;
const gc = (globalThis as { gc?: () => void }).gc;
if (out && gc) {
  let seq = 0;
  process.on('SIGUSR2', () => {
    gc();
    gc();
    const m = process.memoryUsage();
    writeFileSync(out, JSON.stringify({ seq: ++seq, ...m }));
  });
}
