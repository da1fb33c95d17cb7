/**
 * What the CPO's OCPI functional modules (Sessions sender, ChargingProfiles receiver) share: the CSMS
 * services they use, Ampline's OCPI identifiers for its stations and EVSEs, and **who may see a session**.
 *
 * Access rule (issue 8 §3/§4): an OCPI partner sees — and may steer — exactly the sessions on stations
 * that are paired (seed 000) with an SCSP partner whose `ocpiPartnerId` names that OCPI partner. A
 * session id is Ampline's own stable transaction id (`transactions.id`, a UUID: CiString(36)), never
 * the 1.6 integer transaction id.
 *
 * Identifiers (Ampline has no Locations module; these are documented so a receiver can map them back):
 * - `location_id` = the station id when it is a valid CiString(36), else `S` + 35 hex chars of its SHA-256;
 * - `evse_uid` = `<location_id>*<evseId>` when that fits CiString(36), else `E` + 35 hex chars of a hash;
 * - `connector_id` = the connector id as text (`"1"` when unknown).
 */
import { createHash } from 'node:crypto';
import type { Expression, ExpressionBuilder, Kysely, Selectable, SqlBool } from 'kysely';
import type { Database, TransactionsTable } from '../../store/schema.js';
import type { DomainEvents } from '../../services/events.js';
import type { SmartChargingService } from '../../services/smart-charging.js';
import type { CommandService } from '../../services/commands.js';
import type { CsmsConfig } from '../../config.js';
import type { Clock } from '../../util/clock.js';
import type { Logger } from '../../util/log.js';

export interface CpoOcpiContext {
  db: Kysely<Database>;
  clock: Clock;
  log: Logger;
  events: DomainEvents;
  smart: SmartChargingService;
  commands: CommandService;
  /** The CSMS configuration (OCPI module settings, OCPP call timeout); absent in some unit tests: defaults apply. */
  config?: Pick<CsmsConfig, 'ocpi' | 'ocpp'> | undefined;
}

const CI_STRING_36 = /^[\x21-\x7e]{1,36}$/;

const hashId = (prefix: string, s: string): string => prefix + createHash('sha256').update(s, 'utf8').digest('hex').slice(0, 35);

/** OCPI `location_id` of a station. */
export function ocpiLocationId(stationId: string): string {
  return CI_STRING_36.test(stationId) ? stationId : hashId('S', stationId);
}

/** OCPI `evse_uid` of a station's EVSE. */
export function ocpiEvseUid(stationId: string, evseId: number): string {
  const uid = `${ocpiLocationId(stationId)}*${evseId}`;
  return CI_STRING_36.test(uid) ? uid : hashId('E', `${stationId}*${evseId}`);
}

export type TransactionRow = Selectable<TransactionsTable>;

/** The OCPI partner that sees a station's sessions (via its pairing's SCSP partner), or undefined. */
export async function ocpiPartnerOfStation(db: Kysely<Database>, stationId: string): Promise<{ ocpiPartnerId: string; scspPartnerId: string; sessionData: string } | undefined> {
  const r = await db
    .selectFrom('pairings')
    .innerJoin('scsp_partners', 'scsp_partners.id', 'pairings.partner_id')
    .select(['scsp_partners.id as scspPartnerId', 'scsp_partners.ocpi_partner_id as ocpiPartnerId', 'scsp_partners.session_data as sessionData', 'scsp_partners.enabled as enabled'])
    .where('pairings.station_id', '=', stationId)
    .executeTakeFirst();
  if (!r || r.ocpiPartnerId === null || r.enabled !== 1) return undefined;
  return { ocpiPartnerId: r.ocpiPartnerId, scspPartnerId: r.scspPartnerId, sessionData: r.sessionData };
}

/**
 * Only sessions that overlap the current pairing: a partner paired today does not see (nor steer) the
 * station's sessions that ended before it was paired. A session running when the pairing was made is
 * the partner's (it may be paired mid-session). ISO-8601 UTC texts compare as instants.
 */
export function pairedDuringSession(eb: ExpressionBuilder<Database & { pairings: Database['pairings'] }, 'transactions' | 'pairings'>): Expression<SqlBool> {
  return eb.or([eb('transactions.stopped_at', 'is', null), eb('transactions.stopped_at', '>=', eb.ref('pairings.paired_at'))]);
}

/** The session (transaction) with this id if the OCPI partner may see it; undefined otherwise (unknown or not theirs). */
export async function sessionForPartner(db: Kysely<Database>, ocpiPartnerId: string, sessionId: string): Promise<TransactionRow | undefined> {
  if (!CI_STRING_36.test(sessionId)) return undefined;
  return db
    .selectFrom('transactions')
    .innerJoin('pairings', 'pairings.station_id', 'transactions.station_id')
    .innerJoin('scsp_partners', 'scsp_partners.id', 'pairings.partner_id')
    .selectAll('transactions')
    .where('transactions.id', '=', sessionId)
    .where('scsp_partners.ocpi_partner_id', '=', ocpiPartnerId)
    .where('scsp_partners.enabled', '=', 1)
    .where(pairedDuringSession)
    .executeTakeFirst();
}
