import type { CgkErrorCode } from './codes.js';

/** The base of every typed error, and the redaction every message goes through. Public through errors/index.ts. */

export interface CgkErrorOptions {
  hint?: string;
  cause?: unknown;
}

/**
 * The static property holding each error class's name, written out: a minifier renames classes (Next.js logged
 * `h: Tenant "nosuch" does not exist`), so `name` comes from here, not from the class's own (mangled) name.
 * A `Symbol.for` key, the same in every bundled copy of the library: `instanceof` compares it (see below).
 */
export const ERROR_CLASS: unique symbol = Symbol.for('@cgk/db/error-class') as never;

type ErrorClass = { readonly [ERROR_CLASS]?: string; readonly name: string };

/** The written-out name of `type`: its own ERROR_CLASS, or (a class declared without one) its JavaScript name. */
function classNameOf(type: ErrorClass): string {
  return Object.hasOwn(type, ERROR_CLASS) ? (type[ERROR_CLASS] as string) : type.name;
}

/** `value instanceof type`, or made by another bundled copy's class of the same written-out name. */
function isInstance(type: ErrorClass, value: unknown): boolean {
  if (Function.prototype[Symbol.hasInstance].call(type, value)) return true;
  if (typeof value !== 'object' || value === null || !Object.hasOwn(type, ERROR_CLASS)) return false;
  const wanted = classNameOf(type);
  for (let proto = Object.getPrototypeOf(value); proto !== null; proto = Object.getPrototypeOf(proto)) {
    const maker = (proto as { constructor?: ErrorClass }).constructor;
    if (maker && Object.hasOwn(maker, ERROR_CLASS) && maker[ERROR_CLASS] === wanted) return true;
  }
  return false;
}

/** Base class of every typed error; `code` is stable across versions, `hint` is for humans. */
export class CgkError extends Error {
  static readonly [ERROR_CLASS]: string = 'CgkError';
  readonly code: CgkErrorCode;
  readonly hint: string | undefined;

  /**
   * `instanceof` also recognises an error made by another bundled copy of this library (Next.js may load two
   * copies in one server, and the default database of one runs the scopes of both): the same class, by its
   * written-out name, anywhere in the error's prototype chain.
   */
  static override [Symbol.hasInstance](value: unknown): boolean {
    // biome-ignore lint/complexity/noThisInStatic: `this` is the class on the right of instanceof (a subclass too)
    return isInstance(this, value);
  }

  constructor(code: CgkErrorCode, message: string, options: CgkErrorOptions = {}) {
    super(redactSecrets(message), options.cause === undefined ? undefined : { cause: options.cause });
    this.name = classNameOf(new.target);
    this.code = code;
    this.hint = options.hint === undefined ? undefined : redactSecrets(options.hint);
  }

  /** One line for a terminal: message, then the hint. */
  toLine(): string {
    return this.hint ? `${this.message} (hint: ${this.hint})` : this.message;
  }
}

/** Removes passwords from connection strings and `password=` pairs, wherever they appear in a text. */
export function redactSecrets(text: string): string {
  return (
    text
      // Greedy up to the last "@" of the token: an unencoded "@" inside a password must not leak its tail.
      .replace(/([a-z][a-z0-9+.-]*:\/\/[^:/?#\s@]*:)(\S*)@/gi, '$1***@')
      .replace(/(password\s*=\s*)('[^']*'|"[^"]*"|[^\s&;]+)/gi, '$1***')
  );
}

/** A value quoted for an error message: strings shown (cut at 80 characters), anything else by its type. */
export function describeValue(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 80 ? `${value.slice(0, 80)}…` : value);
  return `(${value === null ? 'null' : typeof value})`;
}
