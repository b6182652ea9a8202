import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminQuery, createTestDatabase, dropTenantRolesOf, type TestDatabase } from '../../db/test/helpers/database.js';
import { CLI_BIN, REPO_ROOT, cleanEnv, tempDir } from './helpers/cli.js';

/**
 * docs/setup/DATABASE.md must work as written. Every ```bash block runs, in document order, in one temp
 * working directory (so files a block writes, like .env.local, are there for the next), with bash -euo
 * pipefail, against the local server:
 * - `npx @cgk/cli` is rewritten to `node <repo>/packages/cli/bin/cgk.mjs` (a temp directory has no
 *   node_modules for npx to find the package in; `cli.test.ts` checks separately that npx resolves to
 *   that same bin);
 * - DATABASE_URL is a scratch database from createTestDatabase(), dropped afterwards;
 * - the database the guide calls `cgk_dev` is renamed to a scratch name, dropped afterwards.
 * A `<!-- docs-test: ... -->` comment right before a block changes how it runs:
 * - `skip (needs Neon)`: not run against a server (kept to the few blocks that need a Neon account); checked
 *   for valid shell and real CLI command names instead;
 * - `unset DATABASE_URL`: run without DATABASE_URL (the embedded PostgreSQL, or the URL in .env.local);
 * - `cwd repository`: run in the repository root (npm scripts).
 */

/** Dropping a database waits for a checkpoint, which takes long on a busy server. */
const DROP_TIMEOUT_MS = 300_000;
const GUIDE_PATH = join(REPO_ROOT, 'docs/setup/DATABASE.md');
const guide = readFileSync(GUIDE_PATH, 'utf8');

interface Block {
  line: number;
  code: string;
  directive: string | undefined;
}

function bashBlocks(markdown: string): Block[] {
  const lines = markdown.split('\n');
  const blocks: Block[] = [];
  for (let i = 0; i < lines.length; i++) {
    if (lines[i]!.trim() !== '```bash') continue;
    let previous = i - 1;
    while (previous >= 0 && lines[previous]!.trim() === '') previous--;
    const directive = /^<!--\s*docs-test:\s*(.*?)\s*-->$/.exec(lines[previous]?.trim() ?? '')?.[1];
    const start = i;
    const body: string[] = [];
    for (i++; i < lines.length && lines[i]!.trim() !== '```'; i++) body.push(lines[i]!);
    blocks.push({ line: start + 1, code: body.join('\n'), directive });
  }
  return blocks;
}

const blocks = bashBlocks(guide);

describe('docs/setup/DATABASE.md', () => {
  let scratch: TestDatabase;
  let work: ReturnType<typeof tempDir>;
  const devName = `cgk_docs_${randomBytes(4).toString('hex')}_dev`;

  beforeAll(async () => {
    scratch = await createTestDatabase('cgk_docs');
    work = tempDir('cgk-docs-');
  });

  // DROP DATABASE waits for a checkpoint: on a busy server that takes a while, so both drops run at once.
  afterAll(async () => {
    work?.remove();
    await Promise.all([
      scratch?.drop(),
      adminQuery(`drop database if exists "${devName}" with (force)`).then(() => dropTenantRolesOf(devName)),
    ]);
  }, DROP_TIMEOUT_MS);

  it('has runnable blocks, and only a few skipped, each because it needs Neon', () => {
    expect(blocks.length).toBeGreaterThanOrEqual(10);
    const skipped = blocks.filter((b) => b.directive?.startsWith('skip'));
    expect(skipped.length).toBeLessThanOrEqual(3);
    for (const b of skipped) expect(b.directive, `block at line ${b.line}`).toBe('skip (needs Neon)');
    for (const b of blocks)
      expect([undefined, 'skip (needs Neon)', 'unset DATABASE_URL', 'cwd repository'], `block at line ${b.line}`).toContain(
        b.directive,
      );
  });

  it('documents every error code of CgkErrorCode in the troubleshooting section', () => {
    const source = readFileSync(join(REPO_ROOT, 'packages/db/src/errors.ts'), 'utf8');
    const union = /export type CgkErrorCode =([^;]+);/.exec(source)?.[1] ?? '';
    const codes = [...union.matchAll(/'(CGK_[A-Z_]+)'/g)].map((m) => m[1]!);
    expect(codes.length).toBeGreaterThan(10);
    const troubleshooting = guide.slice(guide.indexOf('## Troubleshooting'));
    for (const code of codes) {
      const section = new RegExp(`### \`${code}\`\\n\\n\\*\\*Cause\\*\\*: [^]*?\\*\\*Fix\\*\\*: `);
      expect(troubleshooting, code).toMatch(section);
    }
  });

  for (const block of blocks) {
    const title = `runs the block at line ${block.line}${block.directive ? ` (${block.directive})` : ''}: ${block.code.split('\n')[0]}`;
    if (block.directive?.startsWith('skip') === true) {
      // A block that needs a Neon account cannot run here; what can be checked is that it is valid shell and
      // names only CLI commands that exist.
      it(`checks the Neon-only block at line ${block.line}: valid shell, real commands`, async () => {
        const syntax = await new Promise<number>((resolve) => {
          execFile('bash', ['-n', '-c', block.code], (error) => resolve(error ? 1 : 0));
        });
        expect(syntax, block.code).toBe(0);
        const help = await new Promise<string>((resolve) => {
          execFile(process.execPath, [CLI_BIN, '--help'], { env: cleanEnv({ PATH: process.env.PATH }) }, (_e, stdout) =>
            resolve(String(stdout)),
          );
        });
        for (const [, command] of block.code.matchAll(/npx @cgk\/cli ([a-z:]+)/g))
          expect(help, `${command} in block at line ${block.line}`).toContain(`${command} `);
        expect(block.code).toMatch(/neon\.tech/);
      });
      continue;
    }
    it(title, { timeout: 180_000 }, async () => {
      const script = block.code.replaceAll('npx @cgk/cli', `node ${JSON.stringify(CLI_BIN)}`).replaceAll('cgk_dev', devName);
      const env = cleanEnv({
        PATH: `${dirname(process.execPath)}:${process.env.PATH ?? '/usr/bin:/bin'}`,
        DATABASE_URL: block.directive === 'unset DATABASE_URL' ? undefined : scratch.url,
      });
      const cwd = block.directive === 'cwd repository' ? REPO_ROOT : work.path;
      const result = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
        execFile(
          'bash',
          ['-euo', 'pipefail', '-c', script],
          { cwd, env, timeout: 150_000, maxBuffer: 16 * 1024 * 1024 },
          (error, stdout, stderr) => {
            resolve({
              code: error ? (typeof error.code === 'number' ? error.code : -1) : 0,
              stdout: String(stdout),
              stderr: String(stderr),
            });
          },
        );
      });
      expect(
        result.code,
        `block at line ${block.line} failed:\n${script}\n--- stdout\n${result.stdout}\n--- stderr\n${result.stderr}`,
      ).toBe(0);
      expect(result.stdout + result.stderr).not.toMatch(/^\s+at /m);
    });
  }
});
