/** psql as a baseline: the fastest thing an operator can type. */
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/**
 * psql's connection: the URL without its password (psql echoes the URL in some failures, and an execFile
 * error quotes the command line, which bench/run.ts would write into the results JSON) and the password in
 * PGPASSWORD.
 */
export function psqlTarget(url: string): { url: string; env: NodeJS.ProcessEnv } {
  const parsed = new URL(url);
  const env = { ...process.env };
  if (parsed.password) {
    env.PGPASSWORD = decodeURIComponent(parsed.password);
    parsed.password = '';
  }
  return { url: parsed.toString(), env };
}

/** Runs `script` in ONE psql session (`psql -f`, autocommit, stop at the first error); resolves to its wall time in ms. */
export async function psqlScript(url: string, script: string): Promise<number> {
  const dir = await mkdtemp(join(tmpdir(), 'cgk-bench-psql-'));
  try {
    const file = join(dir, 'script.sql');
    await writeFile(file, script);
    const target = psqlTarget(url);
    const started = performance.now();
    await run('psql', ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', target.url, '-f', file], {
      env: target.env,
      maxBuffer: 16 * 1024 * 1024,
    });
    return performance.now() - started;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
