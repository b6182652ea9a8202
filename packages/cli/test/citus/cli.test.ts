import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCitusDatabase, type CitusDatabase } from '../../../db/test/helpers/citus.js';
import { cli, json, tempDir } from '../helpers/cli.js';

/**
 * The CLI's commands against a Citus coordinator (`npm run test:citus` brings the cluster up): what an
 * operator runs, as a subprocess, with tenant roles on (the default).
 */

let cluster: CitusDatabase;
const cwd = tempDir('cgk-cli-citus-');
const run = (args: string[]) => cli(args, { cwd: cwd.path, env: { DATABASE_URL: cluster.url }, timeoutMs: 120_000 });

beforeAll(async () => {
  cluster = await createCitusDatabase('cgk_cli_citus');
});

afterAll(async () => {
  await cluster?.drop();
  cwd.remove();
});

describe('the CLI on Citus', () => {
  it('setup:database reports the cluster', async () => {
    const r = await run(['setup:database', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(json(r)).toMatchObject({ ok: true, citus: { schemaBasedSharding: true, unsafeTriggers: true } });
    const text = await run(['setup:database']);
    expect(text.stdout).toMatch(
      /citus: +13\.\d[^;]*; nodes for tenants: 127\.0\.0\.1:\d+ \(0 tenants\), 127\.0\.0\.1:\d+ \(0 tenants\)/,
    );
  });

  it('tenant:create, migrate, migrate:status, tenant:drop, doctor', async () => {
    for (const slug of ['acme', 'globex', 'initech']) {
      const created = await run(['tenant:create', slug, '--json']);
      expect(created.code, created.stderr).toBe(0);
    }
    const migrate = await run(['migrate', '--json']);
    expect(migrate.code, migrate.stderr).toBe(0);
    expect(json(migrate)).toMatchObject({ ok: true });
    const status = await run(['migrate:status', '--json']);
    expect(status.code, status.stderr).toBe(0);
    expect(json(status)).toMatchObject({ tenants: { total: 3, pending: 0, upToDate: 3 } });
    const dropped = await run(['tenant:drop', 'initech', '--yes', '--json']);
    expect(dropped.code, dropped.stderr).toBe(0);
    const doctor = await run(['doctor', '--json']);
    const citus = json(doctor).checks.find((c: { name: string }) => c.name === 'citus');
    expect(citus).toMatchObject({ status: 'ok' });
    expect(citus.detail).toMatch(/2 distributed tenant schemas/);
    const text = await run(['doctor']);
    expect(text.stdout).toMatch(/^ok +citus +Citus 13\./m);
  });

  it('tenant:move --node moves a tenant to the other worker; a bad node is one typed error line, nothing moved', async () => {
    const placed = async () => {
      const doctor = json(await run(['doctor', '--json']));
      return doctor.checks.find((c: { name: string }) => c.name === 'citus').detail as string;
    };
    const before = await placed();
    const help = await run(['tenant:move', '--help']);
    expect(help.stdout).toMatch(/Examples?:\n[\s\S]*\$ npx @cgk\/cli tenant:move acme --node /);
    const bad = await run(['tenant:move', 'acme', '--node', 'nowhere']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/^error CGK_CITUS: "nowhere" is not a node address/);
    const unknown = await run(['tenant:move', 'acme', '--node', '127.0.0.1:1', '--json']);
    expect(unknown.code).toBe(1);
    expect(json(unknown)).toMatchObject({ ok: false, error: { code: 'CGK_CITUS' } });
    const ports = [...before.matchAll(/127\.0\.0\.1:(\d+) (\d+)/g)].map((m) => Number(m[1]));
    const moves = [];
    for (const port of ports) {
      const moved = await run(['tenant:move', 'acme', '--node', `127.0.0.1:${port}`, '--json']);
      expect(moved.code, moved.stderr).toBe(0);
      moves.push(json(moved).move);
    }
    // Moved to each worker in turn: to the second it always moves (from the first, where it is by then).
    expect(moves.at(-1)).toMatchObject({ slug: 'acme', moved: true, from: { port: ports[0] }, to: { port: ports[1] } });
    const text = await run(['tenant:move', 'acme', '--node', `127.0.0.1:${ports[0]}`]);
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toMatch(
      new RegExp(`^Moved tenant acme from 127\\.0\\.0\\.1:${ports[1]} to 127\\.0\\.0\\.1:${ports[0]} in `),
    );
  });
});
