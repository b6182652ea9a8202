// `npm run build` of @cgk/cli: dist/main.js, the CLI's sources bundled by esbuild into one ES module (with a
// source map); packages (@cgk/db, commander, dotenv) stay imports. One file keeps `cgk --help` start-up
// close to Node's own (docs/BENCHMARKS.md). Type checking is `npm run typecheck`.
import { rmSync } from 'node:fs';
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
  packages: 'external',
  // In this repository tsconfig's paths map @cgk/db to its sources: the CLI must import the installed package.
  external: ['@cgk/db'],
  sourcemap: true,
  logLevel: 'warning',
});
console.log(`built ${join(root, 'dist')}`);
