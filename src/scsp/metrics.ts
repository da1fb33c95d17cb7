/** Prometheus metrics of one SCSP instance (its own registry, so several can live in one process). */
import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export interface ScspMetrics {
  registry: Registry;
  tokens: Counter<'result'>;
  authFailures: Counter<'reason'>;
  events: Counter<'protocol' | 'action' | 'result'>;
  plans: Counter<'result'>;
  planSeconds: Histogram;
  deliveries: Counter<'outcome'>;
}

export function createScspMetrics(opts: { defaultMetrics?: boolean } = {}): ScspMetrics {
  const registry = new Registry();
  if (opts.defaultMetrics) collectDefaultMetrics({ register: registry, prefix: 'ampline_scsp_' });
  const registers = [registry];
  return {
    registry,
    tokens: new Counter({
      name: 'ampline_scsp_token_requests_total',
      help: 'Token endpoint requests: issued, or the OAuth error answered',
      labelNames: ['result'] as const,
      registers,
    }),
    authFailures: new Counter({
      name: 'ampline_scsp_auth_failures_total',
      help: 'Requests to /v1/scsp refused with 401: token (missing, unknown, expired) or api_key',
      labelNames: ['reason'] as const,
      registers,
    }),
    events: new Counter({
      name: 'ampline_scsp_events_total',
      help: 'Events received from CPOs: accepted, duplicate (idempotent retry), invalid (schema), unknown_station, conflict (Idempotency-Key reused)',
      labelNames: ['protocol', 'action', 'result'] as const,
      registers,
    }),
    plans: new Counter({
      name: 'ampline_scsp_plans_total',
      help: 'Planning runs: planned, failed',
      labelNames: ['result'] as const,
      registers,
    }),
    planSeconds: new Histogram({
      name: 'ampline_scsp_plan_seconds',
      help: 'Time of one planning run (planner only)',
      buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    }),
    deliveries: new Counter({
      name: 'ampline_scsp_profile_deliveries_total',
      help: 'SetChargingProfile attempts to CPOs: delivered, rejected (4xx, given up), retry (5xx/network), failed (gave up after retries)',
      labelNames: ['outcome'] as const,
      registers,
    }),
  };
}
