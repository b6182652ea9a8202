import {
  metrics,
  trace,
  type Attributes,
  type Meter,
  type MeterProvider,
  type Span,
  type SpanOptions,
  type TracerProvider,
} from '@opentelemetry/api';
import { createNoopMeter } from '@opentelemetry/api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Database, createTenant, setupDatabase } from '../src/index.js';
import { loadTelemetry } from '../src/stats/telemetry.js';
import { createTestDatabase, DROP_TIMEOUT_MS, type TestDatabase } from './helpers/database.js';

/**
 * OpenTelemetry (stats/telemetry.ts): with @opentelemetry/api installed and a provider registered, each tenant
 * scope is a span and feeds metrics, with the tenant as an attribute. The providers below are the API's own
 * extension points, filled in with recorders (what an SDK's in-memory exporter would collect).
 */

interface Recorded {
  name: string;
  attributes: Attributes;
  status?: { code: number; message?: string };
  start: number;
  end?: number;
}

const spans: Recorded[] = [];
const points: Array<{ instrument: string; value: number; attributes: Attributes }> = [];

const tracerProvider: TracerProvider = {
  getTracer: () => ({
    startSpan(name: string, options?: SpanOptions): Span {
      const span: Recorded = { name, attributes: { ...options?.attributes }, start: Number(options?.startTime) };
      spans.push(span);
      const self = {
        setAttribute: (key: string, value: unknown) => {
          span.attributes[key] = value as string;
          return self;
        },
        setStatus: (status: Recorded['status']) => {
          span.status = status;
          return self;
        },
        end: (time?: unknown) => void (span.end = Number(time)),
        isRecording: () => true,
      };
      return self as unknown as Span;
    },
    startActiveSpan: () => {
      throw new Error('not used by @cgk/db');
    },
  }),
};

const meterProvider: MeterProvider = {
  getMeter: (): Meter => {
    const recorder = (instrument: string) => ({
      record: (value: number, attributes: Attributes = {}) => points.push({ instrument, value, attributes }),
      add: (value: number, attributes: Attributes = {}) => points.push({ instrument, value, attributes }),
    });
    return Object.assign(createNoopMeter(), {
      createHistogram: (name: string) => recorder(name),
      createCounter: (name: string) => recorder(name),
    }) as unknown as Meter;
  },
};

let scratch: TestDatabase;
let db: Database;

beforeAll(async () => {
  trace.setGlobalTracerProvider(tracerProvider);
  metrics.setGlobalMeterProvider(meterProvider);
  await loadTelemetry();
  scratch = await createTestDatabase('cgk_otel');
  db = new Database({ url: scratch.url });
  await setupDatabase({ db });
  await createTenant({ slug: 'traced' }, { db });
});
afterAll(async () => {
  trace.disable();
  metrics.disable();
  await db?.end();
  await scratch?.drop();
}, DROP_TIMEOUT_MS);

describe('OpenTelemetry', () => {
  it('records a span per scope with the tenant, its real duration, and an error status with the code', async () => {
    spans.length = 0;
    points.length = 0;
    await db.withTenant('traced', (sql) => sql`select pg_sleep(0.05)`);
    await db.withTenant('traced', (sql) => sql`select 1/0`).catch(() => undefined);
    expect(spans.map((s) => [s.name, s.attributes['cgk.tenant']])).toEqual([
      ['cgk.tenant_scope', 'traced'],
      ['cgk.tenant_scope', 'traced'],
    ]);
    const [ok, failed] = spans;
    expect(ok!.end! - ok!.start).toBeGreaterThanOrEqual(45);
    expect(ok!.start).toBeGreaterThan(Date.now() - 60_000); // epoch milliseconds, not the process clock
    expect(ok!.status).toBeUndefined();
    expect(failed!.status).toMatchObject({ code: 2, message: expect.stringMatching(/division by zero/) });
    expect(failed!.attributes['cgk.error_code']).toBe('22012');
    const names = points.map((p) => `${p.instrument} ${String(p.attributes['cgk.tenant'])}`);
    expect(names.filter((n) => n === 'cgk.tenant_scope.duration traced')).toHaveLength(2);
    expect(names.filter((n) => n === 'cgk.tenant_scope.connection_wait traced')).toHaveLength(2);
    expect(points.find((p) => p.instrument === 'cgk.tenant_scope.errors')).toMatchObject({
      value: 1,
      attributes: { 'cgk.tenant': 'traced', 'cgk.error_code': '22012' },
    });
  });
});
