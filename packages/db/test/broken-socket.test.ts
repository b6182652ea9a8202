import { constants } from 'node:os';
import { getSystemErrorName } from 'node:util';
import { describe, expect, it } from 'vitest';
import { ConnectionError } from '../src/index.js';
import { normalizeDriverError } from '../src/drivers/errors.js';

/**
 * Issue #23 item 9: a write to a connection the server (or a proxy) has closed fails with the operating
 * system's EPIPE, which node-postgres passes on as Node's system error (`code: 'EPIPE'`, `syscall: 'write'`).
 * Five capital letters, like a SQLSTATE: it was taken for a statement error (`CGK_QUERY`, `sqlState:
 * 'EPIPE'`), so retry logic that looks for `CGK_CONNECTION` missed it.
 */
function systemError(errno: number, syscall: string): NodeJS.ErrnoException {
  const code = getSystemErrorName(-errno);
  return Object.assign(new Error(`${syscall} ${code}`), { code, errno: -errno, syscall });
}

describe('a broken socket (#23 item 9)', () => {
  it.each([
    ['EPIPE', constants.errno.EPIPE],
    ['ECONNRESET', constants.errno.ECONNRESET],
  ])('%s is a ConnectionError (CGK_CONNECTION), never a query error', (name, errno) => {
    const error = normalizeDriverError(systemError(errno, 'write'), 'postgres://app@127.0.0.1:5432/db');
    expect(getSystemErrorName(-errno)).toBe(name);
    expect(error).toBeInstanceOf(ConnectionError);
    expect(error).toMatchObject({ code: 'CGK_CONNECTION' });
    expect((error as { sqlState?: string }).sqlState).toBeUndefined();
  });
});
