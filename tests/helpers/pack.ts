import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runOk } from './run.js';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** The two tarballs, as a user receives them from the registry. */
export interface Packed {
  dir: string;
  db: string;
  cli: string;
  remove(): void;
}

/** Builds and packs both workspaces (`npm pack --workspaces`, whose prepack builds dist/) into a temp directory. */
export async function packWorkspaces(): Promise<Packed> {
  const dir = mkdtempSync(join(tmpdir(), 'cgk-pack-'));
  await runOk('npm', ['pack', '--workspaces', '--pack-destination', dir], { cwd: REPO_ROOT, timeoutMs: 300_000 });
  const files = readdirSync(dir);
  const find = (prefix: string) => {
    const name = files.find((file) => file.startsWith(prefix) && file.endsWith('.tgz'));
    if (!name) throw new Error(`npm pack made no ${prefix}*.tgz in ${dir}: ${files.join(', ')}`);
    return join(dir, name);
  };
  return { dir, db: find('cgk-db-'), cli: find('cgk-cli-'), remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** A fresh app directory outside the repository (so nothing resolves to the workspace), with a package.json. */
export function scratchApp(name: string, manifest: Record<string, unknown> = {}): { dir: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), `cgk-${name}-`));
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name, private: true, type: 'module', ...manifest }, null, 2));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** `npm install` in `dir`, quietly; packages come from the npm registry (or npm's cache). */
export async function npmInstall(dir: string, specs: string[]): Promise<void> {
  await runOk('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error', ...specs], { cwd: dir, timeoutMs: 600_000 });
}
