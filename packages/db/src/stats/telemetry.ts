import type { Counter, Histogram, Tracer } from '@opentelemetry/api';

/**
 * OpenTelemetry, when the application installed `@opentelemetry/api` (an optional peer): every tenant scope
 * becomes a span `cgk.tenant_scope` and feeds three metrics, each with the tenant as the attribute
 * `cgk.tenant`. Without the package nothing is loaded and nothing is recorded; with it but without an SDK
 * registered, the API's no-op implementations make it cost next to nothing (OpenTelemetry's own design).
 */

/** The instruments, once the API is loaded. */
interface Instruments {
  tracer: Tracer;
  duration: Histogram;
  wait: Histogram;
  errors: Counter;
}

type Api = typeof import('@opentelemetry/api');

/** undefined: not asked yet; null: not installed (or failed to load); else loaded. */
let api: Api | null | undefined;
let loading: Promise<void> | undefined;
/** The instruments while an SDK is registered; null while only the API's no-ops are (re-checked every second). */
let instruments: Instruments | null = null;
let checkedAt = Number.NEGATIVE_INFINITY;

/**
 * The instruments, when an SDK registered a tracer or meter provider; null otherwise. Without one, the API's
 * no-op spans still cost a few µs a scope, so none are made; an SDK registered later is seen within a second.
 */
function active(loaded: Api): Instruments | null {
  const now = performance.now();
  if (now - checkedAt < 1000) return instruments;
  checkedAt = now;
  const tracerProvider = loaded.trace.getTracerProvider() as { getDelegate?: () => object };
  const tracing = (tracerProvider.getDelegate?.() ?? tracerProvider).constructor.name !== 'NoopTracerProvider';
  const metering = loaded.metrics.getMeterProvider().constructor.name !== 'NoopMeterProvider';
  if (!tracing && !metering) return (instruments = null);
  if (instruments) return instruments;
  const meter = loaded.metrics.getMeter('@cgk/db');
  instruments = {
    tracer: loaded.trace.getTracer('@cgk/db'),
    duration: meter.createHistogram('cgk.tenant_scope.duration', { unit: 'ms', description: 'Tenant scope duration' }),
    wait: meter.createHistogram('cgk.tenant_scope.connection_wait', {
      unit: 'ms',
      description: "Time from a tenant scope's first statement to its open transaction",
    }),
    errors: meter.createCounter('cgk.tenant_scope.errors', { description: 'Tenant scopes that failed, by code' }),
  };
  return instruments;
}

/** What one finished scope reports. */
export interface ScopeReport {
  slug: string;
  /** `performance.now()` at the scope's start and end. */
  startedAt: number;
  endedAt: number;
  /** Time from the first statement to the open transaction, when the scope opened one. */
  waitMs: number | undefined;
  /** The error code the scope ended with, if it failed. */
  errorCode: string | undefined;
  errorMessage: string | undefined;
}

/**
 * Starts loading the API on the first scope of the process (the scopes before it finishes go unrecorded: a
 * handful at start-up, never a wait). Resolves when the attempt is over, for tests.
 */
export function loadTelemetry(): Promise<void> {
  loading ??= import(/* webpackIgnore: true */ '@opentelemetry/api').then(
    (loaded) => {
      api = loaded;
      checkedAt = Number.NEGATIVE_INFINITY;
    },
    () => {
      api = null;
    },
  );
  return loading;
}

/** Records one finished scope: a span with its real start and end, and the metrics; nothing without the API. */
export function reportScope(report: ScopeReport): void {
  if (api === undefined) {
    void loadTelemetry();
    return;
  }
  const instruments = api && active(api);
  if (!instruments) return;
  const attributes = { 'cgk.tenant': report.slug };
  const origin = performance.timeOrigin;
  const span = instruments.tracer.startSpan('cgk.tenant_scope', { startTime: origin + report.startedAt, attributes });
  if (report.errorCode !== undefined) {
    span.setAttribute('cgk.error_code', report.errorCode);
    // SpanStatusCode.ERROR, written as its value so that this module needs the API's types only.
    span.setStatus({ code: 2, ...(report.errorMessage === undefined ? {} : { message: report.errorMessage }) });
    instruments.errors.add(1, { ...attributes, 'cgk.error_code': report.errorCode });
  }
  span.end(origin + report.endedAt);
  instruments.duration.record(report.endedAt - report.startedAt, attributes);
  if (report.waitMs !== undefined) instruments.wait.record(report.waitMs, attributes);
}
