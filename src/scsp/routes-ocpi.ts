/**
 * The SCSP's OCPI partner management, `/api/v1/ocpi/...` on the SCSP port, with the admin key like the
 * rest of its admin API (`X-API-Key` or `Authorization: Bearer`). Errors are `{"error", "message"}`.
 *
 * | route | what |
 * |---|---|
 * | `GET /api/v1/ocpi/partners`, `GET /api/v1/ocpi/partners/{id}` | OCPI partners, tokens masked |
 * | `POST /api/v1/ocpi/partners` `{id, name?}` → 201 `{partner, tokenA, versionsUrl}` | a CPO will register with us (token A shown once) |
 * | `POST /api/v1/ocpi/partners/{id}/token-a` | a new token A for a partner that is not registered |
 * | `POST /api/v1/ocpi/registrations` `{versionsUrl, token, id?, name?, tokenEncoding?, auth?}` → 201 partner | register with a CPO |
 * | `POST /api/v1/ocpi/partners/{id}/rotate` | PUT new credentials to the partner |
 * | `DELETE /api/v1/ocpi/partners/{id}[?force=true]` → `{id, peerInformed}` | unregister at the partner, then forget it |
 * | `GET /api/v1/ocpi/sessions` (`cpoId`, `uid`, `status`, `limit`, `offset`) | OCPI Sessions CPOs pushed: our copy, the station/EVSE/SCSP session it maps to (or why not), the profile state and the CPO's ActiveChargingProfile |
 * | `GET /api/v1/ocpi/partners/{id}/sessions/{cc}/{pid}/{sessionId}` | one of them |
 * | `POST …/sessions/{cc}/{pid}/{sessionId}/active-profile?duration=900` | ask the CPO for the session's ActiveChargingProfile (OCPI GET; waits for the result) → `{outcome, profile?}` |
 * | `DELETE …/sessions/{cc}/{pid}/{sessionId}/profile` | remove the profile we set (OCPI DELETE; waits for the ClearProfileResult) → `{outcome}` |
 *
 * 404 `UnknownOcpiPartner`, 409 `AlreadyExists` / `OcpiPartnerState`, 502 `OcpiRegistrationFailed`
 * (`reason`, OCPI `statusCode`: 3001 unreachable, 3002 no mutual version, 3003 endpoints missing).
 */
import type { FastifyInstance } from 'fastify';
import type { Logger } from '../util/log.js';
import type { OcpiNode } from '../ocpi/node.js';
import { OcpiAdminInputError, parseNewPartner, parsePartnerId, parseRegistration, partnerView } from '../ocpi/admin.js';
import { PartnerStateError, RegistrationError, UnknownPartnerError } from '../ocpi/credentials.js';
import { DuplicatePartnerError } from '../ocpi/storage.js';
import type { OcpiProfileSender, OcpiScspStore } from '../ocpi/scsp/index.js';
import { ocpiSessionView, sessionKeyOf } from '../ocpi/scsp/store.js';
import type { CpoRegistry } from './cpos.js';
import { bearerToken, safeEqual } from './secrets.js';

const STATUS: Record<string, number> = {
  BadRequest: 400,
  UnknownOcpiPartner: 404,
  UnknownOcpiSession: 404,
  NoCpo: 409,
  AlreadyExists: 409,
  OcpiPartnerState: 409,
  OcpiRegistrationFailed: 502,
};

function mapError(err: unknown): { code: string; message: string; details?: Record<string, unknown> } | undefined {
  if (err instanceof OcpiAdminInputError) return { code: 'BadRequest', message: err.message };
  if (err instanceof UnknownPartnerError) return { code: 'UnknownOcpiPartner', message: err.message };
  if (err instanceof DuplicatePartnerError) return { code: 'AlreadyExists', message: `OCPI partner '${err.partnerId}' exists` };
  if (err instanceof PartnerStateError) return { code: 'OcpiPartnerState', message: err.message, details: { state: err.state } };
  if (err instanceof RegistrationError) {
    return {
      code: 'OcpiRegistrationFailed',
      message: err.message,
      details: {
        reason: err.reason,
        statusCode: err.statusCode,
        ...(err.peerHttpStatus !== undefined ? { peerHttpStatus: err.peerHttpStatus } : {}),
        ...(err.peerStatusCode !== undefined ? { peerStatusCode: err.peerStatusCode } : {}),
      },
    };
  }
  return undefined;
}

class AdminOcpiError extends Error {
  override name = 'AdminOcpiError';
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export function registerOcpiAdminRoutes(
  http: FastifyInstance,
  deps: { apiKey: string; ocpi: OcpiNode; log: Logger; scsp?: { cpos: CpoRegistry; store: OcpiScspStore; sender: OcpiProfileSender } },
): void {
  const node = deps.ocpi;
  void http.register(async (app) => {
    app.addHook('onRequest', async (req, reply) => {
      const header = req.headers['x-api-key'];
      const key = typeof header === 'string' ? header : bearerToken(req.headers.authorization);
      if (!key || !safeEqual(key, deps.apiKey)) {
        return reply.code(401).header('www-authenticate', 'Bearer realm="ampline-scsp-admin"').send({ error: 'Unauthorized', message: 'A valid X-API-Key (AMPLINE_SCSP_API_KEY) is required' });
      }
      return undefined;
    });
    app.setErrorHandler((err: Error & { statusCode?: number }, req, reply) => {
      const mapped = err instanceof AdminOcpiError ? { code: err.code, message: err.message, details: {} } : mapError(err);
      if (mapped) return reply.code(STATUS[mapped.code]!).send({ error: mapped.code, message: mapped.message, ...mapped.details });
      const status = err.statusCode ?? 500;
      if (status >= 400 && status < 500) return reply.code(status === 413 || status === 415 ? status : 400).send({ error: 'BadRequest', message: err.message });
      deps.log.error({ err, method: req.method, url: req.url.split('?')[0] }, 'OCPI admin API failed');
      return reply.code(500).send({ error: 'Internal', message: 'Internal error' });
    });

    const tokenAnswer = (r: { partner: Parameters<typeof partnerView>[0]; tokenA: string }) => ({ partner: partnerView(r.partner), tokenA: r.tokenA, versionsUrl: node.versionsUrl() });

    app.get('/api/v1/ocpi/partners', async () => {
      const list = await node.partners.list();
      return { data: list.map(partnerView), total: list.length };
    });
    app.get<{ Params: { id: string } }>('/api/v1/ocpi/partners/:id', async (req) => {
      const p = await node.partners.get(parsePartnerId(req.params.id));
      if (!p) throw new UnknownPartnerError(req.params.id);
      return partnerView(p);
    });
    app.post('/api/v1/ocpi/partners', async (req, reply) => {
      const r = await node.credentials.createPartner(parseNewPartner(req.body));
      return reply.code(201).header('cache-control', 'no-store').send(tokenAnswer(r));
    });
    app.post<{ Params: { id: string } }>('/api/v1/ocpi/partners/:id/token-a', async (req, reply) => {
      const r = await node.credentials.reissueTokenA(parsePartnerId(req.params.id));
      return reply.header('cache-control', 'no-store').send(tokenAnswer(r));
    });
    app.post('/api/v1/ocpi/registrations', async (req, reply) => {
      const p = await node.credentials.registerWith(parseRegistration(req.body));
      return reply.code(201).header('location', `/api/v1/ocpi/partners/${encodeURIComponent(p.id)}`).send(partnerView(p));
    });
    app.post<{ Params: { id: string } }>('/api/v1/ocpi/partners/:id/rotate', async (req) => partnerView(await node.credentials.rotate(parsePartnerId(req.params.id))));
    app.delete<{ Params: { id: string }; Querystring: { force?: string } }>('/api/v1/ocpi/partners/:id', async (req) => {
      const id = parsePartnerId(req.params.id);
      const r = await node.credentials.unregister(id, { force: req.query.force === 'true' });
      return { id, peerInformed: r.peerInformed };
    });

    const scsp = deps.scsp;
    if (!scsp) return;
    app.get<{ Querystring: Record<string, string | undefined> }>('/api/v1/ocpi/sessions', async (req) => {
      const limit = req.query.limit === undefined ? 50 : Number(req.query.limit);
      const offset = req.query.offset === undefined ? 0 : Number(req.query.offset);
      if (!Number.isInteger(limit) || limit < 1 || limit > 500) throw new AdminOcpiError('BadRequest', 'limit must be an integer between 1 and 500');
      if (!Number.isInteger(offset) || offset < 0) throw new AdminOcpiError('BadRequest', 'offset must be a non-negative integer');
      const { rows, total } = await scsp.store.list({
        limit,
        offset,
        ...(req.query.cpoId !== undefined ? { cpoId: req.query.cpoId } : {}),
        ...(req.query.uid !== undefined ? { uid: req.query.uid } : {}),
        ...(req.query.status !== undefined ? { status: req.query.status } : {}),
      });
      return { data: rows.map(ocpiSessionView), total, limit, offset };
    });
    type SessionParams = { id: string; cc: string; pid: string; sid: string };
    const sessionOr404 = async (p: SessionParams) => {
      const row = await scsp.store.session(sessionKeyOf(p.id, p.cc, p.pid, p.sid));
      if (!row) throw new AdminOcpiError('UnknownOcpiSession', `No OCPI session ${p.cc}/${p.pid}/${p.sid} from partner '${p.id}'`);
      const cpo = await scsp.cpos.get(row.cpo_id);
      if (!cpo) throw new AdminOcpiError('NoCpo', `The session's CPO '${row.cpo_id}' no longer exists`);
      return { row, cpo };
    };
    const base = '/api/v1/ocpi/partners/:id/sessions/:cc/:pid/:sid';
    app.get<{ Params: SessionParams }>(base, async (req) => ocpiSessionView((await sessionOr404(req.params)).row));
    app.post<{ Params: SessionParams; Querystring: { duration?: string } }>(`${base}/active-profile`, async (req) => {
      const duration = req.query.duration === undefined ? 900 : Number(req.query.duration);
      if (!Number.isInteger(duration) || duration < 1 || duration > 86_400) throw new AdminOcpiError('BadRequest', 'duration must be an integer number of seconds between 1 and 86400');
      const { row, cpo } = await sessionOr404(req.params);
      return scsp.sender.activeProfile(cpo, row, duration);
    });
    app.delete<{ Params: SessionParams }>(`${base}/profile`, async (req) => {
      const { row, cpo } = await sessionOr404(req.params);
      if (!row.scsp_session_id) throw new AdminOcpiError('UnknownOcpiSession', `OCPI session ${row.session_id} is not linked to an SCSP session`);
      const outcome = await scsp.sender.clear({ cpo, uid: row.uid ?? row.location_id, payloadProtocol: cpo.payloadProtocol }, { id: row.scsp_session_id });
      return { outcome };
    });
  });
}
