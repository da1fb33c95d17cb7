/**
 * OCPP-format profile receiver, HTTP half (issue 6 §4; protocols.md §1.6): the SCSP (Jedlix) POSTs an
 * OCPP SetChargingProfileRequest for a whole charging station to
 *
 *   POST /v1/cpo/chargingstations/{uid}/events/{payload-protocol}/SetChargingProfile
 *   POST /v1/cpo/chargingstation/{uid}/events/{payload-protocol}/SetChargingProfile   (older spelling)
 *
 * (a trailing slash is accepted too). The pure translation is profile-receiver.ts; this file gathers
 * the station facts, sends one TxProfile per target EVSE through SmartChargingService (source `scsp`,
 * validated once more against the K01 rules) and answers in the seed's `{message}` shape — never the
 * `/api/v1` error catalogue: the routes live in an encapsulated plugin with the shared `/v1/cpo`
 * conventions of inbound-auth.ts (bearer guard before the body is read, `{message}` for framework
 * errors), and the handler answers every outcome itself.
 *
 * | outcome                                                                  | status |
 * |--------------------------------------------------------------------------|--------|
 * | every target EVSE's station answer Accepted                              | 200    |
 * | no/unknown bearer token, disabled partner                                | 401    |
 * | unknown payload-protocol; body not a valid SetChargingProfileRequest of  | 400    |
 * | that version; no active transaction; unknown EVSE/transaction; refused   |        |
 * | by the translation or by SmartChargingService's checks; station answer   |        |
 * | Rejected/NotSupported (or a CALLERROR about the request)                 |        |
 * | unknown uid, or a uid not paired with the calling partner                | 404    |
 * | station not connected                                                    | 503    |
 * | station did not answer in time; other failures                          | 500    |
 *
 * Several target EVSEs are sent one after the other, decreases before increases (as the load balancer
 * does); the first failure ends the request (profiles already accepted stay installed — each is within
 * its own share — and are listed in the answer).
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Kysely } from 'kysely';
import type { OCPP16, OCPP20 } from 'typed-ocpp';
import type { Database } from '../store/schema.js';
import type { Clock } from '../util/clock.js';
import type { Logger } from '../util/log.js';
import type { OcppProtocol } from '../ocpp/protocol.js';
import { validatePayload } from '../ocpp/schemas.js';
import { CallTimeoutError, ChargerCallError, StationOfflineError } from '../ocpp/errors.js';
import { UnknownStationError, type CommandService } from '../services/commands.js';
import { ProfileRejectedError, type SmartChargingService } from '../services/smart-charging.js';
import { compositeSchedule } from '../smart/composite.js';
import { activeSchedule, type ChargingProfile } from '../smart/profile.js';
import { amps, epochMs, epochToIso, phasesOfPowerType, seconds, volts } from '../smart/units.js';
import { PAYLOAD_PROTOCOLS, type Partner, type PartnerService, type PayloadProtocol } from './partners.js';
import { type ChargingStationDescription, NoEvsesKnownError, loadStationDescription } from './station-description.js';
import { installCpoConventions, partnerOf, requirePartner } from './inbound-auth.js';
import { translateScspProfile, type EvseFacts, type StationFacts, type TargetProfile } from './profile-receiver.js';

export interface ProfileRoutesDeps {
  db: Kysely<Database>;
  clock: Clock;
  log: Logger;
  smart: SmartChargingService;
  commands: CommandService;
  partners: PartnerService;
}

/** Seed-shaped answer: `{message}` plus optional debugging fields. */
class HttpAnswer extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly extra: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = 'HttpAnswer';
  }
}

/** What was sent to one EVSE, for the answer (useful when debugging a plan). */
interface EvseOutcome {
  evseId: number;
  transactionId: string;
  chargingProfileId: number;
  stackLevel: number;
  chargingRateUnit: string;
  startSchedule?: string;
  duration?: number;
  limits: Array<{ startPeriod: number; limit: number; numberPhases?: number }>;
  adjustments: string[];
  status: string;
  statusInfo?: { reasonCode: string; additionalInfo?: string };
}

function outcome(t: TargetProfile, status: string, statusInfo?: EvseOutcome['statusInfo']): EvseOutcome {
  const s = activeSchedule(t.profile);
  const out: EvseOutcome = {
    evseId: t.evseId,
    transactionId: t.transactionId,
    chargingProfileId: t.profile.id,
    stackLevel: t.profile.stackLevel,
    chargingRateUnit: s?.chargingRateUnit ?? 'W',
    limits: (s?.chargingSchedulePeriod ?? []).map((p) => ({
      startPeriod: p.startPeriod as number,
      limit: p.limit as number,
      ...(p.numberPhases !== undefined ? { numberPhases: p.numberPhases } : {}),
    })),
    adjustments: t.adjustments,
    status,
  };
  if (s?.startSchedule !== undefined) out.startSchedule = epochToIso(s.startSchedule);
  if (s?.duration !== undefined) out.duration = s.duration;
  if (statusInfo) out.statusInfo = statusInfo;
  return out;
}

/** Errors of the send path → seed-shaped answers. */
function fromSendError(err: unknown, uid: string): HttpAnswer {
  if (err instanceof HttpAnswer) return err;
  if (err instanceof UnknownStationError) return new HttpAnswer(404, `Unknown charging station uid '${uid}'.`);
  if (err instanceof StationOfflineError) return new HttpAnswer(503, `Charging station '${uid}' is offline.`);
  if (err instanceof CallTimeoutError) return new HttpAnswer(500, `Charging station '${uid}' did not answer in time.`);
  if (err instanceof ProfileRejectedError) {
    return new HttpAnswer(400, `Invalid charging profile: ${err.violations.map((v) => `${v.code} (${v.requirement}) at ${v.path}: ${v.detail}`).join('; ')}`, {
      reason: 'ProfileRejected',
      violations: err.violations,
    });
  }
  if (err instanceof ChargerCallError) {
    // A CALLERROR about the request (not supported, not implemented, constraint violations) is the
    // station refusing the profile; anything else is the station failing.
    const refusal = !['InternalError', 'GenericError', 'RpcFrameworkError', 'ProtocolError', 'SecurityError'].includes(err.code);
    return new HttpAnswer(refusal ? 400 : 500, `Charging station '${uid}' answered with a CALLERROR: ${err.code}${err.description ? ` (${err.description})` : ''}`, {
      reason: 'ChargerCallError',
      errorCode: err.code,
    });
  }
  return new HttpAnswer(500, 'Internal server error.');
}

const CHARGING_STATES_16 = new Set(['Charging', 'SuspendedEV', 'SuspendedEVSE']);

/**
 * Everything the translation needs about the station, now. The electrical facts (phases, maximum
 * current, voltage) come from the same `charging_station` description the SCSP was given at pairing
 * (station-description.ts: operator data, then the 2.0.1 device model, then its documented defaults),
 * so Ampline converts and clamps with the numbers the SCSP planned with. Shared with the OCPI
 * ChargingProfiles receiver (src/ocpi/cpo/chargingprofiles.ts), which translates through the same rules.
 */
export async function stationFacts(
  deps: Pick<ProfileRoutesDeps, 'db' | 'clock' | 'smart'>,
  uid: string,
  protocol: OcppProtocol,
): Promise<{ facts: StationFacts; installed: ChargingProfile[]; description: ChargingStationDescription | undefined }> {
  const now = deps.clock.now().getTime();
  const [capabilities, active, txRows, statuses, description, installed] = await Promise.all([
    deps.smart.capabilities(uid, protocol),
    deps.smart.activeTransactions(uid),
    deps.db.selectFrom('transactions').select(['evse_id', 'charging_state']).where('station_id', '=', uid).where('state', '=', 'active').execute(),
    deps.db.selectFrom('connectors').select(['evse_id', 'ocpp_status']).where('station_id', '=', uid).where('evse_id', '>', 0).where('connector_id', '>', 0).execute(),
    loadStationDescription(deps.db, uid).catch((err: unknown) => {
      if (err instanceof NoEvsesKnownError) return undefined;
      throw err;
    }),
    deps.smart.installed(uid),
  ]);
  const described = new Map((description?.evses ?? []).map((e) => [e.evse_id, e]));
  const ids = [...new Set([...described.keys(), ...active.map((t) => t.evseId)])].sort((a, b) => a - b);
  const evses = ids.map((evseId): EvseFacts => {
    const e: EvseFacts = { evseId };
    const connectors = described.get(evseId)?.connectors ?? [];
    if (connectors.length > 0) {
      e.maxCurrentA = Math.max(...connectors.map((c) => c.max_amperage));
      e.voltageV = Math.max(...connectors.map((c) => c.max_voltage));
      if (connectors.every((c) => c.power_type === 'DC')) e.dc = true;
      else e.phases = Math.max(...connectors.map((c) => phasesOfPowerType(c.power_type) ?? 1));
    }
    const tx = active.find((t) => t.evseId === evseId);
    if (tx) {
      // 1.6 has no charging state in the transaction: the connector status says it (Charging, SuspendedEV/EVSE).
      const status16 = statuses.filter((c) => c.evse_id === evseId).map((c) => c.ocpp_status).find((s) => CHARGING_STATES_16.has(s));
      const state = protocol === 'ocpp1.6' ? status16 : (txRows.find((r) => r.evse_id === evseId)?.charging_state ?? undefined);
      e.transaction = { id: tx.transactionId, ...(state !== undefined ? { chargingState: state } : {}) };
    }
    return e;
  });
  const facts: StationFacts = { protocol, capabilities, evses, now: epochMs(now) };
  // The station maximum in force now (ChargingStationMaxProfile / external constraints), as a site cap.
  const stationWide = installed.map((r) => r.profile).filter((p) => p.chargingProfilePurpose === 'ChargingStationMaxProfile' || p.chargingProfilePurpose === 'ChargingStationExternalConstraints');
  if (stationWide.length > 0) {
    const huge = 1_000_000;
    const c = compositeSchedule({
      profiles: stationWide,
      evseId: 0,
      now: epochMs(now),
      duration: seconds(60),
      unit: 'W',
      evse: { maxCurrentA: amps(huge), phases: 3, voltage: volts(230) },
    });
    const first = c.chargingSchedulePeriod[0];
    if (first && first.limit < huge) facts.siteLimit = { limit: first.limit as number, unit: 'W' };
  }
  return { facts, installed: installed.map((r) => r.profile), description };
}

/**
 * Send order: decreases before increases (as the load balancer does), so the EVSEs' limits never add up
 * past the SCSP's total while a new plan goes out. An EVSE without a previous plan counts as a decrease.
 */
function sendOrder(targets: readonly TargetProfile[], installed: readonly ChargingProfile[], now: number): TargetProfile[] {
  /** The limit of the period in force at `now` (the first one before the schedule starts). */
  const limitNow = (p: ChargingProfile): number | undefined => {
    const s = activeSchedule(p);
    const elapsedS = s?.startSchedule === undefined ? 0 : (now - s.startSchedule) / 1000;
    const periods = s?.chargingSchedulePeriod ?? [];
    return (periods.filter((x) => x.startPeriod <= elapsedS).pop() ?? periods[0])?.limit;
  };
  const isIncrease = (t: TargetProfile): boolean => {
    const prev = installed.find((p) => p.id === t.profile.id && p.evseId === t.evseId);
    if (!prev || activeSchedule(prev)?.chargingRateUnit !== activeSchedule(t.profile)?.chargingRateUnit) return false;
    return (limitNow(t.profile) ?? 0) > (limitNow(prev) ?? Number.POSITIVE_INFINITY);
  };
  return [...targets].sort((a, b) => Number(isIncrease(a)) - Number(isIncrease(b)) || a.evseId - b.evseId);
}

export function registerProfileRoutes(http: FastifyInstance, deps: ProfileRoutesDeps): void {
  void http.register(async (app) => {
    // Shared /v1/cpo conventions (inbound-auth.ts): `{message}` answers for Fastify-level failures
    // (malformed JSON, wrong media type, oversized body) and the partner's bearer token checked
    // before the body is read (a bad token is 401 whatever the body).
    installCpoConventions(app, deps.log);
    app.addHook('onRequest', requirePartner(deps.partners));

    const handler = async (req: FastifyRequest<{ Params: { uid: string; protocol: string } }>, reply: FastifyReply) => {
      try {
        const body = await receive(deps, partnerOf(req), req.params.uid, req.params.protocol, req.body);
        return await reply.code(200).send(body);
      } catch (err) {
        const a = fromSendError(err, req.params.uid);
        if (a.status === 500 && !(err instanceof HttpAnswer) && !(err instanceof CallTimeoutError)) {
          deps.log.error({ err, stationId: req.params.uid }, 'SCSP SetChargingProfile failed');
        }
        return await reply.code(a.status).send({ message: a.message, ...a.extra });
      }
    };

    for (const station of ['chargingstations', 'chargingstation']) {
      for (const slash of ['', '/']) {
        app.post(`/v1/cpo/${station}/:uid/events/:protocol/SetChargingProfile${slash}`, handler);
      }
    }
  });
}

/** Handles one POST; failures are thrown (HttpAnswer or an error of the send path). */
async function receive(deps: ProfileRoutesDeps, partner: Partner, uid: string, protocol: string, rawBody: unknown): Promise<Record<string, unknown>> {
  if (!PAYLOAD_PROTOCOLS.includes(protocol as PayloadProtocol)) {
    throw new HttpAnswer(400, `Unknown payload-protocol '${protocol}': use ${PAYLOAD_PROTOCOLS.join(' or ')}.`);
  }
  const payloadProtocol = protocol as PayloadProtocol;
  // A uid the partner is not paired with is as unknown to it as one that does not exist.
  const pairing = await deps.db.selectFrom('pairings').select(['partner_id']).where('station_id', '=', uid).executeTakeFirst();
  if (!pairing || pairing.partner_id !== partner.id) throw new HttpAnswer(404, `Unknown charging station uid '${uid}'.`);

  const valid = validatePayload(payloadProtocol, 'SetChargingProfile', 'req', rawBody);
  if (!valid.ok) throw new HttpAnswer(400, `Invalid ${payloadProtocol} SetChargingProfileRequest: ${valid.message}`, { reason: 'SchemaViolation' });

  let stationProtocol: OcppProtocol;
  try {
    stationProtocol = await deps.commands.target(uid);
  } catch (err) {
    throw fromSendError(err, uid);
  }
  const { facts, installed } = await stationFacts(deps, uid, stationProtocol);
  const t = translateScspProfile(
    payloadProtocol === 'ocpp1.6'
      ? { payloadProtocol, body: rawBody as OCPP16.SetChargingProfileRequest }
      : { payloadProtocol, body: rawBody as OCPP20.SetChargingProfileRequest },
    facts,
  );
  if (!t.ok) throw new HttpAnswer(400, t.message, { reason: t.reason });

  const sent: EvseOutcome[] = [];
  for (const target of sendOrder(t.targets, installed, facts.now)) {
    let res;
    try {
      res = await deps.smart.set(uid, target.profile, { source: 'scsp' });
    } catch (err) {
      const a = fromSendError(err, uid);
      throw new HttpAnswer(a.status, a.message, { ...a.extra, failedEvseId: target.evseId, evses: sent });
    }
    sent.push(outcome(target, res.status, res.statusInfo));
    if (res.status !== 'Accepted') {
      const info = res.statusInfo ? ` (${res.statusInfo.reasonCode}${res.statusInfo.additionalInfo ? `: ${res.statusInfo.additionalInfo}` : ''})` : '';
      throw new HttpAnswer(400, `Charging station '${uid}' answered ${res.status}${info} for EVSE ${target.evseId}.`, {
        reason: 'StationRefused',
        failedEvseId: target.evseId,
        evses: sent,
      });
    }
  }
  deps.log.info(
    { partner: partner.id, stationId: uid, evses: sent.map((s) => ({ evseId: s.evseId, unit: s.chargingRateUnit, first: s.limits[0]?.limit })) },
    'SCSP charging profile installed',
  );
  return { message: 'Charging profile accepted by the charging station.', uid, evses: sent };
}
