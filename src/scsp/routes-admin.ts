/**
 * The SCSP's admin API, `/api/v1/...` on the SCSP port: `X-API-Key: <AMPLINE_SCSP_API_KEY>` or
 * `Authorization: Bearer <AMPLINE_SCSP_API_KEY>`. Errors are `{"error": CODE, "message": …}`.
 *
 * | route | what |
 * |---|---|
 * | `GET /api/v1/cpos`, `GET /api/v1/cpos/{id}` | CPO clients (the CPO's token shown as `***`; secrets are never shown again); a single CPO also has `warnings` about its OCPI link when there are any |
 * | `POST /api/v1/cpos` → 201, `PUT /api/v1/cpos/{id}` → 200/201 | create / replace: `{id, name?, baseUrl, cpoToken, payloadProtocol?, clientId?, clientSecret?, apiKey?, enabled?, ocpiPartnerId?, profileRoute?}` (`profileRoute` `ocpp-format` default, or `ocpi` with `ocpiPartnerId`); answer `{cpo, credentials: {tokenUrl, clientId, clientSecret?, apiKey?}, warnings?}` — generated or new secrets are shown once; `warnings` say what the OCPI link lacks (unknown / unregistered OCPI partner, no chargingprofiles RECEIVER endpoint …) without refusing the record |
 * | `DELETE /api/v1/cpos/{id}` | 409 `CpoInUse` while it has paired stations |
 * | `POST /api/v1/pairing-codes` `{userId?, cpoId?, ttlS?}` → 201 `{code, expiresAt, userId, cpoId}` | an SCSP-issued code for a user |
 * | `POST /api/v1/cpos/{id}/pairings` `{code, payloadProtocol?, userId?}` → 201 `{station, refreshed}` | redeem a CPO-issued code at the CPO; 404 `IncorrectPairingCode`, 502 `CpoUnavailable` |
 * | `GET /api/v1/stations` (`cpoId`), `GET /api/v1/cpos/{id}/stations/{uid}` | paired stations with EVSE state, running sessions, site, last delivery |
 * | `DELETE /api/v1/cpos/{id}/stations/{uid}[?force=true]` | unpair: calls the CPO's unpair first (502 `CpoUnavailable` unless forced) |
 * | `POST /api/v1/cpos/{id}/stations/{uid}/replan` → 202 | re-plan now (throttled like any trigger) |
 * | `GET /api/v1/sessions` (`cpoId`, `uid`, `state`, `limit`, `offset`), `GET /api/v1/sessions/{id}` | session state, its plan and (running) the planner input in force |
 * | `GET/PUT/DELETE /api/v1/sessions/{id}/preferences`, `…/cpos/{id}/stations/{uid}/preferences`, `…/cpos/{id}/stations/{uid}/evses/{evseId}/preferences` | driver preferences (preferences.ts) |
 * | `GET /api/v1/profile-deliveries` (`cpoId`, `uid`, `status`, `limit`, `offset`) | every plan sent or being sent, with the CPO's answer |
 * | `GET /api/v1/sites`, `GET/PUT/DELETE /api/v1/sites/{id}` `{name?, maxPowerW, stations: [{cpoId, uid}]}` | shared site limits |
 *
 * Lists answer `{data, total, limit, offset}` (`limit` 1–500, default 50).
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Clock } from '../util/clock.js';
import type { Logger } from '../util/log.js';
import { type Cpo, type CpoRegistry, CpoInputError, isPayloadProtocol, parseCpo, publicCpo, PAYLOAD_PROTOCOLS } from './cpos.js';
import { type PairingService, type StationRecord, parseCode, UNPAIRED_MESSAGE } from './pairing.js';
import { type SessionStore, type StationKey, sessionView } from './sessions.js';
import type { PreferenceStore, PreferenceScope } from './preference-store.js';
import { PreferencesError, parsePreferences } from './preferences.js';
import type { ProfileDelivery } from './delivery.js';
import { SiteInputError, type SiteRegistry, parseSite } from './sites.js';
import type { OptimisationDriver } from './driver.js';
import { bearerToken, safeEqual } from './secrets.js';

export const ADMIN_ERRORS = {
  Unauthorized: 401,
  BadRequest: 400,
  NotFound: 404,
  UnknownCpo: 404,
  UnknownStation: 404,
  UnknownSession: 404,
  UnknownSite: 404,
  IncorrectPairingCode: 404,
  AlreadyExists: 409,
  CpoInUse: 409,
  CpoDisabled: 409,
  UnsupportedMediaType: 415,
  PayloadTooLarge: 413,
  CpoUnavailable: 502,
  Internal: 500,
} as const;

export type AdminErrorCode = keyof typeof ADMIN_ERRORS;

export class AdminError extends Error {
  constructor(
    readonly code: AdminErrorCode,
    message: string,
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = 'AdminError';
  }
}

export interface AdminRoutesDeps {
  apiKey: string;
  cpos: CpoRegistry;
  pairing: PairingService;
  sessions: SessionStore;
  preferences: PreferenceStore;
  delivery: ProfileDelivery;
  sites: SiteRegistry;
  driver: OptimisationDriver;
  clock: Clock;
  log: Logger;
  /** The token endpoint URL CPOs use (shown with their credentials). */
  tokenUrl: () => string;
  /** What a CPO record's OCPI link lacks (shown as `warnings`). */
  cpoWarnings?: (cpo: Cpo) => Promise<string[]>;
}

function page(q: Record<string, string | undefined>): { limit: number; offset: number } {
  const limit = q.limit === undefined ? 50 : Number(q.limit);
  const offset = q.offset === undefined ? 0 : Number(q.offset);
  if (!Number.isInteger(limit) || limit < 1 || limit > 500) throw new AdminError('BadRequest', 'limit must be an integer between 1 and 500');
  if (!Number.isInteger(offset) || offset < 0) throw new AdminError('BadRequest', 'offset must be a non-negative integer');
  return { limit, offset };
}

const only = <T extends string>(v: string | undefined, allowed: readonly T[], name: string): T | undefined => {
  if (v === undefined) return undefined;
  if (!(allowed as readonly string[]).includes(v)) throw new AdminError('BadRequest', `${name} must be one of ${allowed.join(', ')}`);
  return v as T;
};

export function registerAdminRoutes(http: FastifyInstance, deps: AdminRoutesDeps): void {
  void http.register(async (app) => {
    app.addHook('onRequest', async (req, reply) => {
      const header = req.headers['x-api-key'];
      const key = typeof header === 'string' ? header : bearerToken(req.headers.authorization);
      if (!key || !safeEqual(key, deps.apiKey)) {
        return reply.code(401).header('www-authenticate', 'Bearer realm="ampline-scsp-admin"').send({ error: 'Unauthorized', message: 'A valid X-API-Key (AMPLINE_SCSP_API_KEY) is required' });
      }
      return undefined;
    });
    app.setErrorHandler((err: Error & { statusCode?: number; code?: string }, req, reply) => {
      if (err instanceof AdminError) return reply.code(ADMIN_ERRORS[err.code]).send({ error: err.code, message: err.message, ...err.details });
      if (err instanceof CpoInputError || err instanceof PreferencesError || err instanceof SiteInputError) return reply.code(400).send({ error: 'BadRequest', message: err.message });
      const status = err.statusCode ?? 500;
      if (status === 415) return reply.code(415).send({ error: 'UnsupportedMediaType', message: err.message });
      if (status === 413) return reply.code(413).send({ error: 'PayloadTooLarge', message: err.message });
      if (status >= 400 && status < 500) return reply.code(400).send({ error: 'BadRequest', message: err.message });
      deps.log.error({ err, method: req.method, url: req.url.split('?')[0] }, 'admin API failed');
      return reply.code(500).send({ error: 'Internal', message: 'Internal error' });
    });

    const cpoOr404 = async (id: string) => {
      const c = await deps.cpos.get(id);
      if (!c) throw new AdminError('UnknownCpo', `Unknown CPO '${id}'`);
      return c;
    };
    const stationOr404 = async (cpoId: string, uid: string) => {
      const s = await deps.pairing.station(cpoId, uid);
      if (!s) throw new AdminError('UnknownStation', `No station '${uid}' of CPO '${cpoId}' is paired`);
      return s;
    };
    const sessionOr404 = async (id: string) => {
      const s = await deps.sessions.get(id);
      if (!s) throw new AdminError('UnknownSession', `Unknown session '${id}'`);
      return s;
    };

    // ── CPOs ──────────────────────────────────────────────────────────────────────────────
    const warningsOf = async (cpo: Cpo): Promise<{ warnings?: string[] }> => {
      const w = deps.cpoWarnings ? await deps.cpoWarnings(cpo) : [];
      return w.length > 0 ? { warnings: w } : {};
    };
    const withCredentials = async (out: Awaited<ReturnType<CpoRegistry['upsert']>>) => ({
      cpo: publicCpo(out.cpo),
      credentials: { tokenUrl: deps.tokenUrl(), ...out.credentials },
      ...(await warningsOf(out.cpo)),
    });
    app.get('/api/v1/cpos', async () => {
      const list = await deps.cpos.list();
      return { data: list.map(publicCpo), total: list.length };
    });
    app.post('/api/v1/cpos', async (req, reply) => {
      const input = parseCpo(req.body);
      if (await deps.cpos.get(input.id)) throw new AdminError('AlreadyExists', `CPO '${input.id}' exists; use PUT /api/v1/cpos/${input.id} to replace it`);
      const out = await deps.cpos.upsert(input);
      deps.log.info({ cpoId: out.cpo.id }, 'CPO created');
      return reply.code(201).send(await withCredentials(out));
    });
    app.get<{ Params: { id: string } }>('/api/v1/cpos/:id', async (req) => {
      const cpo = await cpoOr404(req.params.id);
      return { ...publicCpo(cpo), ...(await warningsOf(cpo)) };
    });
    app.put<{ Params: { id: string } }>('/api/v1/cpos/:id', async (req, reply) => {
      const body = req.body && typeof req.body === 'object' && !Array.isArray(req.body) ? { ...(req.body as object), id: (req.body as { id?: unknown }).id ?? req.params.id } : req.body;
      const input = parseCpo(body);
      if (input.id !== req.params.id) throw new AdminError('BadRequest', 'id in the body differs from the path');
      const out = await deps.cpos.upsert(input);
      deps.log.info({ cpoId: out.cpo.id, created: out.created }, 'CPO saved');
      return reply.code(out.created ? 201 : 200).send(await withCredentials(out));
    });
    app.delete<{ Params: { id: string } }>('/api/v1/cpos/:id', async (req, reply) => {
      await cpoOr404(req.params.id);
      const paired = await deps.pairing.stations({ cpoId: req.params.id });
      if (paired.length > 0) throw new AdminError('CpoInUse', `CPO '${req.params.id}' has ${paired.length} paired station(s); unpair them first`);
      await deps.cpos.remove(req.params.id);
      return reply.code(204).send();
    });

    // ── pairing ───────────────────────────────────────────────────────────────────────────
    app.post('/api/v1/pairing-codes', async (req, reply) => {
      const b = (req.body ?? {}) as { userId?: unknown; cpoId?: unknown; ttlS?: unknown };
      if (typeof b !== 'object' || Array.isArray(b)) throw new AdminError('BadRequest', 'body must be a JSON object');
      if (b.userId !== undefined && (typeof b.userId !== 'string' || b.userId.length > 200)) throw new AdminError('BadRequest', 'userId must be a string of at most 200 characters');
      if (b.cpoId !== undefined && typeof b.cpoId !== 'string') throw new AdminError('BadRequest', 'cpoId must be a string');
      if (b.ttlS !== undefined && (typeof b.ttlS !== 'number' || !Number.isInteger(b.ttlS) || b.ttlS < 30 || b.ttlS > 7 * 86400)) throw new AdminError('BadRequest', 'ttlS must be an integer between 30 and 604800');
      if (typeof b.cpoId === 'string') await cpoOr404(b.cpoId);
      const code = await deps.pairing.issueCode({
        ...(typeof b.userId === 'string' ? { userId: b.userId } : {}),
        ...(typeof b.cpoId === 'string' ? { cpoId: b.cpoId } : {}),
        ...(typeof b.ttlS === 'number' ? { ttlS: b.ttlS } : {}),
      });
      return reply.code(201).send(code);
    });
    app.post<{ Params: { id: string } }>('/api/v1/cpos/:id/pairings', async (req, reply) => {
      const cpo = await cpoOr404(req.params.id);
      if (!cpo.enabled) throw new AdminError('CpoDisabled', `CPO '${cpo.id}' is disabled`);
      const b = (req.body ?? {}) as { code?: unknown; payloadProtocol?: unknown; userId?: unknown };
      const code = parseCode(b.code);
      if (!code.ok) throw new AdminError('BadRequest', code.message);
      const pp = b.payloadProtocol ?? cpo.payloadProtocol;
      if (!isPayloadProtocol(pp)) throw new AdminError('BadRequest', `payloadProtocol must be one of ${PAYLOAD_PROTOCOLS.join(', ')}`);
      if (b.userId !== undefined && typeof b.userId !== 'string') throw new AdminError('BadRequest', 'userId must be a string');
      const out = await deps.pairing.pairWithCpoCode(cpo, pp, code.code, typeof b.userId === 'string' ? b.userId : undefined);
      switch (out.kind) {
        case 'paired':
          return reply.code(201).send({ station: out.station, refreshed: out.refreshed });
        case 'incorrect':
          throw new AdminError('IncorrectPairingCode', 'The CPO does not know this code (wrong, expired or used)');
        case 'invalid':
          throw new AdminError('CpoUnavailable', out.message);
        case 'unavailable':
          throw new AdminError('CpoUnavailable', `The CPO answered ${out.status === 0 ? 'nothing' : out.status}: ${out.message}`, { cpoStatus: out.status });
      }
    });

    // ── stations ──────────────────────────────────────────────────────────────────────────
    const stationView = async (s: StationRecord, detail: boolean) => {
      const key: StationKey = { cpoId: s.cpoId, uid: s.uid };
      const site = await deps.sites.siteOf(key);
      const active = await deps.sessions.active([key]);
      const base = { ...s, site: site ? { id: site.id, maxPowerW: site.maxPowerW } : null, activeSessions: active.length };
      if (!detail) return base;
      const [evses, deliveries] = await Promise.all([deps.sessions.evses(key), deps.delivery.list({ cpoId: s.cpoId, uid: s.uid, limit: 5 })]);
      return {
        ...base,
        activeSessions: active.map(sessionView),
        evses: evses.map((e) => ({ evseId: e.evse_id, status: e.status, statusAt: e.status_at, meterWh: e.meter_wh, powerW: e.power_w, soc: e.soc, meterAt: e.meter_at })),
        recentDeliveries: deliveries.rows,
      };
    };
    app.get<{ Querystring: { cpoId?: string } }>('/api/v1/stations', async (req) => {
      const list = await deps.pairing.stations(req.query.cpoId !== undefined ? { cpoId: req.query.cpoId } : {});
      return { data: await Promise.all(list.map((s) => stationView(s, false))), total: list.length };
    });
    app.get<{ Params: { id: string; uid: string } }>('/api/v1/cpos/:id/stations/:uid', async (req) => stationView(await stationOr404(req.params.id, req.params.uid), true));
    app.delete<{ Params: { id: string; uid: string }; Querystring: { force?: string } }>('/api/v1/cpos/:id/stations/:uid', async (req) => {
      const cpo = await cpoOr404(req.params.id);
      const out = await deps.pairing.unpairAtCpo(cpo, req.params.uid, { force: req.query.force === 'true' });
      if (out.kind === 'unknown') throw new AdminError('UnknownStation', `No station '${req.params.uid}' of CPO '${cpo.id}' is paired`);
      if (out.kind === 'unavailable') {
        throw new AdminError('CpoUnavailable', `The CPO answered ${out.status === 0 ? 'nothing' : out.status} (${out.message}); the pairing is kept (force=true unpairs anyway)`, { cpoStatus: out.status });
      }
      return { message: UNPAIRED_MESSAGE, cpoStatus: out.cpoStatus, forced: out.forced };
    });
    app.post<{ Params: { id: string; uid: string } }>('/api/v1/cpos/:id/stations/:uid/replan', async (req, reply) => {
      const s = await stationOr404(req.params.id, req.params.uid);
      deps.driver.touch({ cpoId: s.cpoId, uid: s.uid });
      return reply.code(202).send({ message: 'Re-plan scheduled' });
    });

    // ── sessions ──────────────────────────────────────────────────────────────────────────
    app.get<{ Querystring: Record<string, string | undefined> }>('/api/v1/sessions', async (req) => {
      const p = page(req.query);
      const state = only(req.query.state, ['active', 'ended'] as const, 'state');
      const { rows, total } = await deps.sessions.list({
        ...p,
        ...(req.query.cpoId !== undefined ? { cpoId: req.query.cpoId } : {}),
        ...(req.query.uid !== undefined ? { uid: req.query.uid } : {}),
        ...(state !== undefined ? { state } : {}),
      });
      return { data: rows.map(sessionView), total, ...p };
    });
    app.get<{ Params: { id: string } }>('/api/v1/sessions/:id', async (req) => {
      const s = await sessionOr404(req.params.id);
      const view = sessionView(s);
      if (s.state !== 'active') return view;
      const station = await deps.pairing.station(s.cpo_id, s.uid);
      if (!station) return view;
      const input = await deps.driver.inputOf(s, station, deps.clock.now());
      return { ...view, planInput: { ...input, arrival: input.arrival.toISOString(), departure: input.departure.toISOString() } };
    });

    // ── preferences ───────────────────────────────────────────────────────────────────────
    const prefRoutes = <P>(path: string, scopeOf: (params: P) => Promise<{ scope: PreferenceScope; station?: StationKey }>) => {
      app.get<{ Params: P }>(path, async (req) => {
        const { scope } = await scopeOf(req.params as P);
        return { preferences: (await deps.preferences.get(scope)) ?? {} };
      });
      app.put<{ Params: P }>(path, async (req) => {
        const { scope, station } = await scopeOf(req.params as P);
        const prefs = parsePreferences(req.body, scope.level);
        await deps.preferences.set(scope, prefs);
        if (station) deps.driver.touch(station);
        return { preferences: prefs };
      });
      app.delete<{ Params: P }>(path, async (req, reply) => {
        const { scope, station } = await scopeOf(req.params as P);
        await deps.preferences.remove(scope);
        if (station) deps.driver.touch(station);
        return reply.code(204).send();
      });
    };
    prefRoutes<{ id: string }>('/api/v1/sessions/:id/preferences', async (p) => {
      const s = await sessionOr404(p.id);
      return { scope: { level: 'session', sessionId: s.id }, station: { cpoId: s.cpo_id, uid: s.uid } };
    });
    prefRoutes<{ id: string; uid: string }>('/api/v1/cpos/:id/stations/:uid/preferences', async (p) => {
      const s = await stationOr404(p.id, p.uid);
      return { scope: { level: 'station', cpoId: s.cpoId, uid: s.uid }, station: { cpoId: s.cpoId, uid: s.uid } };
    });
    prefRoutes<{ id: string; uid: string; evseId: string }>('/api/v1/cpos/:id/stations/:uid/evses/:evseId/preferences', async (p) => {
      const s = await stationOr404(p.id, p.uid);
      const evseId = Number(p.evseId);
      if (!Number.isInteger(evseId) || evseId < 1) throw new AdminError('BadRequest', 'evseId must be an integer ≥ 1');
      return { scope: { level: 'evse', cpoId: s.cpoId, uid: s.uid, evseId }, station: { cpoId: s.cpoId, uid: s.uid } };
    });

    // ── deliveries ────────────────────────────────────────────────────────────────────────
    app.get<{ Querystring: Record<string, string | undefined> }>('/api/v1/profile-deliveries', async (req) => {
      const p = page(req.query);
      const status = only(req.query.status, ['pending', 'retrying', 'delivered', 'failed', 'superseded', 'cancelled', 'abandoned'] as const, 'status');
      const { rows, total } = await deps.delivery.list({
        ...p,
        ...(req.query.cpoId !== undefined ? { cpoId: req.query.cpoId } : {}),
        ...(req.query.uid !== undefined ? { uid: req.query.uid } : {}),
        ...(status !== undefined ? { status } : {}),
      });
      return { data: rows, total, ...p };
    });

    // ── sites ─────────────────────────────────────────────────────────────────────────────
    const touchAll = (list: readonly StationKey[]) => {
      for (const st of list) deps.driver.touch(st);
    };
    app.get('/api/v1/sites', async () => {
      const list = await deps.sites.list();
      return { data: list, total: list.length };
    });
    app.get<{ Params: { id: string } }>('/api/v1/sites/:id', async (req) => {
      const s = await deps.sites.get(req.params.id);
      if (!s) throw new AdminError('UnknownSite', `Unknown site '${req.params.id}'`);
      return s;
    });
    app.put<{ Params: { id: string } }>('/api/v1/sites/:id', async (req: FastifyRequest<{ Params: { id: string } }>, reply: FastifyReply) => {
      if (!/^[A-Za-z0-9._-]{1,64}$/.test(req.params.id)) throw new AdminError('BadRequest', 'site id must be 1–64 letters, digits, ".", "_" or "-"');
      const out = await deps.sites.upsert(req.params.id, parseSite(req.body));
      touchAll(out.touched);
      return reply.code(out.created ? 201 : 200).send(out.site);
    });
    app.delete<{ Params: { id: string } }>('/api/v1/sites/:id', async (req, reply) => {
      const members = await deps.sites.remove(req.params.id);
      if (!members) throw new AdminError('UnknownSite', `Unknown site '${req.params.id}'`);
      touchAll(members);
      return reply.code(204).send();
    });
  });
}
