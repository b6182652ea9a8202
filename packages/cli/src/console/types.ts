import type { Database } from '@cgk/db';
import type { Lib } from '../lib.js';

/** How the console is started (see `cgk console`). */
export interface ConsoleOptions {
  db: Database;
  lib: Lib;
  /** The one-time access token every request must present. */
  token: string;
  allowWrites: boolean;
  host: string;
  /** 0 picks a free port. */
  port: number;
  /** What the header shows of the database (never a password). */
  target: string;
  /** Who actions are recorded as. */
  actor: string;
  /** How often the fleet's activity is sampled for the last-hour chart; default one minute. */
  sampleIntervalMs?: number;
}
