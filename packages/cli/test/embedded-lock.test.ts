import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI_BIN, cleanEnv, cli, json, tempDir } from './helpers/cli.js';

/**
 * Two CLI processes on one embedded database (./.cgk/pglite) at the same time: the second waits for the
 * first (or, past the wait, fails with a typed error naming it); nothing is lost, the database stays usable.
 */
describe('embedded database used by two processes at once', () => {
  let work: ReturnType<typeof tempDir>;
  const run = (args: string[]) => cli(args, { cwd: work.path, timeoutMs: 180_000 });

  beforeAll(() => {
    work = tempDir('cgk-embedded-lock-');
  });
  afterAll(() => work?.remove());

  it('two concurrent tenant:create both land (or one is refused by name), and the database stays usable', {
    timeout: 400_000,
  }, async () => {
    const setup = await run(['setup:database']);
    expect(setup.code, setup.stderr).toBe(0);
    const [x, y] = await Promise.all([run(['tenant:create', 'first', '--json']), run(['tenant:create', 'second', '--json'])]);
    const created: string[] = [];
    for (const [slug, r] of [
      ['first', x],
      ['second', y],
    ] as const) {
      if (r.code === 0) created.push(slug);
      else
        expect(json(r).error).toMatchObject({
          code: 'CGK_CONNECTION',
          message: expect.stringMatching(/in use by another process \(pid \d+\)/),
        });
    }
    expect(created.length).toBeGreaterThanOrEqual(1);
    const list = await run(['tenant:list', '--json']);
    expect(list.code, list.stderr).toBe(0);
    expect(json(list).tenants.map((t: { slug: string }) => t.slug)).toEqual(created);
  });

  it('a lock left by a process that is gone is taken over', { timeout: 120_000 }, async () => {
    // A pid that cannot be running: above the kernel's pid_max.
    writeFileSync(join(work.path, '.cgk/pglite.lock'), '2147483646');
    const list = await run(['tenant:list', '--json']);
    expect(list.code, list.stderr).toBe(0);
  });

  it('a command that has to wait says so, and goes on once the holder is gone', { timeout: 120_000 }, async () => {
    // The holder: a live process whose pid is in the lock file, as a running cgk command would leave it.
    const holder = spawn('sleep', ['600'], { stdio: 'ignore' });
    try {
      writeFileSync(join(work.path, '.cgk/pglite.lock'), String(holder.pid));
      const waiter = spawn(process.execPath, [CLI_BIN, 'tenant:list', '--json'], { cwd: work.path, env: cleanEnv() });
      let stderr = '';
      let stdout = '';
      waiter.stdout.on('data', (chunk) => (stdout += chunk));
      const waitLine = new Promise<string>((resolve) => {
        waiter.stderr.on('data', (chunk) => {
          stderr += chunk;
          const line = stderr.split('\n').find((l) => l.includes('waiting for another cgk process'));
          if (line) resolve(line);
        });
      });
      const exited = new Promise<number | null>((resolve) => waiter.on('exit', resolve));
      const line = await Promise.race([waitLine, exited.then(() => `exited before waiting:\n${stderr}`)]);
      expect(line).toContain(`(pid ${holder.pid})`);
      holder.kill('SIGKILL');
      expect(await exited, stderr).toBe(0);
      expect(JSON.parse(stdout).tenants.length).toBeGreaterThanOrEqual(1);
    } finally {
      holder.kill('SIGKILL');
    }
  });
});
