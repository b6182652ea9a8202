import { CgkError, ERROR_CLASS } from './base.js';

/** Errors of calling the sql tag itself. */

/**
 * `sql` called as a plain function (`sql('select ...')`, `sql(['select ...'])`) instead of as a tag, or
 * `sql.query` given something that is not a text or a `{ text, values }` config. Refused before anything is
 * sent: a plain call would send text with no parameters (`@vercel/postgres` throws `incorrect_tagged_template_call`).
 */
export class SqlCallError extends CgkError {
  static override readonly [ERROR_CLASS]: string = 'SqlCallError';

  constructor(message: string, hint: string) {
    super('CGK_INCORRECT_SQL_CALL', message, { hint });
  }
}
