#!/usr/bin/env node
// `npm run release` (add `-- --dry-run` to check without publishing): publishes @cgk/db and @cgk/cli to the npm
// registry in one step, after checking what a release needs:
// - both packages carry the same version, and @cgk/cli depends on that version of @cgk/db (`^X.Y.Z`): the CLI
//   tarball alone must install from the registry;
// - CHANGELOG.md has a `## X.Y.Z` section for it;
// - the working tree is clean (skipped with --dry-run), so that what is published is a commit.
// Then `npm publish --workspaces --access public` (its prepack builds dist/), @cgk/db first. No CI job runs this
// without --dry-run: publishing is a maintainer's step (docs in README.md, "Releasing").
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const dryRun = process.argv.includes('--dry-run');
const manifest = (dir) => JSON.parse(readFileSync(join(root, dir, 'package.json'), 'utf8'));

function fail(message) {
  console.error(`release: ${message}`);
  process.exit(1);
}

const db = manifest('packages/db');
const cli = manifest('packages/cli');
if (db.version !== cli.version) fail(`@cgk/db is ${db.version} but @cgk/cli is ${cli.version}: give both the same version`);
const wanted = `^${db.version}`;
if (cli.dependencies?.['@cgk/db'] !== wanted) {
  fail(`@cgk/cli depends on @cgk/db ${cli.dependencies?.['@cgk/db']}, not ${wanted}: update packages/cli/package.json`);
}
const changelog = readFileSync(join(root, 'CHANGELOG.md'), 'utf8');
if (!new RegExp(`^## ${db.version.replaceAll('.', '\\.')}\\b`, 'm').test(changelog)) {
  fail(`CHANGELOG.md has no "## ${db.version}" section: say what this version changes`);
}
if (!dryRun) {
  const status = execFileSync('git', ['status', '--porcelain'], { cwd: root, encoding: 'utf8' });
  if (status.trim() !== '') fail('the working tree has uncommitted changes: commit them first');
}
const flags = ['--access', 'public', ...(dryRun ? ['--dry-run'] : [])];
for (const workspace of ['packages/db', 'packages/cli']) {
  execFileSync('npm', ['publish', '--workspace', workspace, ...flags], { cwd: root, stdio: 'inherit' });
}
console.log(`release: @cgk/db and @cgk/cli ${db.version} ${dryRun ? 'checked (dry run, nothing published)' : 'published'}`);
