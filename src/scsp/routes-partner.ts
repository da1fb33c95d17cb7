/**
 * The `/v1/scsp/...` routes a CPO calls (seeds 000 and 001; protocols.md §1.3–1.5). Every route needs
 * `Authorization: Bearer <access token from /oauth/token>` and the CPO's static `ApiKey` header (checked
 * before the body is read; 401 `{message}`). Answers use the seed's `{message}` shape.
 *
 * | route | answers |
 * |---|---|
 * | `POST /v1/scsp/{payload-protocol}/pair` `{code, charging_station}` | 200 `{message}`; 404 `{"message": "Incorrect Code, please check the code and try again."}` (wrong, expired, used code); 409 uid already paired with this SCSP; 400 bad body or payload protocol |
 * | `POST /v1/scsp/chargingstations/{uid}/unpair` | 200 `{"message": "Charging station successfully unpaired."}`; 404 unknown uid |
 * | `POST /v1/scsp/chargingstations/{uid}/events/{payload-protocol}/TransactionEvent/` (also without the slash) | 200; 400 `{message, errors}` schema-invalid; 404 uid not paired; 422 Idempotency-Key reused with another body |
 * | `POST /v1/scsp/chargingstations/{uid}/events/{payload-protocol}/MeterValues` | same |
 * | `POST …/events/ocpp1.6/{StartTransaction,StopTransaction,StatusNotification}` | same (interpretation, ingest.ts) |
 *
 * Order of checks for events: 401 (token, ApiKey) → 400 unknown payload protocol → 404 unknown event
 * action → 404 uid not paired with the calling CPO → 400 body (JSON, schema) → apply. A retry of an
 * event already applied (same idempotency key) is 200 `{"message": "OK", "duplicate": true}` and changes
 * nothing. Each applied event re-plans the station (throttled, driver.ts).
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ErrorObject } from 'ajv';
import type { Clock } from '../util/clock.js';
import type { Logger } from '../util/log.js';
import { installMessageConventions } from '../util/http.js';
import { validatePayload } from '../ocpp/schemas.js';
import { type CpoRegistry, PAYLOAD_PROTOCOLS, isPayloadProtocol } from './cpos.js';
import { type TokenService, cpoOf, requireCpo } from './oauth.js';
import { INCORRECT_CODE_MESSAGE, PAIRED_MESSAGE, ALREADY_PAIRED_MESSAGE, UNKNOWN_STATION_MESSAGE, UNPAIRED_MESSAGE, type PairingService, parseCode } from './pairing.js';
import { parseChargingStation } from './charging-station.js';
import { bodyHash, idempotencyKey, ingestAction } from './ingest.js';
import type { SessionStore } from './sessions.js';
import type { OptimisationDriver } from './driver.js';
import type { ScspMetrics } from './metrics.js';

export interface PartnerRoutesDeps {
  tokens: TokenService;
  cpos: CpoRegistry;
  pairing: PairingService;
  sessions: SessionStore;
  driver: OptimisationDriver;
  clock: Clock;
  log: Logger;
  metrics: ScspMetrics;
}

/** A schema error for the answer (path, keyword, message; no schema internals). */
export function publicErrors(errors: readonly ErrorObject[]): Array<{ path: string; keyword: string; message: string; params: Record<string, unknown> }> {
  return errors.map((e) => ({ path: e.instancePath || '/', keyword: e.keyword, message: e.message ?? e.keyword, params: e.params as Record<string, unknown> }));
}

/** `{message}` errors and lenient JSON (an empty body is no body) for a plugin scope of seed routes. */
export function installSeedConventions(app: FastifyInstance, log: Logger): void {
  installMessageConventions(app, log, 'SCSP partner route');
}

export function registerPartnerRoutes(http: FastifyInstance, deps: PartnerRoutesDeps): void {
  void http.register(async (app) => {
    installSeedConventions(app, deps.log);
    app.addHook('onRequest', requireCpo(deps));

    const pair = async (req: FastifyRequest<{ Params: { protocol: string } }>, reply: FastifyReply) => {
      const cpo = cpoOf(req);
      const pp = req.params.protocol;
      if (!isPayloadProtocol(pp)) return reply.code(400).send({ message: `Unsupported payload protocol '${pp}': use ${PAYLOAD_PROTOCOLS.join(' or ')}` });
      const body = req.body as { code?: unknown; charging_station?: unknown } | undefined;
      if (!body || typeof body !== 'object' || Array.isArray(body)) return reply.code(400).send({ message: 'Body must be a JSON object {code, charging_station}' });
      const code = parseCode(body.code);
      if (!code.ok) return reply.code(400).send({ message: code.message });
      const station = parseChargingStation(body.charging_station);
      if (!station.ok) return reply.code(400).send({ message: station.message });
      const outcome = await deps.pairing.redeemScspCode(cpo, pp, code.code, station.value);
      if (outcome === 'incorrect') return reply.code(404).send({ message: INCORRECT_CODE_MESSAGE });
      if (outcome === 'conflict') return reply.code(409).send({ message: ALREADY_PAIRED_MESSAGE });
      return reply.code(200).send({ message: PAIRED_MESSAGE });
    };
    for (const url of ['/v1/scsp/:protocol/pair', '/v1/scsp/:protocol/pair/']) app.post(url, pair);

    const unpair = async (req: FastifyRequest<{ Params: { uid: string } }>, reply: FastifyReply) => {
      const done = await deps.pairing.unpairByCpo(cpoOf(req), req.params.uid);
      if (!done) return reply.code(404).send({ message: UNKNOWN_STATION_MESSAGE });
      return reply.code(200).send({ message: UNPAIRED_MESSAGE });
    };
    for (const url of ['/v1/scsp/chargingstations/:uid/unpair', '/v1/scsp/chargingstations/:uid/unpair/']) app.post(url, unpair);

    const event = async (req: FastifyRequest<{ Params: { uid: string; protocol: string; action: string } }>, reply: FastifyReply) => {
      const cpo = cpoOf(req);
      const { uid, protocol: pp, action } = req.params;
      if (!isPayloadProtocol(pp)) return reply.code(400).send({ message: `Unsupported payload protocol '${pp}': use ${PAYLOAD_PROTOCOLS.join(' or ')}` });
      const handler = ingestAction(pp, action);
      if (!handler) return reply.code(404).send({ message: `Unknown event '${action}' for payload protocol ${pp}` });
      const count = (result: string) => deps.metrics.events.inc({ protocol: pp, action, result });
      const station = await deps.pairing.station(cpo.id, uid);
      if (!station) {
        count('unknown_station');
        return reply.code(404).send({ message: UNKNOWN_STATION_MESSAGE });
      }
      const v = validatePayload(handler.schema.protocol, handler.schema.action, 'req', req.body);
      if (!v.ok) {
        count('invalid');
        deps.log.info({ cpoId: cpo.id, uid, action, pp, reason: v.message }, 'event refused: schema validation');
        return reply.code(400).send({ message: `Invalid ${action} payload (${handler.schema.protocol}): ${v.message}`, errors: publicErrors(v.errors) });
      }
      const header = req.headers['idempotency-key'];
      if (header !== undefined && (typeof header !== 'string' || header.length === 0 || header.length > 255)) {
        return reply.code(400).send({ message: 'Idempotency-Key must be 1–255 characters' });
      }
      const hash = bodyHash(pp, action, req.body);
      const { key, fromHeader } = idempotencyKey({ header, pp, action, uid, body: req.body, hash });
      const events = handler.events(req.body, deps.clock.now().toISOString());
      const out = await deps.sessions.ingest({ station: { cpoId: cpo.id, uid }, pp, action, body: req.body, key, keyFromHeader: fromHeader, hash, events });
      if (out.kind === 'conflict') {
        count('conflict');
        return reply.code(422).send({ message: 'Idempotency-Key was already used with a different payload' });
      }
      if (out.kind === 'duplicate') {
        count('duplicate');
        return reply.code(200).send({ message: 'OK', duplicate: true });
      }
      count('accepted');
      deps.log.debug({ cpoId: cpo.id, uid, action, pp, sessions: out.sessionIds }, 'event applied');
      deps.driver.touch({ cpoId: cpo.id, uid });
      return reply.code(200).send({ message: 'OK' });
    };
    for (const url of ['/v1/scsp/chargingstations/:uid/events/:protocol/:action', '/v1/scsp/chargingstations/:uid/events/:protocol/:action/']) app.post(url, event);
  });
}
