/**
 * State that must exist once per process, however many copies of this module a bundler makes. Next.js, for
 * one, bundles a server action's chunk and a page's chunk each with its own copy of `@cgk/db`: module-level
 * variables would then give one process two default databases (two pools, or an embedded database that
 * refuses its own process), two scope contexts (a scope opened by one copy unseen by the other's `sql`) and
 * two sets of validated identifiers. Everything that must be one per process lives on `globalThis` instead,
 * under `Symbol.for` keys, which are the same in every copy.
 *
 * The key carries the package version: copies of the same version share these objects; copies of two
 * different versions keep their own (their shapes may differ) and never hand each other objects they may not
 * understand. What must hold across versions too (one process on an embedded data directory) is keyed by
 * `processWide` under a versionless key, with a shape that never changes.
 */

// Replaced by the package's version when dist/ is built (packages/db/scripts/build.mjs); 'source' when run from src/.
declare const __CGK_DB_VERSION__: string | undefined;

/** The version of this copy of `@cgk/db`, as the state it shares is keyed. */
export const LIBRARY_VERSION: string = typeof __CGK_DB_VERSION__ === 'string' ? __CGK_DB_VERSION__ : 'source';

const STATE_KEY = Symbol.for(`@cgk/db/process-state@${LIBRARY_VERSION}`);

type Slots = Map<string, unknown>;

function slots(key: symbol): Slots {
  const holder = globalThis as unknown as Record<symbol, Slots | undefined>;
  let found = holder[key];
  if (!found) {
    found = new Map();
    // Not enumerable: nothing iterating globalThis (a test runner, a serializer) trips over it.
    Object.defineProperty(globalThis, key, { value: found, enumerable: false, configurable: false, writable: false });
  }
  return found;
}

/**
 * The one `name` object of this process for this library version: made by `create` on first use, then the
 * same object for every copy of the module (same version) that asks.
 */
export function processShared<T>(name: string, create: () => T): T {
  const state = slots(STATE_KEY);
  if (!state.has(name)) state.set(name, create());
  return state.get(name) as T;
}

/**
 * Like `processShared`, but one for every version of the library in the process: only for objects whose shape
 * never changes (plain maps of strings and numbers).
 */
export function processWide<T>(name: string, create: () => T): T {
  const state = slots(Symbol.for('@cgk/db/process-state'));
  if (!state.has(name)) state.set(name, create());
  return state.get(name) as T;
}
