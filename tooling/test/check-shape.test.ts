import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { checkShape, sourceFiles } from '../scripts/check-shape.js';

let root: string | undefined;

/** A scratch repository holding `files` (path → text). */
function scratch(files: Record<string, string>): string {
  root = mkdtempSync(join(tmpdir(), 'cgk-shape-'));
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text);
  }
  return root;
}

afterEach(() => {
  if (root) rmSync(root, { recursive: true, force: true });
  root = undefined;
});

describe('check-shape', () => {
  it('finds an import cycle made of type-only imports', () => {
    const dir = scratch({
      'packages/db/src/index.ts': "export { a } from './layer/a.js';\n",
      'packages/db/src/layer/a.ts': "import type { B } from './b.js';\nexport const a = (b: B) => b;\n",
      'packages/db/src/layer/b.ts': "import type { a } from './a.js';\nexport type B = typeof a;\n",
    });
    const cycles = checkShape(sourceFiles(dir), dir).filter((v) => v.kind === 'cycle');
    expect(cycles.map((v) => v.message)).toEqual(['import cycle: packages/db/src/layer/a.ts -> packages/db/src/layer/b.ts']);
  });

  it('finds a cycle closed by a dynamic import()', () => {
    const dir = scratch({
      'packages/db/src/index.ts': "export { a } from './layer/a.js';\n",
      'packages/db/src/layer/a.ts': "import { b } from './b.js';\nexport const a = () => b;\n",
      'packages/db/src/layer/b.ts': "export const b = () => import('./a.js');\n",
    });
    expect(checkShape(sourceFiles(dir), dir).filter((v) => v.kind === 'cycle')).toHaveLength(1);
  });

  it('refuses a file beside a folder of its name and a stray file at the root of packages/db/src', () => {
    const dir = scratch({
      'packages/db/src/index.ts': "export * from './cache/store.js';\n",
      'packages/db/src/optional.ts': 'export const optional = 1;\n',
      'packages/db/src/cache.ts': 'export const cache = 1;\n',
      'packages/db/src/cache/store.ts': 'export const store = 1;\n',
      'packages/cli/src/commands.ts': 'export const commands = 1;\n',
      'packages/cli/src/commands/one.ts': 'export const one = 1;\n',
    });
    const layout = checkShape(sourceFiles(dir), dir).filter((v) => v.kind === 'layout');
    expect(layout.map((v) => `${v.where}: ${v.message.split(':')[0]}`).sort()).toEqual([
      'packages/cli/src/commands.ts: a file beside the folder packages/cli/src/commands/',
      'packages/db/src/cache.ts: a file beside the folder packages/db/src/cache/',
      'packages/db/src/cache.ts: only index.ts, optional.ts belong at packages/db/src/',
    ]);
  });

  it('passes a tree that keeps the rules', () => {
    const dir = scratch({
      'packages/db/src/index.ts': "export { a } from './layer/a.js';\n",
      'packages/db/src/layer/a.ts': "import type { B } from './b.js';\nexport const a = (b: B) => b;\n",
      'packages/db/src/layer/b.ts': 'export type B = number;\n',
    });
    expect(checkShape(sourceFiles(dir), dir)).toEqual([]);
  });
});
