import type { CgkErrorCode } from './codes.js';

/** The base of every typed error, and the redaction every message goes through. Public through errors/index.ts. */

export interface CgkErrorOptions {
  hint?: string;
  cause?: unknown;
}

/** Base class of every typed error; `code` is stable across versions, `hint` is for humans. */
export class CgkError extends Error {
  readonly code: CgkErrorCode;
  readonly hint: string | undefined;

  constructor(code: CgkErrorCode, message: string, options: CgkErrorOptions = {}) {
    super(redactSecrets(message), options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
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
