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
 * The output the guide shows for a block (a ```text block right after it, or one marked `<!-- docs-test: output
 * of the block above -->`) must be in what the block printed (stdout and stderr together), line by line and in
 * order, once durations, timestamps, the server version, key ids and this run's names are normalised.
 */

/** Dropping a database waits for a checkpoint, which takes long on a busy server. */
const DROP_TIMEOUT_MS = 300_000;
const GUIDE_PATH = join(REPO_ROOT, 'docs/setup/DATABASE.md');
const guide = readFileSync(GUIDE_PATH, 'utf8');

interface Block {
  line: number;
  code: string;
  directive: string | undefined;
  /** The output the guide shows for this block (see `bashBlocks`), if any. */
  shown?: { line: number; text: string };
}

/** Every fenced block of the guide, in order: its language, first line (1-based), text and directive comment. */
function fencedBlocks(markdown: string) {
  const lines = markdown.split('\n');
  const fenced: Array<{ lang: string; line: number; code: string; directive: string | undefined; afterBlock: boolean }> = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^```(\w+)$/.exec(lines[i]!.trim());
    if (!open) continue;
    let previous = i - 1;
    while (previous >= 0 && lines[previous]!.trim() === '') previous--;
    const directive = /^<!--\s*docs-test:\s*(.*?)\s*-->$/.exec(lines[previous]?.trim() ?? '')?.[1];
    const start = i;
    const body: string[] = [];
    for (i++; i < lines.length && lines[i]!.trim() !== '```'; i++) body.push(lines[i]!);
    fenced.push({
      lang: open[1]!,
      line: start + 1,
      code: body.join('\n'),
      directive,
      afterBlock: lines[previous]?.trim() === '```',
    });
  }
  return fenced;
}

/**
 * The ```bash blocks, each with the output the guide shows for it: a ```text block right after it (nothing but
 * blank lines between), or one marked `<!-- docs-test: output of the block above -->` (when a sentence comes
 * between). Other ```text blocks are illustrations (e.g. what `migrate` prints after a hypothetical upgrade).
 */
function bashBlocks(markdown: string): Block[] {
  const fenced = fencedBlocks(markdown);
  const blocks: Block[] = [];
  for (const [index, block] of fenced.entries()) {
    if (block.lang === 'bash') {
      blocks.push({ line: block.line, code: block.code, directive: block.directive });
      continue;
    }
    const previous = fenced[index - 1];
    const output = block.lang === 'text' && (block.afterBlock || block.directive === 'output of the block above');
    if (output && previous?.lang === 'bash') blocks.at(-1)!.shown = { line: block.line, text: block.code };
  }
  return blocks;
}

const blocks = bashBlocks(guide);

/**
 * Output lines with what differs from run to run replaced by a placeholder: durations, timestamps, the server's
 * version, key ids, and the names of this run's directory and databases (`names`: [actual, as in the guide]).
 * Blank lines are dropped and trailing blanks trimmed.
 */
function normalise(text: string, names: Array<[string, string]>): string[] {
  let out = text;
  for (const [actual, shown] of names) out = out.replaceAll(actual, shown);
  out = out
    .replace(/\b\d+(?:\.\d+)? (?:ms|s)\b/g, '<duration>')
    .replace(/\b\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\b/g, '<timestamp>')
    .replace(/PostgreSQL \d+(?:\.\d+)*(?: \([^)]*\))?(?: on [\w.-]+)?/g, 'PostgreSQL <version>')
    .replace(/\(key [0-9a-f]{8}\)/g, '(key <id>)');
  return out
    .split('\n')
    .map((line) => line.trimEnd())
    .filter((line) => line !== '');
}

/** The shown lines that are not in the actual output in the same order (each one a whole line). */
function missingLines(shown: string[], actual: string[]): string[] {
  const missing: string[] = [];
  let at = 0;
  for (const line of shown) {
    const found = actual.indexOf(line, at);
    if (found === -1) missing.push(line);
    else at = found + 1;
  }
  return missing;
}

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
      // The guide's second database (tenant:move): cgk_dev_eu.
      adminQuery(`drop database if exists "${devName}_eu" with (force)`).then(() => dropTenantRolesOf(`${devName}_eu`)),
    ]);
  }, DROP_TIMEOUT_MS);

  it('has runnable blocks, and only a few skipped, each because it needs Neon', () => {
    expect(blocks.length).toBeGreaterThanOrEqual(10);
    const skipped = blocks.filter((b) => b.directive?.startsWith('skip'));
    expect(skipped.length).toBeLessThanOrEqual(3);
    for (const b of skipped) expect(b.directive, `block at line ${b.line}`).toBe('skip (needs Neon)');
    // The output the guide shows is compared for these blocks (none of them skipped).
    expect(blocks.filter((b) => b.shown).map((b) => b.code.split('\n')[0])).toEqual([
      'npx @cgk/cli setup:database',
      'npx @cgk/cli setup:database',
      'npx @cgk/cli tenant:create acme --name "Acme Inc."',
      'npx @cgk/cli tenant:limits acme --statement-timeout 5s --work-mem 16MB --max-scopes 3',
      "cat > backfill.sql <<'SQL'",
      'id=$(npx @cgk/cli tenant:exec --all --file backfill.sql --json | sed -n \'s/^"run": {"id":"\\([0-9a-f-]*\\)".*/\\1/p\')',
      'npx @cgk/cli doctor',
      'npx @cgk/cli console --port 0 --json > console.json &',
    ]);
    for (const b of blocks)
      expect([undefined, 'skip (needs Neon)', 'unset DATABASE_URL', 'cwd repository'], `block at line ${b.line}`).toContain(
        b.directive,
      );
  });

  it('documents every error code of CgkErrorCode in the troubleshooting section', () => {
    const source = readFileSync(join(REPO_ROOT, 'packages/db/src/errors/codes.ts'), 'utf8');
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
      // stderr goes into stdout, so notes and results keep the order the guide shows them in.
      const result = await new Promise<{ code: number; output: string }>((resolve) => {
        execFile(
          'bash',
          ['-euo', 'pipefail', '-c', `exec 2>&1\n${script}`],
          { cwd, env, timeout: 150_000, maxBuffer: 16 * 1024 * 1024 },
          (error, stdout) => {
            resolve({ code: error ? (typeof error.code === 'number' ? error.code : -1) : 0, output: String(stdout) });
          },
        );
      });
      expect(result.code, `block at line ${block.line} failed:\n${script}\n--- output\n${result.output}`).toBe(0);
      expect(result.output).not.toMatch(/^\s+at /m);
      if (block.shown) {
        const names: Array<[string, string]> = [
          [work.path, '/home/you/shop'],
          [scratch.name, 'cgk_dev'],
          [devName, 'cgk_dev'],
        ];
        const actual = normalise(result.output, names);
        const missing = missingLines(normalise(block.shown.text, []), actual);
        expect(
          missing,
          `the output shown at line ${block.shown.line} differs from what the block at line ${block.line} printed (normalised):\n${actual.join('\n')}`,
        ).toEqual([]);
      }
    });
  }
});
