import { createHash, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  EncryptionError,
  checkEncryptionKeys,
  isEncryptedSecret,
  needsReencryption as needsReencryptionOf,
  encryptSecret as encryptBound,
  decryptSecret as decryptBound,
  shopifyTokenBinding,
} from '../src/index.js';

const keyA = randomBytes(32);
const keyB = randomBytes(32);
const idOf = (key: Buffer) => createHash('sha256').update(key).digest('hex').slice(0, 8);
const envA = { CGK_ENCRYPTION_KEY: keyA.toString('base64') };
const envB = { CGK_ENCRYPTION_KEY: keyB.toString('base64') };
const TOKEN = 'shpat_0123456789abcdef0123456789abcdef';
/** The tests below exercise keys and formats; they all use one row's binding (bindings: secrets-binding.test.ts). */
const BINDING = shopifyTokenBinding('00000000-0000-4000-8000-000000000001');
const encryptSecret = (plaintext: string, env?: NodeJS.ProcessEnv) => encryptBound(plaintext, BINDING, env);
const decryptSecret = (ciphertext: string, env?: NodeJS.ProcessEnv) => decryptBound(ciphertext, BINDING, env);
const needsReencryption = needsReencryptionOf;

function caught(fn: () => unknown): EncryptionError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(EncryptionError);
    expect(error).toMatchObject({ code: 'CGK_ENCRYPTION' });
    expect((error as EncryptionError).hint).toBeTruthy();
    return error as EncryptionError;
  }
  throw new Error('did not throw');
}

describe('encryptSecret / decryptSecret', () => {
  it('round-trips, with a fresh IV each time and the key id in the clear', () => {
    const one = encryptSecret(TOKEN, envA);
    const two = encryptSecret(TOKEN, envA);
    expect(one).not.toBe(two);
    expect(one).toMatch(new RegExp(`^v2\\.${idOf(keyA)}\\.[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]+$`));
    expect(one).not.toContain('shpat');
    // The organizations CHECK refuses values starting shp??_; ciphertext never does.
    expect(one).not.toMatch(/^shp[a-z]{2}_/);
    expect(decryptSecret(one, envA)).toBe(TOKEN);
    expect(decryptSecret(two, envA)).toBe(TOKEN);
    expect(isEncryptedSecret(one)).toBe(true);
    expect(isEncryptedSecret(TOKEN)).toBe(false);
  });

  it('round-trips empty and non-ASCII plaintext', () => {
    for (const text of ['', 'päßwörd 🔑', 'x'.repeat(10_000)]) expect(decryptSecret(encryptSecret(text, envA), envA)).toBe(text);
  });

  it('accepts the key as base64, base64url, unpadded base64 or 64 hex digits, all with the same id', () => {
    const forms = [
      keyA.toString('base64'),
      keyA.toString('base64url'),
      keyA.toString('base64').replace(/=+$/, ''),
      keyA.toString('hex'),
      keyA.toString('hex').toUpperCase(),
      ` ${keyA.toString('base64')}\n`,
    ];
    const stored = encryptSecret(TOKEN, envA);
    for (const form of forms) {
      const env = { CGK_ENCRYPTION_KEY: form };
      expect(decryptSecret(stored, env)).toBe(TOKEN);
      expect(checkEncryptionKeys(env)).toMatchObject({ status: 'ok', keyId: idOf(keyA) });
    }
  });

  it('rotates: old keys decrypt, only the current key encrypts, needsReencryption says which to redo', () => {
    const old = encryptSecret(TOKEN, envA);
    const rotated = {
      CGK_ENCRYPTION_KEY: keyB.toString('base64'),
      CGK_ENCRYPTION_KEYS_OLD: `${randomBytes(32).toString('hex')}, ${keyA.toString('base64')}`,
    };
    expect(decryptSecret(old, rotated)).toBe(TOKEN);
    expect(needsReencryption(old, rotated)).toBe(true);
    const fresh = encryptSecret(decryptSecret(old, rotated), rotated);
    expect(fresh.split('.')[1]).toBe(idOf(keyB));
    expect(needsReencryption(fresh, rotated)).toBe(false);
    expect(decryptSecret(fresh, envB)).toBe(TOKEN);
    expect(checkEncryptionKeys(rotated)).toMatchObject({
      status: 'ok',
      keyId: idOf(keyB),
      oldKeyIds: [expect.any(String), idOf(keyA)],
    });
  });

  it('refuses a value written with a key it does not have, naming the key ids only', () => {
    const stored = encryptSecret(TOKEN, envA);
    const error = caught(() => decryptSecret(stored, envB));
    expect(error.message).toContain(idOf(keyA));
    expect(error.message).toContain(idOf(keyB));
    expect(error.hint).toMatch(/CGK_ENCRYPTION_KEYS_OLD/);
    for (const text of [error.message, error.hint ?? '']) {
      expect(text).not.toContain(keyA.toString('base64'));
      expect(text).not.toContain(keyB.toString('base64'));
      expect(text).not.toContain(TOKEN);
    }
  });

  it('detects tampering with any part of the value', () => {
    const stored = encryptSecret(TOKEN, envA);
    const parts = stored.split('.');
    const flip = (s: string) => (s[0] === 'A' ? 'B' : 'A') + s.slice(1);
    const variants = [
      [parts[0], parts[1], flip(parts[2]!), parts[3], parts[4]], // iv
      [parts[0], parts[1], parts[2], flip(parts[3]!), parts[4]], // tag
      [parts[0], parts[1], parts[2], parts[3], flip(parts[4]!)], // body
      [parts[0], parts[1], parts[2], parts[3], parts[4]!.slice(0, -2)], // truncated body
    ].map((p) => p.join('.'));
    for (const bad of variants) {
      const error = caught(() => decryptSecret(bad, envA));
      expect(error.message).toMatch(/failed authentication/);
      expect(error.message).not.toContain(TOKEN);
    }
    // A value re-labelled with another key id is refused too (the id is authenticated, and unknown here).
    const relabelled = [parts[0], idOf(keyB), ...parts.slice(2)].join('.');
    expect(() => decryptSecret(relabelled, { ...envA, CGK_ENCRYPTION_KEYS_OLD: keyB.toString('base64') })).toThrow(
      /failed authentication/,
    );
    for (const junk of ['', TOKEN, 'v3.abcdef01.a.b.c', 'v1.xyz.a.b.c', `${stored}.extra`]) {
      expect(caught(() => decryptSecret(junk, envA)).message).toMatch(/not an encrypted secret/);
    }
  });

  it('refuses a missing key when writing or reading, with a hint to generate one', () => {
    const stored = encryptSecret(TOKEN, envA);
    for (const env of [{}, { CGK_ENCRYPTION_KEY: '' }, { CGK_ENCRYPTION_KEY: '   ' }]) {
      expect(caught(() => encryptSecret(TOKEN, env)).message).toMatch(/CGK_ENCRYPTION_KEY is not set/);
      const error = caught(() => decryptSecret(stored, env));
      expect(error.hint).toMatch(/openssl rand -base64 32/);
      expect(checkEncryptionKeys(env)).toMatchObject({ status: 'missing' });
    }
  });

  it('refuses a malformed key without echoing it', () => {
    const bad = [
      'not a key!',
      'c2hvcnQ=',
      randomBytes(16).toString('base64'),
      randomBytes(31).toString('hex'),
      randomBytes(48).toString('base64'),
      'g'.repeat(64),
    ];
    for (const value of bad) {
      const env = { CGK_ENCRYPTION_KEY: value };
      const error = caught(() => encryptSecret(TOKEN, env));
      expect(error.message).toMatch(/CGK_ENCRYPTION_KEY is malformed/);
      expect(error.message).not.toContain(value);
      expect(checkEncryptionKeys(env)).toMatchObject({ status: 'malformed' });
    }
    const error = caught(() => decryptSecret(encryptSecret(TOKEN, envB), { ...envA, CGK_ENCRYPTION_KEYS_OLD: 'nope' }));
    expect(error.message).toMatch(/CGK_ENCRYPTION_KEYS_OLD entry 1 is malformed/);
  });

  it('reads process.env by default', () => {
    const saved = process.env.CGK_ENCRYPTION_KEY;
    process.env.CGK_ENCRYPTION_KEY = keyA.toString('hex');
    try {
      expect(decryptSecret(encryptSecret(TOKEN))).toBe(TOKEN);
    } finally {
      if (saved === undefined) delete process.env.CGK_ENCRYPTION_KEY;
      else process.env.CGK_ENCRYPTION_KEY = saved;
    }
  });

  it('refuses a plaintext that is not a string, and a ciphertext that only turns into one', () => {
    expect(caught(() => encryptSecret(42 as unknown as string, envA)).message).toMatch(/Only strings can be encrypted/);
    const stored = encryptSecret(TOKEN, envA);
    const lookAlike = { toString: () => stored };
    expect(caught(() => decryptSecret(lookAlike as unknown as string, envA)).message).toMatch(/not an encrypted secret/);
    expect(isEncryptedSecret(lookAlike)).toBe(false);
    expect(isEncryptedSecret([stored])).toBe(false);
    expect(isEncryptedSecret(null)).toBe(false);
  });

  it('asks to re-encrypt a value that is not a ciphertext at all', () => {
    expect(needsReencryption(TOKEN, envA)).toBe(true);
    expect(needsReencryption(encryptSecret(TOKEN, envA), envA)).toBe(false);
  });

  it('takes base64url keys with "-" and "_", and ignores blank entries in the old-key list', () => {
    const key = Buffer.alloc(32, 0xfb); // base64 "+/v7...", base64url "-_v7..."
    expect(key.toString('base64url')).toMatch(/-/);
    expect(key.toString('base64url')).toMatch(/_/);
    const stored = encryptSecret(TOKEN, { CGK_ENCRYPTION_KEY: key.toString('base64') });
    expect(decryptSecret(stored, { CGK_ENCRYPTION_KEY: key.toString('base64url') })).toBe(TOKEN);
    const env = { ...envB, CGK_ENCRYPTION_KEYS_OLD: ` , ${key.toString('base64url')},, ${keyA.toString('hex')} ,` };
    expect(decryptSecret(stored, env)).toBe(TOKEN);
    expect(checkEncryptionKeys(env).oldKeyIds).toEqual([idOf(key), idOf(keyA)]);
    expect(checkEncryptionKeys({ ...envB, CGK_ENCRYPTION_KEYS_OLD: '  ' }).oldKeyIds).toEqual([]);
  });

  it('refuses a key with a stray character instead of decoding around it', () => {
    const b64 = keyA.toString('base64');
    const hex = keyA.toString('hex');
    for (const value of [
      `${b64.slice(0, 10)}!${b64.slice(10)}`,
      `!${b64}`,
      `${b64}!`,
      `${b64.slice(0, 20)} ${b64.slice(20)}`,
      `zz${hex}`,
      `${hex}zz`,
    ]) {
      const env = { CGK_ENCRYPTION_KEY: value };
      expect(caught(() => encryptSecret(TOKEN, env)).message, value).toMatch(/CGK_ENCRYPTION_KEY is malformed/);
    }
    // A well-formed base64 key of the wrong size says how many bytes it holds.
    expect(caught(() => encryptSecret(TOKEN, { CGK_ENCRYPTION_KEY: randomBytes(16).toString('base64') })).message).toMatch(
      /decodes to 16 bytes; AES-256 needs exactly 32/,
    );
    expect(caught(() => encryptSecret(TOKEN, { CGK_ENCRYPTION_KEY: 'not a key!' })).message).toMatch(/\(10 characters given\)/);
  });

  it('describes the keys for doctor in one sentence, never with key material', () => {
    const keyC = randomBytes(32);
    expect(checkEncryptionKeys(envA)).toEqual({
      status: 'ok',
      keyId: idOf(keyA),
      oldKeyIds: [],
      detail: `set (key ${idOf(keyA)})`,
    });
    expect(checkEncryptionKeys({ ...envA, CGK_ENCRYPTION_KEYS_OLD: keyB.toString('hex') }).detail).toBe(
      `set (key ${idOf(keyA)}), 1 old key for decryption (${idOf(keyB)})`,
    );
    expect(
      checkEncryptionKeys({ ...envA, CGK_ENCRYPTION_KEYS_OLD: `${keyB.toString('hex')},${keyC.toString('base64')}` }).detail,
    ).toBe(`set (key ${idOf(keyA)}), 2 old keys for decryption (${idOf(keyB)}, ${idOf(keyC)})`);
    const missing = checkEncryptionKeys({});
    expect(missing).toMatchObject({ status: 'missing', oldKeyIds: [] });
    expect(missing.hint).toMatch(/openssl rand -base64 32/);
    expect(checkEncryptionKeys({ CGK_ENCRYPTION_KEY: 'short' })).toMatchObject({ status: 'malformed', oldKeyIds: [] });
  });
});
