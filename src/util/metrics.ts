/** Prometheus metrics of one CSMS instance (its own registry, so several can live in one process). */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export interface CsmsMetrics {
  registry: Registry;
  connectedStations: Gauge;
  messages: Counter<'protocol' | 'action' | 'direction' | 'result'>;
  handlerSeconds: Histogram<'action'>;
  outboundSeconds: Histogram<'action' | 'result'>;
  connections: Counter<'event'>;
}

export function createMetrics(opts: { defaultMetrics?: boolean } = {}): CsmsMetrics {
  const registry = new Registry();
  if (opts.defaultMetrics) collectDefaultMetrics({ register: registry, prefix: 'ampline_' });
  return {
    registry,
    connectedStations: new Gauge({
      name: 'ampline_connected_stations',
      help: 'Charging stations with an open OCPP WebSocket on this node',
      registers: [registry],
    }),
    messages: new Counter({
      name: 'ampline_ocpp_messages_total',
      help: 'OCPP CALLs handled (inbound) or sent (outbound), by action and result',
      labelNames: ['protocol', 'action', 'direction', 'result'] as const,
      registers: [registry],
    }),
    handlerSeconds: new Histogram({
      name: 'ampline_ocpp_handler_seconds',
      help: 'Time to handle an inbound CALL (validation, domain, persistence)',
      labelNames: ['action'] as const,
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [registry],
    }),
    outboundSeconds: new Histogram({
      name: 'ampline_ocpp_outbound_call_seconds',
      help: 'Round trip of CALLs Ampline sends to stations, including queueing',
      labelNames: ['action', 'result'] as const,
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers: [registry],
    }),
    connections: new Counter({
      name: 'ampline_ocpp_connections_total',
      help: 'WebSocket connection events: accepted, refused, takeover, closed',
      labelNames: ['event'] as const,
      registers: [registry],
    }),
  };
}
