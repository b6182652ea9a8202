#!/usr/bin/env node
// The `cgk` command (also `npx @cgk/cli`). Installed from npm it runs the compiled dist/main.js: plain
// JavaScript, nothing compiled at run time. In this repository (src/ present, not shipped in the package) it
// runs the TypeScript sources through tsx, a dev dependency, so tests always see the current code.
// Heavy modules (the embedded PostgreSQL, pg) load only when a command needs them.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const source = new URL('../src/main.ts', import.meta.url);
let main;
if (existsSync(source)) {
  const { register } = await import('tsx/esm/api');
  // The repository's tsconfig maps `@cgk/db` to its sources, whatever the working directory.
  register({ tsconfig: fileURLToPath(new URL('../tsconfig.json', import.meta.url)) });
  main = await import(source.href);
} else {
  // The embedded PostgreSQL's prepared data directory ships with this package, not with @cgk/db.
  process.env.CGK_PGLITE_SEED_DIR ??= fileURLToPath(new URL('../dist/', import.meta.url));
  main = await import('../dist/main.js');
}
const code = await main.run(process.argv.slice(2));
process.exitCode = code;
// Safety net: once the command is done, a handle left open (a socket, a timer) must not keep the process alive.
setTimeout(() => process.exit(code), 1000).unref();
