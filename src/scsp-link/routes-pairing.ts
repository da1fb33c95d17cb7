/**
 * The pairing routes an SCSP calls on Ampline (seed 000; protocols.md §1.2, §1.4):
 *
 * | route | answers |
 * |---|---|
 * | `POST /v1/cpo/{payload-protocol}/pair` `{"code": "362821"}` | 200 `{charging_station}`; 404 `{"message": "Incorrect Code, please check the code and try again."}` (wrong, expired or used code); 409 `{message}` station paired with another SCSP; 400 `{message}` bad body or payload protocol; 401 |
 * | `POST /v1/cpo/chargingstations/{uid}/unpair` (no body) | 200 `{"message": "Charging station successfully unpaired."}`; 404 `{message}` when this SCSP has no pairing for uid; 401 |
 *
 * Both also answer with a trailing slash. Errors use the seed's `{message}` shape, not the /api/v1 catalogue. `{payload-protocol}` is `ocpp1.6`
 * or `ocpp2.0.1` and is recorded with the pairing. A code may be sent as a string (as in the seed) or,
 * leniently, as an integer (zero-padded to 6 digits); surrounding spaces are ignored.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from '../util/log.js';
import { PAYLOAD_PROTOCOLS, type PartnerService, type PayloadProtocol } from './partners.js';
import { PairingConflictError, PayloadProtocolMismatchError, type PairingService } from './pairing.js';
import { installCpoConventions, partnerOf, requirePartner } from './inbound-auth.js';

export const INCORRECT_CODE_MESSAGE = 'Incorrect Code, please check the code and try again.';
export const UNPAIRED_MESSAGE = 'Charging station successfully unpaired.';
export const UNKNOWN_STATION_MESSAGE = 'Charging station not found.';
export const ALREADY_PAIRED_MESSAGE = 'Charging station is already paired with another Smart Charging Service Provider.';

export interface PairingRoutesDeps {
  partners: PartnerService;
  pairing: PairingService;
  log: Logger;
}

/** `{code}` → the code as text, or a reason it is not one. */
export function parseCodeBody(body: unknown): { ok: true; code: string } | { ok: false; message: string } {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return { ok: false, message: 'Body must be a JSON object with a "code"' };
  const code = (body as { code?: unknown }).code;
  if (typeof code === 'number' && Number.isInteger(code) && code >= 0 && code < 1e6) return { ok: true, code: String(code).padStart(6, '0') };
  if (typeof code !== 'string') return { ok: false, message: code === undefined ? 'Missing "code"' : '"code" must be a string' };
  const trimmed = code.trim();
  if (trimmed === '' || trimmed.length > 64) return { ok: false, message: '"code" must be a non-empty string of at most 64 characters' };
  return { ok: true, code: trimmed };
}

export function registerPairingRoutes(http: FastifyInstance, deps: PairingRoutesDeps): void {
  void http.register(async (app) => {
    installCpoConventions(app, deps.log);
    const guard = requirePartner(deps.partners);

    const pair = async (req: FastifyRequest<{ Params: { protocol: string } }>, reply: FastifyReply) => {
      const partner = partnerOf(req);
      const protocol = req.params.protocol;
      if (!PAYLOAD_PROTOCOLS.includes(protocol as PayloadProtocol)) {
        return reply.code(400).send({ message: `Unsupported payload protocol '${protocol}': use ${PAYLOAD_PROTOCOLS.join(' or ')}` });
      }
      const parsed = parseCodeBody(req.body);
      if (!parsed.ok) return reply.code(400).send({ message: parsed.message });
      try {
        const station = await deps.pairing.verifyCode(partner, protocol as PayloadProtocol, parsed.code);
        if (!station) return reply.code(404).send({ message: INCORRECT_CODE_MESSAGE });
        return reply.code(200).send({ charging_station: station });
      } catch (err) {
        if (err instanceof PairingConflictError) return reply.code(409).send({ message: ALREADY_PAIRED_MESSAGE });
        if (err instanceof PayloadProtocolMismatchError) return reply.code(400).send({ message: err.message });
        throw err;
      }
    };
    const unpair = async (req: FastifyRequest<{ Params: { uid: string } }>, reply: FastifyReply) => {
      const done = await deps.pairing.unpairByPartner(partnerOf(req), req.params.uid);
      if (!done) return reply.code(404).send({ message: UNKNOWN_STATION_MESSAGE });
      return reply.code(200).send({ message: UNPAIRED_MESSAGE });
    };
    // As documented, and with a trailing slash (seed 001 writes some paths that way).
    for (const url of ['/v1/cpo/:protocol/pair', '/v1/cpo/:protocol/pair/']) {
      app.post<{ Params: { protocol: string } }>(url, { onRequest: guard }, pair);
    }
    for (const url of ['/v1/cpo/chargingstations/:uid/unpair', '/v1/cpo/chargingstations/:uid/unpair/']) {
      app.post<{ Params: { uid: string } }>(url, { onRequest: guard }, unpair);
    }
  });
}
