// Part of `npm run build` (after tsc): prepares the embedded PostgreSQL's data directory, so that a user's
// first `cgk` command unpacks it instead of running initdb (see src/drivers/pglite/seed.ts).
import { buildPgliteSeed, installedPgliteVersion } from '../dist/drivers/pglite-seed.js';

if (installedPgliteVersion() === undefined) {
  console.log('pglite-seed: @electric-sql/pglite is not installed; no prepared data directory (initdb runs on first use)');
} else {
  const started = performance.now();
  const { path, bytes } = await buildPgliteSeed();
  console.log(
    `pglite-seed: ${path} (${(bytes / 1024 / 1024).toFixed(1)} MB) in ${((performance.now() - started) / 1000).toFixed(1)} s`,
  );
}
