// Loaded with `node --expose-gc --import` by bench/exec.bench.ts: every 200 ms a full GC, then the heap still in
// use is sampled; at exit the largest sample (kB) goes to $CGK_BENCH_HEAP_FILE. What the process really holds,
// whatever the sizes V8 gives its heap.
import { writeFileSync } from 'node:fs';

let largest = 0;
const sample = () => {
  globalThis.gc();
  largest = Math.max(largest, process.memoryUsage().heapUsed);
};
setInterval(sample, 200).unref();
process.on('exit', () => {
  sample();
  if (process.env.CGK_BENCH_HEAP_FILE) writeFileSync(process.env.CGK_BENCH_HEAP_FILE, String(Math.round(largest / 1024)));
});
