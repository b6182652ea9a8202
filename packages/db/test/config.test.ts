import { describe, expect, it } from 'vitest';
import { ConfigError } from '../src/index.js';
import { parsePoolSettings } from '../src/drivers/pool-settings.js';

describe('connection settings from DATABASE_URL', () => {
  it("reads pool size and timeouts, and leaves the driver's own parameters (sslmode, ...) in place", () => {
    const s = parsePoolSettings(
      'postgres://app:pw@db.example.com:5432/shop?sslmode=require&pool_max=3&connect_timeout=4&idle_timeout=20&statement_timeout=1500&application_name=api',
    );
    expect(s).toMatchObject({ max: 3, connectTimeoutMs: 4000, idleTimeoutMs: 20000, statementTimeoutMs: 1500 });
    const passed = new URL(s.connectionString);
    expect(passed.searchParams.get('sslmode')).toBe('require');
    expect(passed.searchParams.get('application_name')).toBe('api');
    expect(passed.searchParams.has('pool_max')).toBe(false);
    expect(s.redacted).not.toContain(':pw@');
  });

  it('has defaults, and accepts connection_limit as Prisma spells it', () => {
    expect(parsePoolSettings('postgres://h/db')).toMatchObject({
      max: 10,
      connectTimeoutMs: 10000,
      idleTimeoutMs: 30000,
      statementTimeoutMs: undefined,
    });
    expect(parsePoolSettings('postgresql://h/db?connection_limit=5').max).toBe(5);
  });

  it('refuses malformed values with a ConfigError', () => {
    expect(() => parsePoolSettings('postgres://h/db?connect_timeout=soon')).toThrow(ConfigError);
    expect(() => parsePoolSettings('not a url')).toThrow(/not a valid URL/);
    expect(() => parsePoolSettings('http://h/db')).toThrow(/postgres:\/\//);
  });
});
