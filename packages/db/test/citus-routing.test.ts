import { describe, expect, it } from 'vitest';
import { workerDemand } from '../src/citus/connections.js';
import { parseNodeTarget } from '../src/citus/move.js';
import { localityCheck } from '../src/drivers/citus-placement.js';
import { nodeUrl, routingSetting } from '../src/drivers/citus-router.js';
import { citusConnectionsCheck } from '../src/doctor/citus.js';

/**
 * The parts of Citus routing that need no cluster: the connection-string switch, node URLs, `--node` parsing,
 * and the arithmetic of doctor's `citus connections` check. The routing itself runs on the cluster
 * (test/citus/many-tenants.test.ts, move.test.ts).
 */

describe('Citus routing without a cluster', () => {
  it('citus_routing=off turns routing off and is not passed on to the driver', () => {
    expect(routingSetting('postgres://u:p@h:5432/db?pool_max=5')).toEqual({
      routing: true,
      url: 'postgres://u:p@h:5432/db?pool_max=5',
    });
    for (const value of ['off', '0', 'false', 'OFF']) {
      const { routing, url } = routingSetting(`postgres://u:p@h:5432/db?citus_routing=${value}&pool_max=5`);
      expect(routing, value).toBe(false);
      expect(url).toBe('postgres://u:p@h:5432/db?pool_max=5');
    }
    expect(routingSetting('postgres://h/db?citus_routing=on').routing).toBe(true);
  });

  it("a node's URL keeps the user, password, database and parameters, with the node's host and port", () => {
    const url = 'postgres://app:s3cret@coordinator.internal:5432/app?sslmode=require&pool_max=20';
    expect(nodeUrl(url, { host: 'worker-2.internal', port: 6432 })).toBe(
      'postgres://app:s3cret@worker-2.internal:6432/app?sslmode=require&pool_max=20',
    );
    expect(nodeUrl(url, { host: 'fd00::2', port: 5432 })).toBe(
      'postgres://app:s3cret@[fd00::2]:5432/app?sslmode=require&pool_max=20',
    );
  });

  it('--node is host:port; anything else is CGK_CITUS', () => {
    expect(parseNodeTarget('10.0.0.12:5432')).toEqual({ host: '10.0.0.12', port: 5432 });
    expect(parseNodeTarget(' worker-1.internal:6432 ')).toEqual({ host: 'worker-1.internal', port: 6432 });
    expect(parseNodeTarget('[fd00::2]:5432')).toEqual({ host: 'fd00::2', port: 5432 });
    for (const bad of ['', 'worker', 'worker:', ':5432', 'worker:0', 'worker:70000', 'worker:54x', 'a b:1']) {
      expect(() => parseNodeTarget(bad), bad).toThrow(expect.objectContaining({ code: 'CGK_CITUS' }));
    }
  });

  it('the locality check names a shard by its number only', () => {
    expect(localityCheck({ host: 'h', port: 1, group: 2, shard: '102008' }).text).toMatch(/shardid = 102008\n/);
    expect(() => localityCheck({ host: 'h', port: 1, group: 2, shard: '1; drop table x' })).toThrow();
  });

  it('what one process opens on a worker: bounded by the pools when routed, pool x tenants through the coordinator', () => {
    const url = 'postgres://app@c:5432/app?pool_max=10&tenant_pool_max=6';
    expect(workerDemand(url, 'set-role', 500)).toEqual({ routed: 10, viaCoordinator: 10, routing: true });
    expect(workerDemand(url, 'login', 500)).toEqual({ routed: 16, viaCoordinator: 10, routing: true });
    expect(workerDemand(url, 'off', 500)).toEqual({ routed: 10, viaCoordinator: 10, routing: true });
    const off = `${url}&citus_routing=off`;
    expect(workerDemand(off, 'set-role', 500)).toEqual({ routed: 0, viaCoordinator: 5000, routing: false });
    expect(workerDemand(off, 'login', 500)).toEqual({ routed: 0, viaCoordinator: 16, routing: false });
    expect(workerDemand(off, 'off', 500)).toEqual({ routed: 0, viaCoordinator: 10, routing: false });
  });

  it("doctor's citus connections check: ok with room, warn when one more process would not fit now, fail when one cannot", () => {
    const worker = (inUse: number) => ({ host: 'w1', port: 5432, max: 100, reserved: 3, inUse });
    const routed = () => ({ routed: 10, viaCoordinator: 10, routing: true });
    const ok = citusConnectionsCheck([worker(30)], [], routed);
    expect(ok).toEqual({
      name: 'citus connections',
      status: 'ok',
      detail:
        'w1:5432 67 free of 97 (30 in use), a process opens up to 20 (10 routed + 10 via the coordinator), room for 4 such processes',
    });
    const full = citusConnectionsCheck([worker(85)], [], routed);
    expect(full).toMatchObject({ status: 'warn', hint: expect.stringMatching(/max_connections on w1:5432.*pool_max/) });
    const multiplied = citusConnectionsCheck([worker(5)], [], () => ({ routed: 0, viaCoordinator: 2000, routing: false }));
    expect(multiplied).toMatchObject({ status: 'fail', hint: expect.stringContaining('citus_routing=off') });
    expect(citusConnectionsCheck([worker(5)], ['w2:5432'], routed)).toMatchObject({
      status: 'warn',
      detail: expect.stringContaining('no answer from w2:5432'),
    });
  });
});
