import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root and the CLI's entry point, run as a real subprocess. */
export const REPO_ROOT = fileURLToPath(new URL('../../../../', import.meta.url));
export const CLI_BIN = join(REPO_ROOT, 'packages/cli/bin/cgk.mjs');

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
  ms: number;
}

export interface CliOptions {
  cwd: string;
  /** Added to a clean environment (PATH and HOME only), so the developer's own DATABASE_URL never leaks in. */
  env?: Record<string, string | undefined>;
  timeoutMs?: number;
}

/** A clean environment: PATH, HOME, TMPDIR, plus `extra` (an undefined value leaves the variable out). */
export function cleanEnv(extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/tmp' };
  if (process.env.TMPDIR) env.TMPDIR = process.env.TMPDIR;
  for (const [key, value] of Object.entries(extra)) if (value !== undefined) env[key] = value;
  return env;
}

/** Runs `node packages/cli/bin/cgk.mjs ...args`; never rejects (the exit code is in the result). */
export function cli(args: string[], options: CliOptions): Promise<CliRun> {
  const started = Date.now();
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [CLI_BIN, ...args],
      {
        cwd: options.cwd,
        env: cleanEnv(options.env),
        timeout: options.timeoutMs ?? 30_000,
        maxBuffer: 16 * 1024 * 1024,
      },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : error.killed ? -1 : 1) : 0;
        resolve({ code, stdout: String(stdout), stderr: String(stderr), ms: Date.now() - started });
      },
    );
  });
}

/** Parses the one JSON document a `--json` run prints on stdout. */
export function json<T = Record<string, any>>(run: CliRun): T {
  try {
    return JSON.parse(run.stdout) as T;
  } catch {
    throw new Error(`stdout is not one JSON document (exit ${run.code}):\n${run.stdout}\nstderr:\n${run.stderr}`);
  }
}

/** A fresh empty working directory, removed by the returned function. */
export function tempDir(prefix = 'cgk-cli-'): { path: string; remove(): void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

/** The stderr of a refused command: exactly one line, `error CODE: ...`, no stack trace. */
export function expectOneErrorLine(run: CliRun, code: string): string {
  const lines = run.stderr.split('\n').filter((l) => l.trim() !== '' && !l.startsWith('cgk: '));
  if (lines.length !== 1) throw new Error(`expected one error line, got ${lines.length}:\n${run.stderr}`);
  const line = lines[0]!;
  if (!line.startsWith(`error ${code}: `)) throw new Error(`expected "error ${code}: ...", got: ${line}`);
  if (/^\s+at /m.test(run.stderr)) throw new Error(`stack trace printed:\n${run.stderr}`);
  return line;
}
