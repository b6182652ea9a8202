#!/usr/bin/env node
// The `cgk` command (also `npx @cgk/cli`). Registers tsx's ESM loader so the TypeScript sources run as they
// are, then hands over to src/main.ts. Heavy modules (the embedded PostgreSQL, pg) load only when used.
import { register } from 'tsx/esm/api';

register();
const { run } = await import('../src/main.ts');
const code = await run(process.argv.slice(2));
process.exitCode = code;
// Safety net: once the command is done, a handle left open (a socket, a timer) must not keep the process alive.
setTimeout(() => process.exit(code), 1000).unref();
