/** The issues' goals for `npm run bench` rows (bench/run.ts prints and records whether each is met). */
import type { BenchRow } from './lib.js';

export interface Goal {
  text: string;
  met(r: BenchRow): boolean;
}

/** `ours` in milliseconds, whatever the row's unit. */
function oursMs(r: BenchRow): number {
  const unit = r.unit.toLowerCase();
  if (unit === 'µs' || unit === 'us') return r.ours / 1000;
  if (unit === 's') return r.ours * 1000;
  return r.ours;
}

/** The goals, matched to rows by module and name; other rows keep a plain "≤ Nx" goal they state themselves. */
export function goalFor(module: string, r: BenchRow): Goal | undefined {
  const name = r.name.toLowerCase();
  if (module === 'tenant' && name.startsWith('withtenant(select 1) vs pipelined floor')) {
    return { text: '≤ 1.10x floor', met: (x) => x.ratio <= 1.1 };
  }
  if (module === 'lifecycle' && name.startsWith('createtenant')) {
    return { text: '≤ 1.50x raw DDL, < 100 ms', met: (x) => x.ratio <= 1.5 && oursMs(x) < 100 };
  }
  // migrations.bench.ts rows: "nothing pending, N tenants (ours: fast check)" / "(ours: verify)",
  // "one-line migration, N tenants, concurrency 4" / "concurrency 1" / "concurrency 4, synchronousCommit".
  // The goals are on the fast check and on the runner as it ships (concurrency 4, default commit mode); the
  // other rows are shown for context.
  if (module === 'migrations' && /nothing pending|no-?op/.test(name) && !name.includes('verify')) {
    return { text: '< 1 s (1,000 tenants)', met: (x) => oursMs(x) < 1000 };
  }
  if (module === 'migrations' && /one-line/.test(name) && !/concurrency 1\b|synchronous/.test(name)) {
    return { text: '≤ 1.00x psql', met: (x) => x.ratio <= 1.0 };
  }
  if (module === 'cache' && /^cache (get|set)\b/.test(name) && !name.includes('raw string')) {
    return { text: '≤ 1.20x raw client', met: (x) => x.ratio <= 1.2 };
  }
  if (module === 'embedded' && name.includes('peak rss')) {
    return { text: '≤ 400 MB', met: (x) => x.ours <= 400 };
  }
  const stated = /^≤\s*([\d.]+)x\s*$/.exec(r.goal?.trim() ?? '');
  if (stated) return { text: `≤ ${stated[1]}x`, met: (x) => x.ratio <= Number(stated[1]) };
  return undefined;
}
