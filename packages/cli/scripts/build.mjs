// `npm run build` of @cgk/cli: dist/main.js, the CLI's sources and commander bundled by esbuild into one ES
// module (with a source map); @cgk/db, PGlite and pg stay imports of the installed packages. One file, and no
// CommonJS package for Node's loader to scan, keeps `cgk --help` start-up close to Node's own
// (docs/BENCHMARKS.md). Type checking is `npm run typecheck`.
import { copyFileSync, existsSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = fileURLToPath(new URL('..', import.meta.url));
rmSync(join(root, 'dist'), { recursive: true, force: true });
await build({
  entryPoints: [join(root, 'src/main.ts')],
  outdir: join(root, 'dist'),
  bundle: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  // commander is bundled in (see the header); the library and PGlite stay imports of the installed packages
  // (in this repository tsconfig's paths map @cgk/db to its sources: the CLI must import the installed package).
  external: ['@cgk/db', '@electric-sql/pglite', 'pg'],
  // commander is CommonJS: its require() of Node's built-in modules needs a require in an ES module.
  banner: {
    js: "import { createRequire as __cgkCreateRequire } from 'node:module';\nconst require = __cgkCreateRequire(import.meta.url);",
  },
  sourcemap: true,
  logLevel: 'warning',
});
// The embedded PostgreSQL's prepared data directory, made by @cgk/db's build (which runs first): it ships
// here, where the embedded default is, and bin/cgk.mjs points @cgk/db at it (CGK_PGLITE_SEED_DIR).
const dbDist = join(root, '../db/dist');
const seeds = existsSync(dbDist) ? readdirSync(dbDist).filter((name) => /^pglite-seed-.+\.tgz$/.test(name)) : [];
for (const name of seeds) copyFileSync(join(dbDist, name), join(root, 'dist', name));
console.log(
  `built ${join(root, 'dist')}${seeds.length ? ` with ${seeds.join(', ')}` : ' (no prepared PGlite data directory: build @cgk/db first)'}`,
);
