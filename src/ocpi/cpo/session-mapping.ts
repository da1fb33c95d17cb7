/**
 * Pure mapping of an Ampline transaction (and its meter history) to an OCPI 2.2.1 `Session`
 * (mod_sessions, protocols.md §2.5). No I/O: the Sessions sender (sessions.ts) loads the rows and
 * calls these functions; the unit tests drive them table by table.
 *
 * **Charging periods.** OCPI wants "one period per tariff-relevant change, not per minute"; Ampline
 * prices nothing, so a period is one *push interval* of time: the time axis is cut into cells of
 * `periodMs` aligned on the Unix epoch (so the cut points do not depend on when a push happened, a
 * restart, or a retry), and each cell that holds at least one meter reading becomes one period that
 * starts at the cell's start (the session start for the first). A period lasts until the next one
 * starts, as OCPI defines it. Its dimensions:
 * - `ENERGY` — kWh of the energy register between the last reading of the previous period (or the
 *   transaction's meter start) and the last reading of this cell; never negative;
 * - `POWER` — the mean of the active-import power readings in the cell (kW), else the energy divided by
 *   the time it took (when that is at least 10 s: registers have a 1 Wh resolution);
 * - `CURRENT` — the mean import current per phase (A) when the station reports it;
 * - `STATE_OF_CHARGE` — the last SoC (%) of the cell when reported.
 * While a session is active, only **closed** cells are emitted: a cell is closed once a reading newer
 * than its end exists, so a PATCH never has to correct a period it already appended. When the session
 * is over every cell is closed and the stop register (meter stop at the stop time) ends the last one,
 * so the periods' energy adds up to the session's `kwh`.
 *
 * A {@link PeriodCursor} carries what the next period needs (where the previous one ended, its
 * register value): building periods from a cursor over the newer readings gives exactly the periods a
 * build from scratch gives after it (the sender relies on that to append with PATCH).
 */
import type { TransactionRow } from '../../store/schema.js';
import { formatDateTime } from '../core/datetime.js';
import { isCiString } from '../core/strings.js';
import { createHash } from 'node:crypto';
import { ocpiEvseUid, ocpiLocationId } from './context.js';
import { type AUTH_METHODS, type TOKEN_TYPES, type CdrDimension, type CdrDimensionType, type ChargingPeriod, type SessionStatus } from '../objects.js';

// ── OCPI objects (mod_sessions, mod_cdrs, mod_tokens; wire names) ─────────────────────────────────

export { AUTH_METHODS, SESSION_STATUSES, TOKEN_TYPES } from '../objects.js';
export type { CdrDimension, CdrDimensionType, ChargingPeriod, SessionStatus } from '../objects.js';
export type TokenType = (typeof TOKEN_TYPES)[number];
export type AuthMethod = (typeof AUTH_METHODS)[number];

export interface CdrToken {
  country_code: string;
  party_id: string;
  uid: string;
  type: TokenType;
  contract_id: string;
}

export interface OcpiSession {
  country_code: string;
  party_id: string;
  id: string;
  start_date_time: string;
  end_date_time?: string;
  kwh: number;
  cdr_token: CdrToken;
  auth_method: AuthMethod;
  authorization_reference?: string;
  location_id: string;
  evse_uid: string;
  connector_id: string;
  meter_id?: string;
  currency: string;
  charging_periods?: ChargingPeriod[];
  total_cost?: { excl_vat: number; incl_vat?: number };
  status: SessionStatus;
  last_updated: string;
}

// ── inputs ───────────────────────────────────────────────────────────────────────────────────────

/** The transaction columns the mapping reads. */
export type SessionTx = Pick<
  TransactionRow,
  | 'id'
  | 'station_id'
  | 'evse_id'
  | 'connector_id'
  | 'id_token'
  | 'id_token_type'
  | 'auth_status'
  | 'state'
  | 'charging_state'
  | 'started_at'
  | 'stopped_at'
  | 'meter_start_wh'
  | 'meter_stop_wh'
  | 'energy_wh'
  | 'offline'
  | 'remote_start_id'
  | 'updated_at'
>;

/** When the transaction was first seen waiting (EVConnected/Idle) and first seen charging (2.0.1 charging states). */
export interface StartInfo {
  firstPendingAt?: string | null | undefined;
  firstActiveAt?: string | null | undefined;
}

export interface SessionMappingOptions {
  /** Our CPO identity. */
  countryCode: string;
  partyId: string;
  /** ISO 4217, e.g. EUR. */
  currency: string;
}

/** One meter_values row (what the period builder reads). */
export interface MeterRow {
  timestamp: string;
  measurand: string;
  phase: string | null;
  location: string | null;
  value: number | null;
}

/** The readings of one instant, in canonical units. */
export interface Reading {
  /** ms since the epoch. */
  at: number;
  energyWh?: number;
  powerW?: number;
  /** Per-phase current (A): the unphased value, else the mean of the phases reported. */
  currentA?: number;
  soc?: number;
}

/** The measurands the builder uses (the sender loads only these). */
export const PERIOD_MEASURANDS = ['Energy.Active.Import.Register', 'Power.Active.Import', 'Current.Import', 'SoC'] as const;

// ── helpers ──────────────────────────────────────────────────────────────────────────────────────

const round = (v: number, decimals: number): number => {
  const f = 10 ** decimals;
  const r = Math.round(v * f) / f;
  return Object.is(r, -0) ? 0 : r;
};

const hashed = (prefix: string, s: string): string => prefix + createHash('sha256').update(s, 'utf8').digest('hex').slice(0, 35);

/** A CiString(36) for an arbitrary id: itself when it fits, else a prefixed hash. */
export function ciString36(s: string, prefix: string): string {
  return isCiString(s, 36) ? s : hashed(prefix, s);
}

const PENDING_STATES = new Set(['EVConnected', 'Idle']);

/**
 * OCPP id token type → OCPI TokenType: cards (ISO 14443/15693; 1.6 idTags are recorded as ISO14443)
 * are RFID; a token the central system issued (2.0.1 `Central`, e.g. an app's remote start) is
 * APP_USER; `NoAuthorization` (free vend) and `KeyCode` (a code typed at the station) are AD_HOC_USER;
 * anything else (eMAID, MacAddress, Local) is OTHER.
 */
export function tokenTypeOf(ocppType: string | null | undefined, remoteStart: boolean): TokenType {
  switch (ocppType) {
    case 'ISO14443':
    case 'ISO15693':
      return 'RFID';
    case 'Central':
      return 'APP_USER';
    case 'NoAuthorization':
    case 'KeyCode':
      return 'AD_HOC_USER';
    case null:
    case undefined:
      return remoteStart ? 'APP_USER' : 'OTHER';
    default:
      return 'OTHER';
  }
}

/**
 * How the session was authorized, as far as Ampline can tell: COMMAND for a remote start (a
 * `remoteStartId`, or a `Central` token); AUTH_REQUEST when the station asked the CSMS (an
 * authorization status was recorded online); WHITELIST otherwise (offline/local authorization, free vend).
 */
export function authMethodOf(tx: Pick<SessionTx, 'remote_start_id' | 'id_token_type' | 'auth_status' | 'offline'>): AuthMethod {
  if (tx.remote_start_id !== null || tx.id_token_type === 'Central') return 'COMMAND';
  if (tx.id_token_type === 'NoAuthorization') return 'WHITELIST';
  if (tx.auth_status !== null && tx.offline !== 1) return 'AUTH_REQUEST';
  return 'WHITELIST';
}

/** ACTIVE / COMPLETED, and PENDING while a 2.0.1 transaction has not started charging yet. */
export function sessionStatusOf(tx: Pick<SessionTx, 'state' | 'charging_state' | 'energy_wh'>, start: StartInfo = {}): SessionStatus {
  if (tx.state !== 'active') return 'COMPLETED';
  if (!start.firstActiveAt && tx.charging_state !== null && PENDING_STATES.has(tx.charging_state) && (tx.energy_wh ?? 0) <= 0) return 'PENDING';
  return 'ACTIVE';
}

/** kWh delivered so far (never negative, Wh resolution). */
export const kwhOf = (tx: Pick<SessionTx, 'energy_wh'>): number => round(Math.max(0, tx.energy_wh ?? 0) / 1000, 3);

/** The placeholder uid of a session without an id token (a remote start, or a 2.0.1 transaction not authorized yet). */
export const NO_TOKEN_UID = 'UNKNOWN';

export function cdrTokenOf(tx: Pick<SessionTx, 'id_token' | 'id_token_type' | 'remote_start_id'>, opts: Pick<SessionMappingOptions, 'countryCode' | 'partyId'>): CdrToken {
  const remote = tx.remote_start_id !== null;
  const uid = tx.id_token !== null && tx.id_token !== '' ? ciString36(tx.id_token, 'T') : remote ? `REMOTE-${tx.remote_start_id}`.slice(0, 36) : NO_TOKEN_UID;
  return { country_code: opts.countryCode, party_id: opts.partyId, uid, type: tokenTypeOf(tx.id_token ? tx.id_token_type : null, remote), contract_id: uid };
}

/**
 * The Session object. `periods` undefined leaves `charging_periods` out (a PATCH builds the periods
 * separately); a PUT passes them (possibly empty).
 */
export function toOcpiSession(tx: SessionTx, opts: SessionMappingOptions, periods?: ChargingPeriod[], start: StartInfo = {}): OcpiSession {
  const status = sessionStatusOf(tx, start);
  // "When a Session goes from PENDING to ACTIVE, this field SHALL be updated to the moment the Session went to ACTIVE."
  const wasPending = !!start.firstPendingAt && !!start.firstActiveAt && start.firstPendingAt < start.firstActiveAt;
  const startAt = status !== 'PENDING' && wasPending && start.firstActiveAt! > tx.started_at ? start.firstActiveAt! : tx.started_at;
  const s: OcpiSession = {
    country_code: opts.countryCode,
    party_id: opts.partyId,
    id: tx.id,
    start_date_time: formatDateTime(new Date(startAt)),
    kwh: kwhOf(tx),
    cdr_token: cdrTokenOf(tx, opts),
    auth_method: authMethodOf(tx),
    location_id: ocpiLocationId(tx.station_id),
    evse_uid: ocpiEvseUid(tx.station_id, tx.evse_id),
    connector_id: String(tx.connector_id ?? 1),
    currency: opts.currency,
    status,
    last_updated: formatDateTime(new Date(tx.updated_at)),
  };
  if (status === 'COMPLETED' && tx.stopped_at) {
    const end = new Date(Math.max(new Date(tx.stopped_at).getTime(), new Date(startAt).getTime()));
    s.end_date_time = formatDateTime(end);
  }
  if (periods) s.charging_periods = periods;
  return s;
}

// ── readings ─────────────────────────────────────────────────────────────────────────────────────

const LINE = /^L[123](-N)?$/;

/** The value of one measurand at one instant: the outlet's (else any location's) total, else its phases combined. */
function pick(rows: readonly MeterRow[], measurand: string, combine: 'sum' | 'mean'): number | undefined {
  const all = rows.filter((r) => r.measurand === measurand && r.value !== null && Number.isFinite(r.value));
  if (all.length === 0) return undefined;
  const outlet = all.filter((r) => r.location !== 'Inlet');
  const xs = outlet.length > 0 ? outlet : all;
  const total = xs.find((r) => !r.phase);
  if (total) return total.value!;
  const lines = xs.filter((r) => LINE.test(r.phase ?? ''));
  if (lines.length === 0) return undefined;
  const sum = lines.reduce((a, r) => a + r.value!, 0);
  return combine === 'sum' ? sum : sum / lines.length;
}

/** Group meter rows by instant into readings (oldest first). */
export function readingsOf(rows: readonly MeterRow[]): Reading[] {
  const byTime = new Map<number, MeterRow[]>();
  for (const r of rows) {
    const t = new Date(r.timestamp).getTime();
    if (!Number.isFinite(t)) continue;
    let g = byTime.get(t);
    if (!g) byTime.set(t, (g = []));
    g.push(r);
  }
  const out: Reading[] = [];
  for (const [at, g] of [...byTime.entries()].sort((a, b) => a[0] - b[0])) {
    const r: Reading = { at };
    const e = pick(g, 'Energy.Active.Import.Register', 'sum');
    if (e !== undefined) r.energyWh = e;
    const p = pick(g, 'Power.Active.Import', 'sum');
    if (p !== undefined) r.powerW = p;
    const c = pick(g, 'Current.Import', 'mean');
    if (c !== undefined) r.currentA = c;
    const soc = pick(g, 'SoC', 'mean');
    if (soc !== undefined) r.soc = soc;
    out.push(r);
  }
  return out;
}

/** The readings of a session: its meter rows, plus the stop register at the stop time once it is over. */
export function sessionReadings(tx: Pick<SessionTx, 'state' | 'stopped_at' | 'meter_stop_wh'>, rows: readonly MeterRow[]): Reading[] {
  const out = readingsOf(rows);
  if (tx.state !== 'active' && tx.stopped_at && tx.meter_stop_wh !== null) {
    const at = new Date(tx.stopped_at).getTime();
    if (Number.isFinite(at)) {
      const same = out.find((r) => r.at === at);
      if (same) same.energyWh = tx.meter_stop_wh;
      else out.push({ at, energyWh: tx.meter_stop_wh });
      out.sort((a, b) => a.at - b.at);
    }
  }
  return out;
}

// ── periods ──────────────────────────────────────────────────────────────────────────────────────

/**
 * POWER is derived from energy only over at least this long: registers are read in whole Wh, so over a
 * second the average would be off by up to 3.6 kW (over 10 s by 0.36 kW).
 */
export const MIN_DERIVED_POWER_SPAN_MS = 10_000;

/** Where the emitted periods end (see the module comment). */
export interface PeriodCursor {
  /** Readings before this instant (ms) belong to periods already emitted (or to none). */
  fromMs: number;
  /** The register at the end of the last emitted period (Wh); null = not known yet. */
  baselineWh: number | null;
  baselineAtMs: number | null;
  /** Periods emitted so far. */
  count: number;
}

/** The cursor before any period: the transaction's meter start at its start. */
export function initialCursor(tx: Pick<SessionTx, 'meter_start_wh' | 'started_at'>): PeriodCursor {
  const at = new Date(tx.started_at).getTime();
  return { fromMs: Number.NEGATIVE_INFINITY, baselineWh: tx.meter_start_wh, baselineAtMs: tx.meter_start_wh !== null && Number.isFinite(at) ? at : null, count: 0 };
}

export interface BuildPeriodsArgs {
  readings: readonly Reading[];
  cursor: PeriodCursor;
  periodMs: number;
  /** Session start (ms): readings before it count at it, and the first period starts there. */
  sessionStartMs: number;
  /** Cells ending at or before this instant are closed; `undefined` = the session is over (all closed). */
  closedBeforeMs: number | undefined;
}

/** The new periods after `cursor`, and the cursor after them. */
export function buildPeriods(a: BuildPeriodsArgs): { periods: ChargingPeriod[]; cursor: PeriodCursor } {
  if (!(a.periodMs > 0)) throw new RangeError('periodMs must be > 0');
  const cells = new Map<number, Reading[]>();
  for (const r of a.readings) {
    const at = Math.max(r.at, a.sessionStartMs);
    if (at < a.cursor.fromMs) continue;
    const k = Math.floor(at / a.periodMs);
    let g = cells.get(k);
    if (!g) cells.set(k, (g = []));
    g.push({ ...r, at });
  }
  const periods: ChargingPeriod[] = [];
  let { fromMs, baselineWh, baselineAtMs, count } = a.cursor;
  for (const k of [...cells.keys()].sort((x, y) => x - y)) {
    const cellStart = k * a.periodMs;
    const cellEnd = cellStart + a.periodMs;
    if (a.closedBeforeMs !== undefined && cellEnd > a.closedBeforeMs) break;
    const rs = cells.get(k)!.sort((x, y) => x.at - y.at);
    const dims: CdrDimension[] = [];
    const energies = rs.filter((r) => r.energyWh !== undefined);
    let energyKwh: number | undefined;
    let spanMs: number | undefined;
    if (energies.length > 0) {
      const last = energies[energies.length - 1]!;
      const base = baselineWh ?? energies[0]!.energyWh!;
      const baseAt = baselineWh !== null ? baselineAtMs : energies[0]!.at;
      energyKwh = Math.max(0, last.energyWh! - base) / 1000;
      if (baseAt !== null) spanMs = last.at - baseAt;
      dims.push({ type: 'ENERGY', volume: round(energyKwh, 3) });
      baselineWh = last.energyWh!;
      baselineAtMs = last.at;
    }
    const powers = rs.filter((r) => r.powerW !== undefined).map((r) => r.powerW!);
    if (powers.length > 0) dims.push({ type: 'POWER', volume: round(powers.reduce((x, y) => x + y, 0) / powers.length / 1000, 3) });
    else if (energyKwh !== undefined && spanMs !== undefined && spanMs >= MIN_DERIVED_POWER_SPAN_MS) dims.push({ type: 'POWER', volume: round(energyKwh / (spanMs / 3_600_000), 3) });
    const currents = rs.filter((r) => r.currentA !== undefined).map((r) => r.currentA!);
    if (currents.length > 0) dims.push({ type: 'CURRENT', volume: round(currents.reduce((x, y) => x + y, 0) / currents.length, 2) });
    const socs = rs.filter((r) => r.soc !== undefined);
    if (socs.length > 0) dims.push({ type: 'STATE_OF_CHARGE', volume: round(socs[socs.length - 1]!.soc!, 1) });
    fromMs = cellEnd;
    if (dims.length === 0) continue;
    periods.push({ start_date_time: formatDateTime(new Date(Math.max(cellStart, a.sessionStartMs))), dimensions: dims });
    count++;
  }
  return { periods, cursor: { fromMs, baselineWh, baselineAtMs, count } };
}

/** Cells are closed up to the newest reading while a session runs; all of them once it is over. */
export function closedBefore(tx: Pick<SessionTx, 'state'>, readings: readonly Reading[]): number | undefined {
  if (tx.state !== 'active') return undefined;
  let latest = Number.NEGATIVE_INFINITY;
  for (const r of readings) if (r.at > latest) latest = r.at;
  return latest;
}

/** Every period of a session from scratch, and the cursor after them. */
export function allPeriods(tx: SessionTx, rows: readonly MeterRow[], periodMs: number): { periods: ChargingPeriod[]; cursor: PeriodCursor } {
  const readings = sessionReadings(tx, rows);
  return buildPeriods({ readings, cursor: initialCursor(tx), periodMs, sessionStartMs: new Date(tx.started_at).getTime(), closedBeforeMs: closedBefore(tx, readings) });
}

/** The full Session object of a transaction (what a PUT and the GET list carry). */
export function fullSession(tx: SessionTx, rows: readonly MeterRow[], opts: SessionMappingOptions & { periodMs: number }, start: StartInfo = {}): { session: OcpiSession; cursor: PeriodCursor } {
  const { periods, cursor } = allPeriods(tx, rows, opts.periodMs);
  return { session: toOcpiSession(tx, opts, periods, start), cursor };
}

/** The fields of `next` that differ from `prev` (charging periods excluded: they are appended separately). */
export function changedFields(prev: OcpiSession, next: OcpiSession): Partial<OcpiSession> {
  const out: Record<string, unknown> = {};
  const keys = new Set([...Object.keys(prev), ...Object.keys(next)]);
  for (const k of keys) {
    if (k === 'charging_periods') continue;
    const a = (prev as unknown as Record<string, unknown>)[k];
    const b = (next as unknown as Record<string, unknown>)[k];
    if (JSON.stringify(a) !== JSON.stringify(b) && b !== undefined) out[k] = b;
  }
  return out as Partial<OcpiSession>;
}
