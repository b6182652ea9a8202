// Module hooks for the import check: every resolved URL is appended to the file in CGK_IMPORT_LOG.
import { appendFileSync } from 'node:fs';

export async function resolve(specifier, context, next) {
  const result = await next(specifier, context);
  appendFileSync(process.env.CGK_IMPORT_LOG, `${result.url}\n`);
  return result;
}
