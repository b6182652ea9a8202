/**
 * Creating many tenants for a benchmark: bench/scale.ts, bench/load.ts, bench/cli.bench.ts. A module of its own
 * so that a bench module loaded by bench/run.ts does not import scale.ts, which imports run.ts (a cycle
 * through run.ts's top-level await).
 */
/** Set by SIGINT / SIGTERM (bench/scale.ts): provisioning stops taking new tenants. */
let stopped = false;

/** Makes every running provision() stop taking new tenants. */
export function stopProvisioning(): void {
  stopped = true;
}

/** Whether stopProvisioning() was called. */
export function provisioningStopped(): boolean {
  return stopped;
}

const TRANSIENT = /out of shared memory|too many (clients|connections)|deadlock detected|could not serialize/i;

interface Provisioned {
  /** Per-tenant wall time in ms, in the order the tenants were started (slug order). */
  durations: number[];
  /** `doneAt[k]`: ms since the start when the (k+1)-th tenant was done (completion order). */
  doneAt: number[];
  failures: Array<{ slug: string; error: string }>;
  retries: Array<{ slug: string; error: string }>;
}

/** Creates tenants with `concurrency` parallel calls of `create`; a transient server error is retried. */
export async function provision(create: (slug: string) => Promise<unknown>, slugs: string[], concurrency: number, progress?: (done: number, ms: number[]) => void): Promise<Provisioned> {
  const durations: number[] = new Array(slugs.length);
  const doneAt: number[] = [];
  const failures: Array<{ slug: string; error: string }> = [];
  const retries: Array<{ slug: string; error: string }> = [];
  const begun = performance.now();
  let next = 0;
  let done = 0;
  const worker = async () => {
    while (next < slugs.length && failures.length < 100 && !stopped) {
      const i = next++;
      const slug = slugs[i]!;
      for (let attempt = 1; ; attempt++) {
        const started = performance.now();
        try {
          await create(slug);
          durations[i] = performance.now() - started;
          break;
        } catch (error) {
          const message = (error as Error).message;
          // The server is shared: another process can exhaust the lock table or the connections for a
          // moment. createTenant is all-or-nothing, so such a tenant is simply created again.
          if (attempt < 5 && TRANSIENT.test(message)) {
            retries.push({ slug, error: message });
            await new Promise((r) => setTimeout(r, 250 * attempt));
            continue;
          }
          failures.push({ slug, error: message });
          break;
        }
      }
      done++;
      doneAt.push(performance.now() - begun);
      progress?.(done, durations);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return { durations: durations.filter((d) => d !== undefined), doneAt, failures, retries };
}
