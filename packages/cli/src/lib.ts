import type * as Db from '@cgk/db';

/** The `@cgk/db` module's exports. */
export type Lib = typeof Db;

let loaded: Lib | undefined;

/**
 * Loads `@cgk/db` (once). The CLI imports it only when a command runs or an error is reported, so that
 * `cgk --help` and `--version` load neither it nor `node:crypto` (docs/BENCHMARKS.md, "packaging").
 */
export async function loadLib(): Promise<Lib> {
  loaded ??= await import('@cgk/db');
  return loaded;
}

/** `@cgk/db` once `loadLib()` has run: main runs it before every command's action and before reporting an error. */
export function lib(): Lib {
  if (!loaded) throw new Error('@cgk/db is used before loadLib() (a bug of the CLI)');
  return loaded;
}

/** Whether `loadLib()` has run: if not, no command ran, so no database was opened. */
export function libLoaded(): boolean {
  return loaded !== undefined;
}
