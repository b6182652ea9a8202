import { closeSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { resolve } from 'node:path';
import { ConnectionError } from '../../errors/index.js';
import { LIBRARY_VERSION, processWide } from '../../process/shared.js';

/**
 * One process at a time on an embedded data directory. PGlite has no lock of its own: two processes that
 * open the same directory each run a PostgreSQL over the same files, and lose or corrupt data (seen: two
 * `tenant:create` both reporting success with one tenant left, "could not read blocks", a directory that
 * no longer starts). The lock is a file beside the directory (`<dir>.lock`) created with O_EXCL and holding
 * the owner's pid; a lock whose process is gone (killed, crashed) is stale and taken over.
 *
 * A lock file naming this very process is told apart by the in-process table below (one for every copy and
 * version of the library, process/shared.ts): held here, it is never "another process" (one copy of the library
 * shares its handle, drivers/pglite/handles.ts; a copy of another version is refused by name); not held here,
 * it was left by an earlier process that had the same pid (a container's pid 1) and is stale.
 */

/** Data directories (resolved) locked by this process, with the library version that holds each. */
const heldHere = processWide('embedded-data-dir-locks', () => new Map<string, string>());

/** How long a second process waits for the first to finish before giving up. */
export const DATA_DIR_LOCK_WAIT_MS = 30_000;
const POLL_MS = 100;

/** A held lock; `release()` removes the file (also done at process exit). Safe to call twice. */
export interface DataDirLock {
  release(): void;
}

/**
 * Takes the lock of `dataDir`, waiting up to `waitMs` while another live process holds it (`onWait` is
 * called once, with that process's pid, when the wait starts). Rejects with `ConnectionError` naming the
 * holder when it is still held after the wait.
 */
export async function lockDataDir(
  dataDir: string,
  waitMs = DATA_DIR_LOCK_WAIT_MS,
  onWait?: (pid: number) => void,
): Promise<DataDirLock> {
  const key = resolve(dataDir);
  const path = `${dataDir}.lock`;
  const deadline = Date.now() + waitMs;
  let told = false;
  for (;;) {
    refuseHeldHere(key, dataDir);
    const holder = tryCreate(path);
    if (holder === undefined) return held(path, key);
    if (!isAlive(holder)) {
      // Stale: its process is gone. Removing it races only with another taker, and O_EXCL settles that.
      removeQuietly(path);
      continue;
    }
    if (Date.now() >= deadline) {
      throw new ConnectionError(`The embedded database in ${dataDir} is in use by another process (pid ${holder})`, {
        hint:
          `Wait for that command to finish, or stop it (kill ${holder}); one process at a time can use an embedded database. ` +
          'For several processes at once, use a PostgreSQL server (DATABASE_URL).',
      });
    }
    if (!told) {
      told = true;
      onWait?.(holder);
    }
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}

/** Creates the lock file with our pid; the holder's pid when it exists (NaN when unreadable: treated as alive). */
function tryCreate(path: string): number | undefined {
  try {
    const fd = openSync(path, 'wx');
    writeSync(fd, String(process.pid));
    closeSync(fd);
    return undefined;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  }
  try {
    return Number.parseInt(readFileSync(path, 'utf8'), 10);
  } catch {
    // Removed between our open and read: try again at once.
    return 0;
  }
}

/** This process already holds `key`: through another library version (refused by name) or this one (a bug). */
function refuseHeldHere(key: string, dataDir: string): void {
  const version = heldHere.get(key);
  if (version === undefined) return;
  throw new ConnectionError(
    `The embedded database in ${dataDir} is already open in this process, ` +
      `by @cgk/db ${version} (this copy is ${LIBRARY_VERSION})`,
    {
      hint:
        'Two versions of @cgk/db are installed in this application (npm ls @cgk/db): dedupe them, so that every part of ' +
        'the application uses one copy; copies of one version share the embedded database.',
    },
  );
}

function isAlive(pid: number): boolean {
  if (pid === 0) return false;
  if (!Number.isInteger(pid) || pid < 0) return true;
  // Our own pid in a lock we do not hold (refuseHeldHere ran first): left by an earlier process with this pid.
  if (pid === process.pid) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function held(path: string, key: string): DataDirLock {
  heldHere.set(key, LIBRARY_VERSION);
  let released = false;
  const release = () => {
    if (released) return;
    released = true;
    heldHere.delete(key);
    process.removeListener('exit', release);
    removeQuietly(path);
  };
  process.on('exit', release);
  return { release };
}

function removeQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // already gone
  }
}
