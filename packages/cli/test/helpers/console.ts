import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { type Browser, chromium, type Page } from 'playwright-core';
import { CLI_BIN, REPO_ROOT, cleanEnv } from './cli.js';

/** Where the console tests keep their screenshots (not committed; kept for a person to look at). */
export const ARTIFACTS = join(REPO_ROOT, 'test-artifacts/console');

/** A `cgk console` subprocess: its address, token and pid; `stop()` ends it by its pid and waits for it. */
export interface ConsoleProcess {
  url: string;
  base: string;
  token: string;
  pid: number;
  stderr(): string;
  stop(): Promise<void>;
}

/**
 * Starts `cgk console --port 0 ...args` in `cwd` with `env` added to a clean environment, and resolves once it
 * printed its address. Fails (and kills it) if it exits or says nothing within 60 s.
 */
export function startConsoleProcess(
  args: string[],
  cwd: string,
  env: Record<string, string | undefined>,
): Promise<ConsoleProcess> {
  const child = spawn(process.execPath, [CLI_BIN, 'console', '--port', '0', ...args], { cwd, env: cleanEnv(env) });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      void stop(child);
      reject(new Error(`cgk console printed no address in 60 s:\n${stdout}\n${stderr}`));
    }, 60_000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`cgk console exited (${code}) before printing its address:\n${stdout}\n${stderr}`));
    });
    child.stdout.on('data', () => {
      const found = /Console: (http:\/\/\S+)/.exec(stdout);
      if (!found) return;
      clearTimeout(timer);
      child.removeAllListeners('exit');
      const url = found[1]!;
      resolve({
        url,
        base: url.slice(0, url.indexOf('/?token=')),
        token: decodeURIComponent(url.slice(url.indexOf('token=') + 'token='.length)),
        pid: child.pid!,
        stderr: () => stderr,
        stop: () => stop(child),
      });
    });
  });
}

/** SIGTERM by pid, then SIGKILL after 10 s; resolves when the process is gone. */
function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const kill = setTimeout(() => child.kill('SIGKILL'), 10_000);
    child.once('exit', () => {
      clearTimeout(kill);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

/** Debian's Chromium, headless, with the flags a closed network needs (no background requests). */
export async function launchChromium(): Promise<Browser> {
  mkdirSync(ARTIFACTS, { recursive: true });
  return chromium.launch({
    executablePath: process.env.CGK_CHROMIUM ?? '/usr/bin/chromium',
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

/** Saves a full-page screenshot as a test artifact. */
export async function screenshot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
}
