import { resolve } from 'node:path';
import { processShared } from '../../process/shared.js';
import type { Driver } from '../types.js';

/**
 * One embedded database per data directory per process. PGlite is a PostgreSQL inside this process with one
 * connection; two of them on one directory would each write the same files. So every `Database` of the
 * process (and of every bundled copy of this library version: process/shared.ts) that opens a directory gets a
 * view of the one driver already open there; the driver ends when the last view ends.
 */

interface Handle {
  driver: Driver;
  views: number;
}

const handles = processShared('embedded-handles', () => new Map<string, Handle>());

/**
 * A view of the driver open on `dataDir` in this process, opened with `open` when there is none. The view's
 * `end()` ends only the view (the driver when it was the last one); everything else goes to the driver.
 */
export function sharedEmbeddedDriver(dataDir: string, open: () => Driver): Driver {
  const key = resolve(dataDir);
  let handle = handles.get(key);
  if (!handle) {
    handle = { driver: open(), views: 0 };
    handles.set(key, handle);
  }
  handle.views++;
  const shared = handle;
  let ended = false;
  const view: Driver = Object.create(shared.driver, {
    end: {
      value: async () => {
        if (ended) return;
        ended = true;
        shared.views--;
        if (shared.views > 0) return;
        if (handles.get(key) === shared) handles.delete(key);
        await shared.driver.end();
      },
    },
  });
  return view;
}
