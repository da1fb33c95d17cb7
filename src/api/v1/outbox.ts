/**
 * The SCSP outbox (src/scsp-link/outbox.ts, forwarder.ts) in the management API: what is waiting, what
 * was delivered, what was dead-lettered or cancelled — and a way to send a dead row again.
 *
 * - `GET /api/v1/partners/{id}/outbox?state=&stationId=&kind=&order=&limit=&offset=` (read)
 * - `POST /api/v1/outbox/{id}/retry` (command): a `dead` row becomes `pending` again (attempts reset,
 *   due now, last error kept until it is delivered). It is the oldest pending row of its station, so it
 *   goes out before the station's other pending rows — but after the rows delivered since it died.
 */
import { sql, type Kysely, type Selectable } from 'kysely';
import type { Database } from '../../store/schema.js';
import type { Clock } from '../../util/clock.js';
import { ApiError } from '../errors.js';
import { type JsonSchema, type RouteSpec, linkHeaderDoc, nullable, pageOf, pageSchema, paginationProps, parseJson, ref, sendPage } from './http.js';

export interface OutboxApiDeps {
  db: Kysely<Database>;
  clock: Clock;
  /** Wake the forwarder for a station, ending a backoff wait (late-bound: the SCSP link starts after the API). */
  wake?: ((stationId: string) => void) | undefined;
}

const STATES = ['pending', 'delivered', 'dead', 'cancelled'] as const;

type OutboxRow = Selectable<Database['outbox']>;

export function outboxView(r: OutboxRow) {
  return {
    id: Number(r.id),
    partnerId: r.partner_id,
    stationId: r.station_id,
    kind: r.kind,
    path: r.path,
    payload: parseJson(r.payload),
    idempotencyKey: r.idempotency_key,
    state: r.state,
    attempts: Number(r.attempts),
    nextAttemptAt: r.next_attempt_at,
    lastError: r.last_error,
    createdAt: r.created_at,
    deliveredAt: r.delivered_at,
  };
}

export const outboxComponents: Record<string, JsonSchema> = {
  OutboxEntry: {
    type: 'object',
    description: 'One event for an SCSP (seed 001), in delivery order per station.',
    required: ['id', 'partnerId', 'stationId', 'kind', 'path', 'payload', 'idempotencyKey', 'state', 'attempts', 'nextAttemptAt', 'lastError', 'createdAt', 'deliveredAt'],
    properties: {
      id: { type: 'integer' },
      partnerId: { type: 'string' },
      stationId: { type: 'string' },
      kind: { type: 'string', description: 'The OCPP action forwarded: TransactionEvent, MeterValues (ocpp2.0.1); StartTransaction, StopTransaction, StatusNotification, MeterValues (ocpp1.6).' },
      path: { type: 'string', description: "Below the partner's base URL." },
      payload: { type: 'object', description: 'The OCPP request body (valid against the OCA schema of the payload protocol).' },
      idempotencyKey: { type: 'string', description: 'Sent as the Idempotency-Key header.' },
      state: { type: 'string', enum: [...STATES], description: 'pending → delivered | dead (dead letter) | cancelled (station unpaired or partner disabled).' },
      attempts: { type: 'integer', minimum: 0 },
      nextAttemptAt: { type: 'string', format: 'date-time' },
      lastError: nullable('string'),
      createdAt: { type: 'string', format: 'date-time' },
      deliveredAt: nullable('string', { format: 'date-time' }),
    },
  },
};

const partnerParams = { type: 'object', required: ['id'], additionalProperties: false, properties: { id: { type: 'string', minLength: 1, maxLength: 64 } } };
const entryParams = { type: 'object', required: ['id'], additionalProperties: false, properties: { id: { type: 'integer', minimum: 1 } } };

export function outboxRoutes(deps: OutboxApiDeps): RouteSpec[] {
  const { db } = deps;
  return [
    {
      method: 'GET',
      url: '/api/v1/partners/:id/outbox',
      operationId: 'listPartnerOutbox',
      summary: "List a partner's outbox entries",
      description: 'Entries in id order (the delivery order per station); `order=desc` for the newest first.',
      tag: 'SCSP forwarding',
      scope: 'read',
      schema: {
        params: partnerParams,
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            state: { type: 'string', enum: [...STATES] },
            stationId: { type: 'string', minLength: 1, maxLength: 255 },
            kind: { type: 'string', minLength: 1, maxLength: 64 },
            order: { type: 'string', enum: ['asc', 'desc'], default: 'asc' },
            ...paginationProps,
          },
        },
      },
      responses: { 200: { description: 'A page of outbox entries.', schema: pageSchema('#/components/schemas/OutboxEntry'), headers: linkHeaderDoc } },
      errors: [404],
      async handler(req, reply) {
        const { id } = req.params as { id: string };
        const q = req.query as { state?: string; stationId?: string; kind?: string; order?: 'asc' | 'desc' };
        const page = pageOf(req.query);
        const partner = await db.selectFrom('scsp_partners').select('id').where('id', '=', id).executeTakeFirst();
        if (!partner) throw new ApiError('UnknownPartner', `Unknown SCSP partner '${id}'`);
        let base = db.selectFrom('outbox').where('partner_id', '=', id);
        if (q.state) base = base.where('state', '=', q.state);
        if (q.stationId) base = base.where('station_id', '=', q.stationId);
        if (q.kind) base = base.where('kind', '=', q.kind);
        const [rows, count] = await Promise.all([
          base
            .selectAll()
            .orderBy('id', q.order === 'desc' ? 'desc' : 'asc')
            .limit(page.limit)
            .offset(page.offset)
            .execute(),
          base.select(sql<number | string>`count(*)`.as('n')).executeTakeFirst(),
        ]);
        return sendPage(req, reply, rows.map(outboxView), Number(count?.n ?? 0), page);
      },
    },
    {
      method: 'POST',
      url: '/api/v1/outbox/:id/retry',
      operationId: 'retryOutboxEntry',
      summary: 'Send a dead outbox entry again',
      description:
        'A `dead` entry becomes `pending` (attempts reset, due now; the last error is kept until delivery). It is then its ' +
        "station's oldest pending entry and goes out first. 409 when the entry is not dead.",
      tag: 'SCSP forwarding',
      scope: 'command',
      schema: { params: entryParams },
      responses: { 200: { description: 'The entry, pending again.', schema: ref('OutboxEntry') } },
      errors: [404, 409],
      async handler(req) {
        const { id } = req.params as { id: number };
        const now = deps.clock.now().toISOString();
        const res = await db
          .updateTable('outbox')
          .set({ state: 'pending', attempts: 0, next_attempt_at: now })
          .where('id', '=', id)
          .where('state', '=', 'dead')
          .executeTakeFirst();
        const row = await db.selectFrom('outbox').selectAll().where('id', '=', id).executeTakeFirst();
        if (!row) throw new ApiError('NotFound', `Unknown outbox entry ${id}`);
        if (Number(res.numUpdatedRows) === 0) throw new ApiError('OutboxEntryNotDead', `Outbox entry ${id} is ${row.state}, not dead: nothing to retry`);
        deps.wake?.(row.station_id);
        return outboxView(row);
      },
    },
  ];
}
