import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadTenantModule, TenantModuleError } from '../src/index.js';

/**
 * loadTenantModule (tenant:exec --module): JavaScript modules, the typed refusals, and TypeScript in a plain
 * Node process (no loader: refused with CGK_EXEC_MODULE; with `--import tsx`: loaded).
 */

const REPO = fileURLToPath(new URL('../../../', import.meta.url));
let dir: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'cgk-fleet-module-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const file = (name: string, text: string) => {
  writeFileSync(join(dir, name), text);
  return join(dir, name);
};

describe('loadTenantModule', () => {
  it("loads a JavaScript module's default function, with the file's SHA-256", async () => {
    const text = 'export default async (sql, tenant) => tenant.slug.toUpperCase();\n';
    const loaded = await loadTenantModule(file('ok.mjs', text));
    expect(await loaded.task((() => {}) as never, { slug: 'acme', schema: 'tenant_acme' })).toBe('ACME');
    expect(loaded.digest).toBe(createHash('sha256').update(text).digest('hex'));
  });

  it.each([
    ['a missing file', () => join(dir, 'missing.mjs'), /Cannot read the module/],
    ['no default export', () => file('none.mjs', 'export const x = 1;\n'), /no default export function/],
    ['a default that is no function', () => file('value.mjs', 'export default 42;\n'), /no default export function/],
    ['a module that throws', () => file('throws.mjs', "throw new Error('boom at load');\n"), /failed to load: boom at load/],
    ['a syntax error', () => file('broken.mjs', 'export default async (sql => ;\n'), /failed to load/],
  ])('refuses %s with CGK_EXEC_MODULE', async (_label, path, message) => {
    const error = await loadTenantModule(path()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TenantModuleError);
    expect((error as TenantModuleError).code).toBe('CGK_EXEC_MODULE');
    expect((error as TenantModuleError).message).toMatch(message);
  });

  it('in plain Node, refuses TypeScript without a loader with a typed error, and loads it with --import tsx', async () => {
    // The loader as a user's Node runs it: compiled JavaScript, in a process of its own with no TypeScript hooks.
    const bundle = join(dir, 'loader.mjs');
    await build({
      entryPoints: [join(REPO, 'packages/db/src/fleet/module.ts')],
      outfile: bundle,
      bundle: true,
      format: 'esm',
      platform: 'node',
      logLevel: 'silent',
    });
    const ts = file(
      'work.ts',
      'export default async (_sql: unknown, tenant: { slug: string }): Promise<string> => tenant.slug;\n',
    );
    const probe = file(
      'probe.mjs',
      `import { loadTenantModule } from ${JSON.stringify(bundle)};
try { const m = await loadTenantModule(${JSON.stringify(ts)}); console.log('loaded', await m.task(null, { slug: 'acme' })); }
catch (e) { console.log(e.code, e.message, '|', e.hint); }\n`,
    );
    const node = (args: string[]) =>
      new Promise<string>((resolve) => {
        execFile(process.execPath, [...args, probe], { cwd: REPO }, (_e, stdout, stderr) => resolve(`${stdout}${stderr}`));
      });
    const plain = await node([]);
    expect(plain).toMatch(
      /^CGK_EXEC_MODULE Node cannot load the TypeScript module .*work\.ts without a loader \| .*--import tsx/,
    );
    expect(await node(['--import', 'tsx'])).toMatch(/^loaded acme/);
  });
});
