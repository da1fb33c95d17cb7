/**
 * Seed 004: `POST /api/v1/ocpp/charger-connect` (a third party's "Chargee" API, documented only by an
 * auto-generated ASP.NET help page). Interpretation, written down in docs/charger-connect.md:
 * the call binds `chargerId` to the OCPP server node at `serverIpAddress:serverRestApiPort` and returns
 * the charger's current status as an `OcppStatusResponse` built from its latest StatusNotification;
 * `tokenId` is the caller's API token (a management API key with `command` scope), `id` is a request
 * GUID echoed back.
 * Bodies: JSON (`application/json`, `text/json`) or XML (`application/xml`, `text/xml`); the answer uses
 * XML when the Accept header asks for it, or when the request was XML and Accept does not say.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Kysely } from 'kysely';
import { XMLBuilder, XMLParser, XMLValidator } from 'fast-xml-parser';
import type { Database } from '../store/schema.js';
import type { OcppTransport } from '../ocpp/transport.js';
import type { Clock } from '../util/clock.js';
import { ApiError } from './errors.js';
import { type ApiKeyAuth, scopeAllows } from './v1/auth.js';

const GUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;
const XML_NS = 'http://schemas.datacontract.org/2004/07/IO.Swagger.Models';
const XML_TYPES = ['application/xml', 'text/xml'];

export interface ChargerConnectRequest {
  id: string;
  chargerId: string;
  tokenId: string | null;
  serverIpAddress: string | null;
  serverRestApiPort: number | null;
}

export interface OcppStatusResponse {
  id: string;
  chargerId: string;
  connectorId: number | null;
  errorCode: string | null;
  status: string | null;
  info: string | null;
}

/** Validate a parsed body (JSON object or the XML element's children) into a request. */
export function parseChargerConnect(body: unknown): ChargerConnectRequest {
  if (!body || typeof body !== 'object' || Array.isArray(body)) throw new ApiError('BadRequest', 'Body must be an OcppChargerConnectRequest object');
  const b = body as Record<string, unknown>;
  const str = (k: string, max = 255): string | null => {
    const v = b[k];
    if (v === undefined || v === null || v === '') return null;
    if (typeof v !== 'string' && typeof v !== 'number') throw new ApiError('BadRequest', `${k} must be a string`);
    const s = String(v);
    if (s.length > max) throw new ApiError('BadRequest', `${k} is longer than ${max} characters`);
    return s;
  };
  const id = str('id', 36);
  if (!id || !GUID.test(id)) throw new ApiError('BadRequest', 'id is required and must be a GUID');
  const chargerId = str('chargerId', 48);
  if (!chargerId) throw new ApiError('MissingParameter', 'chargerId is required');
  let port: number | null = null;
  if (b.serverRestApiPort !== undefined && b.serverRestApiPort !== null && b.serverRestApiPort !== '') {
    port = Number(b.serverRestApiPort);
    if (!Number.isInteger(port) || port < 0 || port > 65535) throw new ApiError('BadRequest', 'serverRestApiPort must be an integer between 0 and 65535');
  }
  return { id, chargerId, tokenId: str('tokenId'), serverIpAddress: str('serverIpAddress', 64), serverRestApiPort: port };
}

const xmlParser = new XMLParser({ ignoreAttributes: true, parseTagValue: false, removeNSPrefix: true, trimValues: true });
const xmlBuilder = new XMLBuilder({ ignoreAttributes: false, format: false, suppressEmptyNode: false });

export function parseXmlBody(text: string): unknown {
  const valid = XMLValidator.validate(text);
  if (valid !== true) throw new ApiError('BadRequest', `Malformed XML: ${valid.err.msg} (line ${valid.err.line})`);
  const doc = xmlParser.parse(text) as Record<string, unknown>;
  const root = doc.OcppChargerConnectRequest;
  if (!root || typeof root !== 'object') throw new ApiError('BadRequest', 'XML root element must be OcppChargerConnectRequest');
  return root;
}

export function toXml(res: OcppStatusResponse): string {
  // Element order as the help page shows it (DataContract serializer: alphabetical).
  const ordered = {
    '@_xmlns:i': 'http://www.w3.org/2001/XMLSchema-instance',
    '@_xmlns': XML_NS,
    chargerId: res.chargerId,
    connectorId: res.connectorId ?? '',
    errorCode: res.errorCode ?? '',
    id: res.id,
    info: res.info ?? '',
    status: res.status ?? '',
  };
  return xmlBuilder.build({ OcppStatusResponse: ordered }) as string;
}

function wantsXml(req: FastifyRequest): boolean {
  const accept = String(req.headers.accept ?? '');
  if (XML_TYPES.some((t) => accept.includes(t))) return true;
  if (accept.includes('json')) return false;
  const ct = String(req.headers['content-type'] ?? '');
  return XML_TYPES.some((t) => ct.startsWith(t));
}

export function registerChargerConnect(
  http: FastifyInstance,
  deps: { db: Kysely<Database>; transport: OcppTransport; clock: Clock; keys: ApiKeyAuth },
): void {
  // XML bodies arrive as text; JSON also under the legacy text/json media type.
  http.addContentTypeParser(['application/xml', 'text/xml'], { parseAs: 'string' }, (_req, body, done) => done(null, body));
  http.addContentTypeParser('text/json', { parseAs: 'string' }, (_req, body, done) => {
    try {
      done(null, JSON.parse(body as string));
    } catch {
      const err = new ApiError('BadRequest', 'Malformed JSON body');
      done(err as unknown as Error, undefined);
    }
  });

  const send = (req: FastifyRequest, reply: FastifyReply, code: number, body: OcppStatusResponse | Record<string, unknown>) => {
    if (wantsXml(req) && 'chargerId' in body && 'status' in body) return reply.code(code).type('application/xml; charset=utf-8').send(toXml(body as OcppStatusResponse));
    return reply.code(code).send(body);
  };

  http.post('/api/v1/ocpp/charger-connect', async (req, reply) => {
    let echoId: string | undefined;
    try {
      const ct = String(req.headers['content-type'] ?? '');
      const raw = XML_TYPES.some((t) => ct.startsWith(t)) ? parseXmlBody(String(req.body ?? '')) : req.body;
      if (raw && typeof raw === 'object' && typeof (raw as { id?: unknown }).id === 'string') echoId = (raw as { id: string }).id;
      const r = parseChargerConnect(raw);
      const principal = await deps.keys.authenticate(r.tokenId ?? undefined).catch(() => {
        throw new ApiError('Unauthorized', 'tokenId is missing or not valid');
      });
      if (!scopeAllows(principal.scopes, 'command')) throw new ApiError('Forbidden', "This token lacks the 'command' scope");
      const station = await deps.db.selectFrom('stations').select(['id', 'online', 'disconnected_at']).where('id', '=', r.chargerId).executeTakeFirst();
      if (!station) throw new ApiError('UnknownStation', `Unknown charger '${r.chargerId}'`);
      const now = deps.clock.now().toISOString();
      await deps.db
        .insertInto('charger_routes')
        .values({ charger_id: r.chargerId, server_ip: r.serverIpAddress, server_port: r.serverRestApiPort, request_id: r.id, updated_at: now })
        .onConflict((oc) => oc.column('charger_id').doUpdateSet({ server_ip: r.serverIpAddress, server_port: r.serverRestApiPort, request_id: r.id, updated_at: now }))
        .execute();
      // The latest StatusNotification of a real connector (connector 0 only when nothing else is known).
      const latest = await deps.db
        .selectFrom('connectors')
        .select(['evse_id', 'connector_id', 'ocpp_status', 'error_code', 'info', 'status_at'])
        .where('station_id', '=', r.chargerId)
        .orderBy((eb) => eb.case().when('evse_id', '>', 0).then(0).else(1).end())
        .orderBy('status_at', 'desc')
        .executeTakeFirst();
      const online = deps.transport.get(r.chargerId) !== undefined;
      const res: OcppStatusResponse = {
        id: r.id,
        chargerId: r.chargerId,
        connectorId: latest ? (latest.evse_id === 0 ? 0 : latest.evse_id) : null,
        errorCode: latest ? (latest.error_code ?? 'NoError') : null,
        status: latest?.ocpp_status ?? null,
        info: online ? (latest?.info ?? null) : `charger not connected${station.disconnected_at ? ` since ${station.disconnected_at}` : ''}`,
      };
      return send(req, reply, 200, res);
    } catch (err) {
      const e = err instanceof ApiError ? err : new ApiError('Internal', 'Internal error');
      if (e.code === 'Internal') req.log.error({ err }, 'charger-connect failed');
      return reply.code(e.status).send({ error: e.code, message: e.message, ...(echoId ? { id: echoId } : {}) });
    }
  });
}
