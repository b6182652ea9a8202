import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseEnv } from 'node:util';

/** The files read, in order; a later file overrides an earlier one, the real environment overrides both. */
const ENV_FILES = ['.env', '.env.local'] as const;

/**
 * Loads `.env` then `.env.local` from `cwd` into `env`: `.env.local` overrides `.env`, and a variable already
 * set in the real environment (even to an empty string) wins over both. Returns the files that were read.
 * A missing file is skipped; an unreadable one is an error (it exists, so the user meant it). Parsed by Node's own
 * `util.parseEnv` (the dotenv format): no package to load, and `dotenv` would load `node:crypto` with it.
 */
export function loadEnvFiles(cwd: string = process.cwd(), env: NodeJS.ProcessEnv = process.env): string[] {
  const merged: Record<string, string> = {};
  const loaded: string[] = [];
  for (const name of ENV_FILES) {
    let text: string;
    try {
      text = readFileSync(join(cwd, name), 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw error;
    }
    Object.assign(merged, parseEnv(text));
    loaded.push(name);
  }
  for (const [key, value] of Object.entries(merged)) {
    if (env[key] === undefined) env[key] = value;
  }
  return loaded;
}
