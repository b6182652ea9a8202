import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { extname, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { TenantModuleError } from './errors.js';
import type { TenantTask } from './types.js';

/** Loading a user's module as a fleet task: `cgk tenant:exec --module`. */

const TYPESCRIPT = new Set(['.ts', '.mts', '.cts', '.tsx']);

/**
 * Imports `file` (relative to the working directory) and returns its default export, which must be a function
 * `async (sql, tenant) => result`, and the SHA-256 of the file (what identifies the work for `resume`).
 * JavaScript (`.mjs`, `.js`, `.cjs`) always loads; TypeScript (`.ts`, `.mts`) only where Node has a loader
 * for it (`NODE_OPTIONS="--import tsx"` with tsx installed, or a Node version that strips types itself).
 * Throws `TenantModuleError` (`CGK_EXEC_MODULE`) for a missing file, a module that fails to load, TypeScript
 * without a loader, or no default function.
 */
export async function loadTenantModule(file: string): Promise<{ task: TenantTask<unknown>; digest: string }> {
  const path = resolve(file);
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (error) {
    throw new TenantModuleError(file, `Cannot read the module ${file}: ${(error as Error).message}`, {
      hint: 'Give the path of a JavaScript module (.mjs, .js) exporting a default function.',
      cause: error,
    });
  }
  let loaded: Record<string, unknown>;
  try {
    loaded = (await import(pathToFileURL(path).href)) as Record<string, unknown>;
  } catch (error) {
    throw loadError(file, error);
  }
  const task = loaded.default;
  if (typeof task !== 'function') {
    throw new TenantModuleError(file, `The module ${file} has no default export function`, {
      hint: 'Export the work as the default: export default async (sql, tenant) => { ... }',
    });
  }
  return { task: task as TenantTask<unknown>, digest: createHash('sha256').update(bytes).digest('hex') };
}

function loadError(file: string, error: unknown): TenantModuleError {
  const code = (error as { code?: unknown }).code;
  if (TYPESCRIPT.has(extname(file).toLowerCase()) && code === 'ERR_UNKNOWN_FILE_EXTENSION') {
    return new TenantModuleError(file, `Node cannot load the TypeScript module ${file} without a loader`, {
      hint:
        'Compile it to .mjs, or run with a TypeScript loader: NODE_OPTIONS="--import tsx" npx @cgk/cli tenant:exec ... ' +
        '(tsx installed in the project).',
      cause: error,
    });
  }
  return new TenantModuleError(file, `The module ${file} failed to load: ${(error as Error).message ?? String(error)}`, {
    hint: 'Run it with node to see the error: node --input-type=module -e "import(\'./path\')".',
    cause: error,
  });
}
