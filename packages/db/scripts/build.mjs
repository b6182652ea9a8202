// `npm run build` of @cgk/db: dist/ as the package ships it.
// - JavaScript: src/index.ts bundled by esbuild into a few ES modules (the drivers, loaded on first use, are
//   chunks of their own; packages stay imports). A handful of files instead of ~50 makes `import '@cgk/db'`
//   cheaper (docs/BENCHMARKS.md). Source maps carry the sources.
// - Declarations: tsc, one .d.ts per module (tsconfig.build.json).
// - Migrations: the built-in SQL files' text goes into the code (src/migrations/embedded.ts is replaced), so a
//   bundled server (Next.js) finds them; the files themselves are copied to dist/migrations/ for reading and
//   for the paths that error messages name.
import { execFileSync } from 'node:child_process';
import { cpSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = fileURLToPath(new URL('..', import.meta.url));
const dist = join(root, 'dist');
/** Where the SQL files go, relative to dist/ (the directory of the bundle's modules). */
const SQL_DIR = 'migrations';

function embeddedSource() {
  const embedded = { dir: SQL_DIR };
  for (const kind of ['public', 'tenant']) {
    const from = join(root, 'src/migrations', kind);
    embedded[kind] = readdirSync(from)
      .filter((name) => name.endsWith('.sql') && !name.startsWith('.'))
      .sort()
      .map((filename) => {
        const bytes = readFileSync(join(from, filename));
        const sql = bytes.toString('utf8');
        // The checksum is over the bytes: the text must give them back exactly (valid UTF-8).
        if (!Buffer.from(sql, 'utf8').equals(bytes)) throw new Error(`${kind}/${filename} is not valid UTF-8`);
        return { filename, sql };
      });
    cpSync(from, join(dist, SQL_DIR, kind), { recursive: true });
  }
  return `export const EMBEDDED_MIGRATIONS = ${JSON.stringify(embedded)};\n`;
}

rmSync(dist, { recursive: true, force: true });
// npm run puts node_modules/.bin on PATH.
execFileSync('tsc', ['-p', 'tsconfig.build.json', '--emitDeclarationOnly'], { cwd: root, stdio: 'inherit' });
const embedded = embeddedSource();
await build({
  // The package's entry points (exports map): @cgk/db, @cgk/db/drizzle, @cgk/db/kysely, @cgk/db/vercel-postgres; they share chunks, so one
  // scope context serves all three. pglite-seed: for scripts/pglite-seed.mjs, which runs next and prepares the
  // embedded database.
  // Output names are the package's contract (exports map, scripts/pglite-seed.mjs), kept whatever the source folders.
  entryPoints: [
    { out: 'index', in: 'index' },
    { out: 'orm/drizzle', in: 'orm/drizzle' },
    { out: 'orm/kysely', in: 'orm/kysely' },
    { out: 'compat/vercel-postgres', in: 'compat/vercel-postgres' },
    { out: 'drivers/pglite-seed', in: 'drivers/pglite/seed' },
  ].map((entry) => ({ out: entry.out, in: join(root, `src/${entry.in}.ts`) })),
  outdir: dist,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  packages: 'external',
  sourcemap: true,
  logLevel: 'warning',
  // The version keys the state copies of the library share in one process (src/process/shared.ts).
  define: { __CGK_DB_VERSION__: JSON.stringify(JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).version) },
  plugins: [
    {
      name: 'embedded-migrations',
      setup(b) {
        b.onLoad({ filter: /[\\/]src[\\/]migrations[\\/]embedded\.ts$/ }, () => ({ contents: embedded, loader: 'js' }));
      },
    },
  ],
});
console.log(`built ${dist}`);
