// The compiled `cgk`, run as the installed bin runs it (packages/cli/dist/main.js: plain JavaScript, no tsx).
// Used by bench/cli.bench.ts when `npm run build` has made it.
const { run } = await import('../packages/cli/dist/main.js');
const code = await run(process.argv.slice(2));
process.exitCode = code;
setTimeout(() => process.exit(code), 1000).unref();
