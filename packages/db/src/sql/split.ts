/**
 * Statement boundaries of an SQL script, found the way psql finds them when it runs a file (`psql -f`,
 * src/bin/psql/psqlscan.l): a `;` ends a statement unless it is inside a quoted string ('...', E'...',
 * U&'...'), a quoted identifier, a dollar-quoted body, a comment (`--`, nested block comments), parentheses,
 * or the `BEGIN ... END` body of an SQL-standard function (`CREATE [OR REPLACE] FUNCTION|PROCEDURE ...
 * BEGIN ATOMIC ... END`, where `CASE ... END` nests). No database access here.
 */

/** One statement of a script: its text (without the `;`) and the character offset where it starts. */
export interface ScriptStatement {
  text: string;
  /** 0-based character offset (code points) of the statement's first character in the script. */
  offset: number;
}

const IDENT_START = /[A-Za-z_\u0080-\u{10FFFF}]/u;
const IDENT_CONT = /[A-Za-z_0-9$\u0080-\u{10FFFF}]/u;
const DIGIT = /[0-9]/;
/** psql remembers the first letter of these words among a statement's first four identifiers. */
const TRACKED_WORDS = new Set(['create', 'function', 'procedure', 'or', 'replace']);

/**
 * Splits a script into statements exactly where psql would send them one by one (see the module comment).
 * Statements holding only whitespace and comments are dropped; a statement's text starts at its first
 * character that is neither whitespace nor comment. Used for files that run outside a transaction (one
 * statement at a time, as PostgreSQL requires for CREATE INDEX CONCURRENTLY), for servers that need one
 * statement per message (Citus), and to find the failing statement of a file.
 *
 * @example
 * splitStatements('create table t (x int);\ncreate index on t (x);').map((s) => s.text);
 * // ['create table t (x int)', 'create index on t (x)']
 */
export function splitStatements(script: string): ScriptStatement[] {
  return new Splitter(Array.from(script)).run();
}

class Splitter {
  readonly statements: ScriptStatement[] = [];
  /** Index of the current statement's first character that is not whitespace or comment; -1 while none. */
  first = -1;
  i = 0;
  parenDepth = 0;
  beginDepth = 0;
  identifierCount = 0;
  identifiers: string[] = [];

  constructor(readonly chars: readonly string[]) {}

  run(): ScriptStatement[] {
    const { chars } = this;
    while (this.i < chars.length) {
      const c = chars[this.i]!;
      const next = chars[this.i + 1];
      if (c === '-' && next === '-') this.lineComment();
      else if (c === '/' && next === '*') this.blockComment();
      else if (c === ';') this.semicolon();
      else if (/\s/u.test(c)) this.i++;
      else {
        if (this.first === -1) this.first = this.i;
        this.token(c);
      }
    }
    this.push(chars.length);
    return this.statements;
  }

  token(c: string): void {
    const prev = this.chars[this.i - 1];
    const afterWord = prev !== undefined && IDENT_CONT.test(prev);
    if (c === "'") this.quoted("'", this.escapesBackslash());
    else if (c === '"') this.quoted('"', false);
    else if (c === '$' && !afterWord && this.dollarQuote()) return;
    else if (DIGIT.test(c) || c === '$') this.skipWhile(c === '$' ? DIGIT : IDENT_CONT);
    else if (IDENT_START.test(c)) this.word();
    else {
      if (c === '(') this.parenDepth++;
      else if (c === ')' && this.parenDepth > 0) this.parenDepth--;
      this.i++;
    }
  }

  /** E'...' (escape string, but not the E at the end of a longer word): backslash escapes the next character. */
  escapesBackslash(): boolean {
    const prev = this.chars[this.i - 1];
    const before = this.chars[this.i - 2];
    return prev !== undefined && /[eE]/.test(prev) && (before === undefined || !IDENT_CONT.test(before));
  }

  lineComment(): void {
    while (this.i < this.chars.length && this.chars[this.i] !== '\n') this.i++;
  }

  blockComment(): void {
    const { chars } = this;
    let depth = 1;
    this.i += 2;
    while (this.i < chars.length && depth > 0) {
      if (chars[this.i] === '/' && chars[this.i + 1] === '*') {
        depth++;
        this.i += 2;
      } else if (chars[this.i] === '*' && chars[this.i + 1] === '/') {
        depth--;
        this.i += 2;
      } else {
        this.i++;
      }
    }
  }

  semicolon(): void {
    if (this.parenDepth === 0 && this.beginDepth === 0) {
      this.push(this.i);
      this.identifierCount = 0;
    }
    this.i++;
  }

  /** A '...' or "..." run (a doubled quote stands for itself); an unterminated one runs to the end. */
  quoted(quote: string, backslash: boolean): void {
    const { chars } = this;
    this.i++;
    while (this.i < chars.length) {
      if (backslash && chars[this.i] === '\\') this.i += 2;
      else if (chars[this.i] === quote && chars[this.i + 1] === quote) this.i += 2;
      else if (chars[this.i] === quote) {
        this.i++;
        return;
      } else this.i++;
    }
  }

  /** `$tag$ ... $tag$`; false when the `$` does not open one (a parameter `$1`, a lone `$`). */
  dollarQuote(): boolean {
    const { chars } = this;
    let end = this.i + 1;
    if (end < chars.length && IDENT_START.test(chars[end]!)) {
      end++;
      while (end < chars.length && /[A-Za-z_0-9\u0080-\u{10FFFF}]/u.test(chars[end]!)) end++;
    }
    if (chars[end] !== '$') return false;
    const tag = chars.slice(this.i, end + 1).join('');
    const body = chars.slice(end + 1).join('');
    const close = body.indexOf(tag);
    this.i = close === -1 ? chars.length : end + 1 + Array.from(body.slice(0, close)).length + (end + 1 - this.i);
    return true;
  }

  /** Steps over the current character and every following one that matches. */
  skipWhile(pattern: RegExp): void {
    this.i++;
    while (this.i < this.chars.length && pattern.test(this.chars[this.i]!)) this.i++;
  }

  /** An identifier or keyword: psql's bookkeeping for `BEGIN ... END` bodies of SQL-standard functions. */
  word(): void {
    const start = this.i;
    this.skipWhile(IDENT_CONT);
    const word = this.chars.slice(start, this.i).join('').toLowerCase();
    if (this.identifierCount === 0) this.identifiers = [];
    if (TRACKED_WORDS.has(word) && this.identifierCount < 4) this.identifiers[this.identifierCount] = word[0]!;
    this.identifierCount++;
    const [a, b, c, d] = this.identifiers;
    const routine = a === 'c' && (b === 'f' || b === 'p' || (b === 'o' && c === 'r' && (d === 'f' || d === 'p')));
    if (!routine || this.parenDepth !== 0) return;
    if (word === 'begin') this.beginDepth++;
    else if (word === 'case' && this.beginDepth >= 1) this.beginDepth++;
    else if (word === 'end' && this.beginDepth > 0) this.beginDepth--;
  }

  push(end: number): void {
    if (this.first !== -1) this.statements.push({ text: this.chars.slice(this.first, end).join(''), offset: this.first });
    this.first = -1;
  }
}
