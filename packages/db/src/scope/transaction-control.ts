/**
 * Finds transaction-control statements (COMMIT, ROLLBACK, END, ABORT, BEGIN, START TRANSACTION, PREPARE
 * TRANSACTION) in SQL text, so a tenant scope can refuse them before they reach the server: any of them
 * would end the scope's transaction (or its path and role), and the statements after it would run outside.
 *
 * Why text and not the server's transaction status: a multi-statement text (`commit; select ...`) runs
 * whole on the server before any status comes back, `COMMIT AND CHAIN` leaves the connection "in a
 * transaction" (a new one, without the scope's path and role), and on a pipelined connection the
 * statements queued behind a COMMIT are already on the wire when its answer arrives. Only a check before
 * sending stops all three.
 *
 * The scanner follows PostgreSQL's own lexer (scan.l) where it matters for splitting statements: `--` and
 * nested `/* *\/` comments, '' strings (E'' with backslash escapes), "" identifiers, dollar quotes (not
 * after an identifier character: `a$b$` is one identifier; `$1` is a parameter). A backslash in a plain
 * string reads differently with `standard_conforming_strings` off, so such a text is checked both ways.
 * Anything PostgreSQL would fail to parse is rejected whole by the server before it runs (a multi-statement
 * text is parsed in full first), so a difference there cannot let a statement through.
 */

/** Words that may begin a transaction-control statement; a text without any of them needs no scan. */
const MAYBE = /commit|end|rollback|abort|begin|start|prepare/i;

/**
 * The transaction-control statement `text` contains (its first words, lowercased, e.g. `commit` or
 * `prepare transaction`), or undefined when it has none. `ROLLBACK TO SAVEPOINT`, `SAVEPOINT` and
 * `RELEASE` are not transaction control: they cannot end the transaction.
 */
export function findTransactionControl(text: string): string | undefined {
  if (!MAYBE.test(text)) return undefined;
  return scan(text, true) ?? (text.includes('\\') ? scan(text, false) : undefined);
}

const isSpace = (c: number) => c === 32 || (c >= 9 && c <= 13);
const isIdentStart = (c: number) => (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || c === 95 || c >= 128;
const isDigit = (c: number) => c >= 48 && c <= 57;
const isIdentCont = (c: number) => isIdentStart(c) || isDigit(c) || c === 36;
const DOLLAR_DELIMITER = /\$(?:[A-Za-z_\u0080-\uffff][A-Za-z0-9_\u0080-\uffff]*)?\$/y;

/** One pass over `text`; `standard` = standard_conforming_strings on (backslash is plain in '' strings). */
function scan(text: string, standard: boolean): string | undefined {
  let head: string[] = [];
  let i = 0;
  const n = text.length;
  // A statement's first three tokens decide: words lowercased, any other token as ''.
  const token = (word: string): string | undefined => {
    if (head.length < 3) head.push(word);
    return head.length === 3 ? control(head) : undefined;
  };
  while (i < n) {
    const c = text.charCodeAt(i);
    let found: string | undefined;
    if (isSpace(c)) {
      i++;
      continue;
    } else if (c === 59 /* ; */) {
      found = control(head);
      head = [];
      i++;
    } else if (c === 45 && text.charCodeAt(i + 1) === 45) {
      i = lineEnd(text, i);
      continue;
    } else if (c === 47 && text.charCodeAt(i + 1) === 42) {
      i = commentEnd(text, i);
      continue;
    } else if (isIdentStart(c)) {
      let j = i + 1;
      while (j < n && isIdentCont(text.charCodeAt(j))) j++;
      const word = text.slice(i, j).toLowerCase();
      const prefixed = text.charCodeAt(j) === 39 ? PREFIXED.get(word) : undefined;
      if (prefixed) {
        i = stringEnd(text, j, prefixed);
        found = token('');
      } else {
        i = j;
        found = token(word);
      }
    } else if (isDigit(c)) {
      // A number; letters after digits are a syntax error in PostgreSQL 15+, `$` starts a new token.
      let j = i + 1;
      while (j < n && (isIdentStart(text.charCodeAt(j)) || isDigit(text.charCodeAt(j)) || text.charCodeAt(j) === 46)) j++;
      i = j;
      found = token('');
    } else if (c === 39 /* ' */) {
      i = stringEnd(text, i, standard ? 'plain' : 'escape');
      found = token('');
    } else if (c === 34 /* " */) {
      i = identifierEnd(text, i);
      found = token('');
    } else if (c === 36 /* $ */) {
      i = dollarEnd(text, i);
      found = token('');
    } else {
      i++;
      found = token('');
    }
    if (found !== undefined) return found;
  }
  return control(head);
}

/** The transaction-control statement a statement's first tokens make, if any. */
function control(head: readonly string[]): string | undefined {
  const [first, second, third] = head;
  switch (first) {
    case 'commit':
    case 'end':
    case 'abort':
    case 'begin':
    case 'start':
      return first;
    case 'rollback': {
      // ROLLBACK [WORK | TRANSACTION] TO [SAVEPOINT] name only returns to a savepoint.
      const next = second === 'work' || second === 'transaction' ? third : second;
      return next === 'to' ? undefined : 'rollback';
    }
    case 'prepare':
      return second === 'transaction' ? 'prepare transaction' : undefined;
    default:
      return undefined;
  }
}

function lineEnd(text: string, from: number): number {
  let i = from + 2;
  while (i < text.length && text[i] !== '\n' && text[i] !== '\r') i++;
  return i;
}

/** After a (nested) block comment starting at `from`; an unterminated one runs to the end. */
function commentEnd(text: string, from: number): number {
  let depth = 0;
  let i = from;
  while (i < text.length) {
    if (text[i] === '/' && text[i + 1] === '*') {
      depth++;
      i += 2;
    } else if (text[i] === '*' && text[i + 1] === '/') {
      depth--;
      i += 2;
      if (depth === 0) return i;
    } else {
      i++;
    }
  }
  return i;
}

/**
 * How a '' string reads: `plain` (a doubled quote stays inside), `escape` (E'', or any '' with
 * standard_conforming_strings off: a backslash also escapes the next character), `raw` (B'' and X'':
 * neither; the string ends at the next quote).
 */
type StringMode = 'plain' | 'escape' | 'raw';

/** Prefix words that change how the string right after them reads (N'' and U&'' read as plain ones). */
const PREFIXED = new Map<string, StringMode>([
  ['e', 'escape'],
  ['b', 'raw'],
  ['x', 'raw'],
]);

/**
 * After the string opening at `from`, including its SQL-standard continuations: a quote after whitespace
 * that holds a newline continues the same string, in the same mode (PostgreSQL's `quotecontinue`).
 */
function stringEnd(text: string, from: number, mode: StringMode): number {
  let i = from + 1;
  for (;;) {
    while (i < text.length) {
      const ch = text[i];
      if (ch === '\\' && mode === 'escape') {
        i += 2;
      } else if (ch === "'") {
        if (mode === 'raw' || text[i + 1] !== "'") break;
        i += 2;
      } else {
        i++;
      }
    }
    if (i >= text.length) return text.length;
    const next = continuation(text, i + 1);
    if (next === undefined) return i + 1;
    i = next + 1;
  }
}

/** Where a string continues (the index of its next quote) after `from`, or undefined. */
function continuation(text: string, from: number): number | undefined {
  let i = from;
  // Horizontal space and a line comment, then a newline...
  for (;;) {
    const ch = text[i];
    if (ch === ' ' || ch === '\t' || ch === '\f') i++;
    else if (ch === '-' && text[i + 1] === '-') i = lineEnd(text, i);
    else break;
  }
  if (text[i] !== '\n' && text[i] !== '\r') return undefined;
  i++;
  // ...then any whitespace, or line comments each ended by a newline, then the quote.
  for (;;) {
    if (isSpace(text.charCodeAt(i))) {
      i++;
    } else if (text[i] === '-' && text[i + 1] === '-') {
      i = lineEnd(text, i);
      if (i >= text.length) return undefined;
    } else {
      return text[i] === "'" ? i : undefined;
    }
  }
}

/** After the "" identifier opening at `from`; a doubled quote stays inside. */
function identifierEnd(text: string, from: number): number {
  let i = from + 1;
  while (i < text.length) {
    if (text[i] === '"') {
      if (text[i + 1] !== '"') return i + 1;
      i += 2;
    } else {
      i++;
    }
  }
  return i;
}

/** After a `$n` parameter, a dollar-quoted string, or a lone `$`. */
function dollarEnd(text: string, from: number): number {
  let i = from + 1;
  if (isDigit(text.charCodeAt(i))) {
    while (isDigit(text.charCodeAt(i))) i++;
    return i;
  }
  DOLLAR_DELIMITER.lastIndex = from;
  const delimiter = DOLLAR_DELIMITER.exec(text)?.[0];
  if (!delimiter) return from + 1;
  const close = text.indexOf(delimiter, from + delimiter.length);
  return close === -1 ? text.length : close + delimiter.length;
}
