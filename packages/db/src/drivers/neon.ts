import { ConfigError } from '../errors.js';
import type { Driver } from './types.js';

/** Options for the @vercel/postgres / @neondatabase/serverless driver. */
export interface NeonDriverOptions {
  connectionString: string;
  flavour: 'vercel' | 'neon';
}

/** Placeholder until the Neon/Vercel driver lands (issue 6): refuses clearly instead of misbehaving. */
export function createNeonDriver(options: NeonDriverOptions): Driver {
  throw new ConfigError(`The ${options.flavour} driver is not available yet`, 'Use CGK_DB_DRIVER=pg with the same connection string.');
}
