/**
 * The Prometheus metrics an instance publishes at `/metrics`.
 */
import client from 'prom-client';

/**
 * The Prometheus metrics of one instance, in a registry of its own so that
 * several apps in one process (tests) do not clash.
 */
export function createMetrics(instanceId: string) {
  const registry = new client.Registry();
  registry.setDefaultLabels({ instance: instanceId });
  client.collectDefaultMetrics({ register: registry });
  return {
    registry,
    connectedSockets: new client.Gauge({
      name: 'parley_connected_sockets',
      help: 'Sockets connected to this instance',
      registers: [registry],
    }),
    joinedRooms: new client.Gauge({
      name: 'parley_joined_rooms',
      help: 'Rooms with at least one socket joined on this instance',
      registers: [registry],
    }),
    messagesStored: new client.Counter({
      name: 'parley_messages_stored_total',
      help: 'Messages stored by this instance (repeats of an idempotent send excluded)',
      registers: [registry],
    }),
    changesStored: new client.Counter({
      name: 'parley_changes_stored_total',
      help: 'Changes to messages stored by this instance, by kind (edit, delete, react, unreact; requests that changed nothing excluded)',
      labelNames: ['kind'] as const,
      registers: [registry],
    }),
    sendAckSeconds: new client.Histogram({
      name: 'parley_send_ack_seconds',
      help: 'Time from receiving a send to answering it',
      labelNames: ['outcome'] as const,
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [registry],
    }),
    errors: new client.Counter({
      name: 'parley_errors_total',
      help: 'Error answers, by code',
      labelNames: ['code'] as const,
      registers: [registry],
    }),
    handshakesRefused: new client.Counter({
      name: 'parley_handshakes_refused_total',
      help: 'Refused handshakes, by reason',
      labelNames: ['reason'] as const,
      registers: [registry],
    }),
    slowConsumers: new client.Counter({
      name: 'parley_slow_consumers_total',
      help: 'Connections ended because their peer stopped reading (MAX_OUTPUT_BYTES)',
      registers: [registry],
    }),
    redisUp: new client.Gauge({
      name: 'parley_redis_up',
      help: '1 while every Redis link of this instance is ready (always 1 in memory mode)',
      registers: [registry],
    }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
