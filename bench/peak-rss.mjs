// Loaded with `node --import` by the benchmarks: writes this process's peak RSS (kB) to $CGK_BENCH_RSS_FILE at exit.
import { writeFileSync } from 'node:fs';

process.on('exit', () => {
  if (process.env.CGK_BENCH_RSS_FILE) writeFileSync(process.env.CGK_BENCH_RSS_FILE, String(process.resourceUsage().maxRSS));
});
