import { closeSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { ConnectionError } from '../../errors/index.js';

/**
 * One process at a time on an embedded data directory. PGlite has no lock of its own: two processes that
 * open the same directory each run a PostgreSQL over the same files, and lose or corrupt data (seen: two
 * `tenant:create` both reporting success with one tenant left, "could not read blocks", a directory that
 * no longer starts). The lock is a file beside the directory (`<dir>.lock`) created with O_EXCL and holding
 * the owner's pid; a lock whose process is gone (killed, crashed) is stale and taken over.
 */

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
  const path = `${dataDir}.lock`;
  const deadline = Date.now() + waitMs;
  let told = false;
  for (;;) {
    const holder = tryCreate(path);
    if (holder === undefined) return held(path);
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

function isAlive(pid: number): boolean {
  if (pid === 0) return false;
  if (!Number.isInteger(pid) || pid < 0) return true;
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function held(path: string): DataDirLock {
  let released = false;
  const release = () => {
    if (released) return;
    released = true;
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
