import { ConfigError } from '../errors/index.js';
import { InvalidLimitError } from './errors.js';

/** Durations, sizes and counts of the per-tenant limits, parsed the way PostgreSQL writes them. */

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, min: 60_000, h: 3_600_000 };
const SIZE_UNITS: Record<string, number> = { kb: 1, mb: 1024, gb: 1024 ** 2, tb: 1024 ** 3 };
/** PostgreSQL's largest integer setting: statement_timeout (ms) and work_mem (kB) both stop there. */
const INT_MAX = 2_147_483_647;

/** A limit value as given: text with a unit, a number in the base unit, or null to clear it. */
export type LimitInput = string | number | null;

/**
 * `250ms`, `5s`, `1min`, `2h` (or a number of milliseconds) as whole milliseconds, 1 ms to ~24 days; throws
 * `InvalidLimitError` otherwise.
 */
export function parseDurationMs(limit: string, value: string | number): number {
  return parseWithUnits(limit, value, DURATION_UNITS, 1, 'a duration (250ms, 5s, 1min)');
}

/** `64kB`, `16MB`, `1GB` (or a number of kB) as whole kB, PostgreSQL's 64 kB to 2 TB; throws `InvalidLimitError` otherwise. */
export function parseSizeKb(limit: string, value: string | number): number {
  return parseWithUnits(limit, value, SIZE_UNITS, 64, 'a size of at least 64kB (64kB, 16MB, 1GB)');
}

/** A whole number from 1 to 10,000; throws `InvalidLimitError` otherwise. */
export function parseCount(limit: string, value: string | number): number {
  const n = typeof value === 'number' ? value : /^\s*\d+\s*$/.test(value) ? Number(value) : Number.NaN;
  if (!Number.isInteger(n) || n < 1 || n > 10_000)
    throw new InvalidLimitError(limit, value, 'expected a whole number from 1 to 10000');
  return n;
}

function parseWithUnits(limit: string, value: string | number, units: Record<string, number>, min: number, what: string): number {
  let amount: number;
  if (typeof value === 'number') amount = value;
  else {
    const match = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(value);
    const factor = match ? (match[2] === '' ? 1 : units[match[2]!.toLowerCase()]) : undefined;
    amount = match && factor !== undefined ? Number(match[1]) * factor : Number.NaN;
  }
  const whole = Math.round(amount);
  if (!Number.isFinite(amount) || whole < min || whole > INT_MAX) throw new InvalidLimitError(limit, value, `expected ${what}`);
  return whole;
}

/** The defaults every tenant gets unless its own limits say otherwise (the configuration). */
export interface TenantLimitDefaults {
  /** Milliseconds; undefined = the server's own statement_timeout. */
  statementTimeoutMs?: number;
  /** kB; undefined = the server's own work_mem. */
  workMemKb?: number;
  /** Scopes one tenant holds at once; undefined = `share` x the pool's connections. */
  maxScopes?: number;
  /** The default bound as a fraction of the pool (0 < share ≤ 1); default 0.25, never below 2 connections. */
  share: number;
  /** Whether the library keeps per-tenant statistics in the process (default on). */
  stats: boolean;
  /** How often a process re-reads the registry's limits, in milliseconds (default 10 s). */
  refreshMs: number;
}

/**
 * The defaults from the environment: `CGK_TENANT_STATEMENT_TIMEOUT`, `CGK_TENANT_WORK_MEM`,
 * `CGK_TENANT_MAX_SCOPES`, `CGK_TENANT_SHARE`, `CGK_TENANT_STATS` (on/off) and `CGK_TENANT_LIMITS_REFRESH`
 * (seconds). Throws `ConfigError` naming the variable for a malformed value.
 */
export function limitDefaultsFromEnv(env: NodeJS.ProcessEnv = process.env): TenantLimitDefaults {
  const read = <T>(name: string, parse: (v: string) => T): T | undefined => {
    const raw = env[name]?.trim();
    if (!raw) return undefined;
    try {
      return parse(raw);
    } catch (error) {
      throw new ConfigError(`${name}=${raw} is not valid: ${(error as Error).message}`, (error as InvalidLimitError).hint);
    }
  };
  const share = read('CGK_TENANT_SHARE', (v) => {
    const n = Number(v);
    if (!(n > 0 && n <= 1)) throw new InvalidLimitError('share', v, 'expected a fraction of the pool, above 0 and at most 1');
    return n;
  });
  const stats = read('CGK_TENANT_STATS', (v) => {
    if (/^(on|1|true)$/i.test(v)) return true;
    if (/^(off|0|false)$/i.test(v)) return false;
    throw new InvalidLimitError('statistics switch', v, 'expected on or off');
  });
  const statementTimeoutMs = read('CGK_TENANT_STATEMENT_TIMEOUT', (v) => parseDurationMs('statement timeout', v));
  const workMemKb = read('CGK_TENANT_WORK_MEM', (v) => parseSizeKb('work_mem', v));
  const maxScopes = read('CGK_TENANT_MAX_SCOPES', (v) => parseCount('max scopes', v));
  const refresh = read('CGK_TENANT_LIMITS_REFRESH', (v) => parseCount('refresh interval (seconds)', v));
  return {
    share: share ?? 0.25,
    stats: stats ?? true,
    refreshMs: (refresh ?? 10) * 1000,
    ...(statementTimeoutMs === undefined ? {} : { statementTimeoutMs }),
    ...(workMemKb === undefined ? {} : { workMemKb }),
    ...(maxScopes === undefined ? {} : { maxScopes }),
  };
}
