// Build step of @cgk/db, after tsc: carries the built-in migration SQL into the package.
// - dist/migrations/{public,tenant}/*.sql: the files themselves, to read (and the paths error messages name);
// - dist/migrations/embedded.js: their text in the code, which is what runs, so that a bundled server
//   (Next.js) finds the migrations without reading a directory beside the code (src/migrations/embedded.ts).
import { cpSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const embedded = {};
for (const dir of ['public', 'tenant']) {
  const from = join(root, 'src/migrations', dir);
  cpSync(from, join(root, 'dist/migrations', dir), { recursive: true });
  embedded[dir] = readdirSync(from)
    .filter((name) => name.endsWith('.sql') && !name.startsWith('.'))
    .sort()
    .map((filename) => {
      const bytes = readFileSync(join(from, filename));
      const sql = bytes.toString('utf8');
      // The checksum is over the bytes: the text must give them back exactly (valid UTF-8).
      if (!Buffer.from(sql, 'utf8').equals(bytes)) throw new Error(`${dir}/${filename} is not valid UTF-8`);
      return { filename, sql };
    });
}
const out = join(root, 'dist/migrations/embedded.js');
writeFileSync(out, `// Written by scripts/embed-migrations.mjs at build time: the built-in migration files' text.
export const EMBEDDED_MIGRATIONS = ${JSON.stringify(embedded, null, 1)};
`);
rmSync(`${out}.map`, { force: true });
console.log(`embedded ${embedded.public.length} public and ${embedded.tenant.length} tenant migrations in ${out}`);
