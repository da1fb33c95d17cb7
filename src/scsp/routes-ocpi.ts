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
import { bearerToken, safeEqual } from './secrets.js';

const STATUS: Record<string, number> = {
  BadRequest: 400,
  UnknownOcpiPartner: 404,
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

export function registerOcpiAdminRoutes(http: FastifyInstance, deps: { apiKey: string; ocpi: OcpiNode; log: Logger }): void {
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
      const mapped = mapError(err);
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
  });
}
