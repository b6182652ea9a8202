// PGlite's own open, as a process: the embedded benchmark's baseline. `node bench/pglite-open.mjs <dir>` opens
// (creating it if it is new: initdb) the data directory, runs `select 1`, closes.
import { PGlite } from '@electric-sql/pglite';

const db = await PGlite.create(process.argv[2]);
await db.query('select 1');
await db.close();
