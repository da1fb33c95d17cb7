/**
 * Session state per station and EVSE, built from the events CPOs send (ingest.ts turns each body into
 * version-neutral {@link SessionEvent}s; this file applies them). One database transaction per request:
 * the idempotency record and every state change it causes commit together, so a retried request either
 * finds its record (and changes nothing) or was never applied.
 *
 * Rules:
 * - A session is identified by `(cpo, uid, transactionId)`. The first event of a transaction creates it,
 *   whatever its type (events can arrive out of order or the SCSP can be paired mid-session): `Ended`
 *   first creates an ended session, a later `Started` only moves `started_at` back.
 * - `Ended` is final: later `Started`/`Updated` events do not reopen a session.
 * - A `Started` on an EVSE (> 0) ends an older active session of another transaction on that EVSE
 *   (stopped reason `Superseded`): its `Ended` was lost, and two transactions cannot run on one EVSE.
 * - 1.6 (see ingest.ts): a StartTransaction opens a session without transaction id on its connector; the
 *   next MeterValues with a transactionId on that connector, or a StopTransaction when it is the station's
 *   only such session, gives it its id.
 * - Readings apply when they are not older than the newest applied (`meter_at`). The first energy
 *   register of a session (or the 1.6 `meterStart`) is its start, lowered when an older reading with a
 *   lower register arrives late; `energy_wh` = register − start (never negative). Power and SoC are the
 *   latest values. An ended session has power 0.
 * - Charging state applies when its event is not older than the one that set the current state.
 *
 * Two feeds produce events: OCPP-format bodies (ingest.ts, protocol = the payload protocol) and OCPI
 * Sessions (src/ocpi/scsp/mapping.ts, protocol `ocpi`, transactionId = the OCPI session id, energy as a
 * register starting at 0). {@link SessionStore.ingest} takes either, optionally inside a caller's
 * database transaction (the OCPI receiver stores its copy of the Session in the same one).
 * - A CPO may feed one charging session through both (OCPP-format events *and* OCPI Sessions). The
 *   OCPP-format feed wins: a session it creates on an EVSE ends an active OCPI-fed session there that
 *   started within {@link TWIN_WINDOW_MS} of it (stopped reason `Twin`); the OCPI receiver links later
 *   copies to the OCPP-format session instead of mapping them (src/ocpi/scsp/sessions.ts).
 */
import { randomUUID } from 'node:crypto';
import type { Selectable, Updateable } from 'kysely';
import type { Clock } from '../util/clock.js';
import type { ScspKysely, SessionsTable } from './store.js';
import type { PayloadProtocol } from './cpos.js';
import type { MeterReading, SessionEvent } from './ingest.js';

export type SessionRow = Selectable<SessionsTable>;

/** Where a session's events come from: an OCPP-format payload protocol, or OCPI Sessions. */
export type SessionProtocol = PayloadProtocol | 'ocpi';

export interface StationKey {
  cpoId: string;
  uid: string;
}

export interface SessionView {
  id: string;
  cpoId: string;
  uid: string;
  evseId: number;
  transactionId: string | null;
  protocol: string;
  state: 'active' | 'ended';
  chargingState: string | null;
  energyWh: number | null;
  powerW: number | null;
  soc: number | null;
  meterWh: number | null;
  meterStartWh: number | null;
  meterAt: string | null;
  startedAt: string;
  endedAt: string | null;
  stoppedReason: string | null;
  lastEventAt: string;
  updatedAt: string;
  plan: { plannedAt: string | null; schedule: Array<{ start: string; powerW: number }> } | null;
}

export function sessionView(r: SessionRow): SessionView {
  return {
    id: r.id,
    cpoId: r.cpo_id,
    uid: r.uid,
    evseId: r.evse_id,
    transactionId: r.transaction_id,
    protocol: r.protocol,
    state: r.state as 'active' | 'ended',
    chargingState: r.charging_state,
    energyWh: r.energy_wh,
    powerW: r.power_w,
    soc: r.soc,
    meterWh: r.meter_wh,
    meterStartWh: r.meter_start_wh,
    meterAt: r.meter_at,
    startedAt: r.started_at,
    endedAt: r.ended_at,
    stoppedReason: r.stopped_reason,
    lastEventAt: r.last_event_at,
    updatedAt: r.updated_at,
    plan: r.plan === null ? null : { plannedAt: r.planned_at, schedule: JSON.parse(r.plan) as Array<{ start: string; powerW: number }> },
  };
}

export type IngestOutcome = { kind: 'applied'; sessionIds: string[] } | { kind: 'duplicate' } | { kind: 'conflict' };

export interface IngestRequest {
  station: StationKey;
  pp: SessionProtocol;
  action: string;
  body: unknown;
  key: string;
  keyFromHeader: boolean;
  hash: string;
  events: SessionEvent[];
}

/** An OCPP-format session and an OCPI session on one EVSE that started this close are one charging session. */
export const TWIN_WINDOW_MS = 10 * 60_000;

const later = (a: string, b: string | null): boolean => b === null || a >= b;
const maxTs = (a: string, b: string | null): string => (b === null || a > b ? a : b);

/** What a reading changes on a session (nothing when it is older than the newest applied). */
export function meterUpdate(s: Pick<SessionRow, 'meter_at' | 'meter_start_wh' | 'meter_wh' | 'state' | 'ended_at'>, m: MeterReading): Partial<SessionRow> {
  const ended = s.state === 'ended';
  if (ended && s.ended_at !== null && m.timestamp > s.ended_at) return {};
  if (!later(m.timestamp, s.meter_at)) {
    // An older reading (out of order) changes nothing current, but registers only grow: a lower register
    // than the start known so far is a better start (e.g. the Started event arriving after the Ended).
    if (m.energyWh !== undefined && s.meter_start_wh !== null && m.energyWh < s.meter_start_wh) {
      return { meter_start_wh: m.energyWh, energy_wh: s.meter_wh === null ? null : Math.max(0, round(s.meter_wh - m.energyWh)) };
    }
    return {};
  }
  const upd: Partial<SessionRow> = { meter_at: m.timestamp };
  if (m.energyWh !== undefined) {
    const start = s.meter_start_wh ?? m.energyWh;
    upd.meter_start_wh = start;
    upd.meter_wh = m.energyWh;
    upd.energy_wh = Math.max(0, round(m.energyWh - start));
  }
  if (m.powerW !== undefined && !ended) upd.power_w = m.powerW;
  if (m.soc !== undefined) upd.soc = m.soc;
  return upd;
}

const round = (v: number): number => Math.round(v * 1000) / 1000;

export class SessionStore {
  constructor(private readonly deps: { db: ScspKysely; clock: Clock }) {}

  /**
   * Applies one request's events with its idempotency record, atomically — in its own database
   * transaction, or in `trx` when the caller has one open (Kysely transactions do not nest).
   */
  async ingest(req: IngestRequest, trx?: ScspKysely): Promise<IngestOutcome> {
    const now = this.deps.clock.now().toISOString();
    if (trx) return this.ingestIn(trx, req, now);
    return this.deps.db.transaction().execute((t) => this.ingestIn(t, req, now));
  }

  private async ingestIn(trx: ScspKysely, req: IngestRequest, now: string): Promise<IngestOutcome> {
    const seen = await trx
      .selectFrom('ingest_events')
      .select(['body_hash'])
      .where('cpo_id', '=', req.station.cpoId)
      .where('idem_key', '=', req.key)
      .executeTakeFirst();
    if (seen) return seen.body_hash === req.hash || !req.keyFromHeader ? { kind: 'duplicate' as const } : { kind: 'conflict' as const };
    const ids: string[] = [];
    for (const ev of req.events) {
      const id = await this.apply(trx, req.station, req.pp, ev, now);
      if (id !== undefined && !ids.includes(id)) ids.push(id);
    }
    await trx
      .insertInto('ingest_events')
      .values({
        cpo_id: req.station.cpoId,
        idem_key: req.key,
        body_hash: req.hash,
        uid: req.station.uid,
        protocol: req.pp,
        action: req.action,
        body: JSON.stringify(req.body),
        session_id: ids[0] ?? null,
        received_at: now,
      })
      .execute();
    return { kind: 'applied' as const, sessionIds: ids };
  }

  private async apply(db: ScspKysely, st: StationKey, pp: SessionProtocol, ev: SessionEvent, now: string): Promise<string | undefined> {
    switch (ev.kind) {
      case 'transaction':
        return this.applyTransaction(db, st, pp, ev, now);
      case 'meter':
        return this.applyMeter(db, st, pp, ev, now);
      case 'status':
        return this.applyStatus(db, st, ev, now);
    }
  }

  private byTx(db: ScspKysely, st: StationKey, transactionId: string) {
    return db.selectFrom('sessions').selectAll().where('cpo_id', '=', st.cpoId).where('uid', '=', st.uid).where('transaction_id', '=', transactionId).executeTakeFirst();
  }

  private activeOnEvse(db: ScspKysely, st: StationKey, evseId: number, opts: { pendingOnly?: boolean } = {}) {
    let q = db.selectFrom('sessions').selectAll().where('cpo_id', '=', st.cpoId).where('uid', '=', st.uid).where('state', '=', 'active').where('evse_id', '=', evseId);
    if (opts.pendingOnly) q = q.where('transaction_id', 'is', null);
    return q.orderBy('started_at', 'desc').execute();
  }

  private async create(db: ScspKysely, st: StationKey, pp: SessionProtocol, v: { evseId: number; transactionId: string | null; startedAt: string; state: 'active' | 'ended' }, now: string): Promise<SessionRow> {
    const row: SessionRow = {
      id: randomUUID(),
      cpo_id: st.cpoId,
      uid: st.uid,
      evse_id: v.evseId,
      transaction_id: v.transactionId,
      protocol: pp,
      state: v.state,
      charging_state: null,
      charging_state_at: null,
      meter_start_wh: null,
      meter_wh: null,
      energy_wh: null,
      power_w: null,
      soc: null,
      meter_at: null,
      started_at: v.startedAt,
      ended_at: null,
      stopped_reason: null,
      last_event_at: v.startedAt,
      plan: null,
      planned_at: null,
      created_at: now,
      updated_at: now,
    };
    await db.insertInto('sessions').values(row).execute();
    return row;
  }

  /** Ends older active sessions of other transactions on the EVSE (their Ended was lost). */
  private async supersede(db: ScspKysely, st: StationKey, evseId: number, keepId: string, at: string, now: string): Promise<void> {
    if (!(evseId > 0)) return;
    await db
      .updateTable('sessions')
      .set({ state: 'ended', ended_at: at, stopped_reason: 'Superseded', power_w: 0, updated_at: now })
      .where('cpo_id', '=', st.cpoId)
      .where('uid', '=', st.uid)
      .where('evse_id', '=', evseId)
      .where('state', '=', 'active')
      .where('id', '!=', keepId)
      .where('last_event_at', '<=', at)
      .execute();
  }

  /** An OCPP-format session was created: end the OCPI-fed twin on its EVSE (see the header). */
  private async endOcpiTwin(db: ScspKysely, st: StationKey, pp: SessionProtocol, s: SessionRow, now: string): Promise<void> {
    if (pp === 'ocpi' || !(s.evse_id > 0)) return;
    const t = Date.parse(s.started_at);
    const from = new Date(t - TWIN_WINDOW_MS).toISOString();
    const to = new Date(t + TWIN_WINDOW_MS).toISOString();
    await db
      .updateTable('sessions')
      .set({ state: 'ended', ended_at: s.started_at, stopped_reason: 'Twin', power_w: 0, updated_at: now })
      .where('cpo_id', '=', st.cpoId)
      .where('uid', '=', st.uid)
      .where('evse_id', '=', s.evse_id)
      .where('state', '=', 'active')
      .where('protocol', '=', 'ocpi')
      .where('started_at', '>=', from)
      .where('started_at', '<=', to)
      .execute();
  }

  private async applyTransaction(db: ScspKysely, st: StationKey, pp: SessionProtocol, ev: Extract<SessionEvent, { kind: 'transaction' }>, now: string): Promise<string> {
    let s: SessionRow | undefined;
    if (ev.transactionId !== undefined) {
      s = await this.byTx(db, st, ev.transactionId);
      if (!s && ev.eventType === 'Ended' && ev.evseId === undefined) {
        // 1.6 StopTransaction of a start that was never correlated: the station's only pending session.
        const pending = await db.selectFrom('sessions').selectAll().where('cpo_id', '=', st.cpoId).where('uid', '=', st.uid).where('state', '=', 'active').where('transaction_id', 'is', null).execute();
        if (pending.length === 1) {
          s = pending[0]!;
          await db.updateTable('sessions').set({ transaction_id: ev.transactionId }).where('id', '=', s.id).execute();
          s.transaction_id = ev.transactionId;
        }
      }
    }
    if (!s) {
      s = await this.create(db, st, pp, { evseId: ev.evseId ?? 0, transactionId: ev.transactionId ?? null, startedAt: ev.timestamp, state: 'active' }, now);
      if (ev.eventType !== 'Ended') {
        await this.endOcpiTwin(db, st, pp, s, now);
        await this.supersede(db, st, s.evse_id, s.id, ev.timestamp, now);
      }
    }
    const upd: Updateable<SessionsTable> = { updated_at: now, last_event_at: maxTs(ev.timestamp, s.last_event_at) };
    if (ev.timestamp < s.started_at) upd.started_at = ev.timestamp;
    if (s.evse_id === 0 && ev.evseId !== undefined && ev.evseId > 0) upd.evse_id = ev.evseId;
    const ended = s.state === 'ended';
    if (ev.meterStartWh !== undefined) upd.meter_start_wh = ev.meterStartWh;
    if (ev.meter) Object.assign(upd, meterUpdate({ ...s, meter_start_wh: ev.meterStartWh ?? s.meter_start_wh }, ev.meter));
    if (ev.chargingState !== undefined && !ended && later(ev.timestamp, s.charging_state_at)) {
      upd.charging_state = ev.chargingState;
      upd.charging_state_at = ev.timestamp;
    }
    if (ev.eventType === 'Ended' && !ended) {
      upd.state = 'ended';
      upd.ended_at = ev.timestamp;
      upd.stopped_reason = ev.stoppedReason ?? null;
      upd.power_w = 0;
      if (ev.chargingState !== undefined) {
        upd.charging_state = ev.chargingState;
        upd.charging_state_at = ev.timestamp;
      }
      if (ev.meterStopWh !== undefined) {
        const start = (upd.meter_start_wh as number | undefined) ?? s.meter_start_wh;
        upd.meter_wh = ev.meterStopWh;
        upd.meter_at = maxTs(ev.timestamp, (upd.meter_at as string | undefined) ?? s.meter_at);
        if (start !== null && start !== undefined) upd.energy_wh = Math.max(0, round(ev.meterStopWh - start));
      }
    }
    await db.updateTable('sessions').set(upd).where('id', '=', s.id).execute();
    // 2.0.1 names the EVSE only in the first event of a transaction: later readings use the session's.
    const evseId = ev.evseId ?? (s.evse_id > 0 ? s.evse_id : undefined);
    if (ev.meter && evseId !== undefined) await this.evseMeter(db, st, evseId, ev.meter, now);
    return s.id;
  }

  private async applyMeter(db: ScspKysely, st: StationKey, pp: SessionProtocol, ev: Extract<SessionEvent, { kind: 'meter' }>, now: string): Promise<string | undefined> {
    await this.evseMeter(db, st, ev.evseId, ev.meter, now);
    let s: SessionRow | undefined;
    if (ev.transactionId !== undefined) {
      s = await this.byTx(db, st, ev.transactionId);
      if (!s) {
        const pending = await this.activeOnEvse(db, st, ev.evseId, { pendingOnly: true });
        if (pending[0]) {
          s = pending[0];
          await db.updateTable('sessions').set({ transaction_id: ev.transactionId }).where('id', '=', s.id).execute();
        } else {
          // A transaction whose start the SCSP never saw (paired mid-session, or the start was lost).
          s = await this.create(db, st, pp, { evseId: ev.evseId, transactionId: ev.transactionId, startedAt: ev.meter.timestamp, state: 'active' }, now);
          await this.endOcpiTwin(db, st, pp, s, now);
          await this.supersede(db, st, s.evse_id, s.id, ev.meter.timestamp, now);
        }
      }
    } else {
      s = (await this.activeOnEvse(db, st, ev.evseId))[0];
    }
    if (!s) return undefined;
    const upd = meterUpdate(s, ev.meter);
    if (Object.keys(upd).length === 0) return s.id;
    await db
      .updateTable('sessions')
      .set({ ...upd, updated_at: now, last_event_at: maxTs(ev.meter.timestamp, s.last_event_at) })
      .where('id', '=', s.id)
      .execute();
    return s.id;
  }

  private async applyStatus(db: ScspKysely, st: StationKey, ev: Extract<SessionEvent, { kind: 'status' }>, now: string): Promise<string | undefined> {
    const e = await db.selectFrom('evses').select(['status_at']).where('cpo_id', '=', st.cpoId).where('uid', '=', st.uid).where('evse_id', '=', ev.evseId).executeTakeFirst();
    if (!e) {
      await db.insertInto('evses').values({ cpo_id: st.cpoId, uid: st.uid, evse_id: ev.evseId, status: ev.status, status_at: ev.timestamp, meter_wh: null, power_w: null, soc: null, meter_at: null, updated_at: now }).execute();
    } else if (later(ev.timestamp, e.status_at)) {
      await db.updateTable('evses').set({ status: ev.status, status_at: ev.timestamp, updated_at: now }).where('cpo_id', '=', st.cpoId).where('uid', '=', st.uid).where('evse_id', '=', ev.evseId).execute();
    }
    if (ev.chargingState === undefined) return undefined;
    const s = (await this.activeOnEvse(db, st, ev.evseId))[0];
    if (!s || !later(ev.timestamp, s.charging_state_at)) return s?.id;
    await db
      .updateTable('sessions')
      .set({ charging_state: ev.chargingState, charging_state_at: ev.timestamp, updated_at: now, last_event_at: maxTs(ev.timestamp, s.last_event_at) })
      .where('id', '=', s.id)
      .execute();
    return s.id;
  }

  private async evseMeter(db: ScspKysely, st: StationKey, evseId: number, m: MeterReading, now: string): Promise<void> {
    const e = await db.selectFrom('evses').select(['meter_at']).where('cpo_id', '=', st.cpoId).where('uid', '=', st.uid).where('evse_id', '=', evseId).executeTakeFirst();
    const v = { meter_wh: m.energyWh ?? null, power_w: m.powerW ?? null, soc: m.soc ?? null, meter_at: m.timestamp, updated_at: now };
    if (!e) {
      await db.insertInto('evses').values({ cpo_id: st.cpoId, uid: st.uid, evse_id: evseId, status: null, status_at: null, ...v }).execute();
    } else if (later(m.timestamp, e.meter_at)) {
      await db.updateTable('evses').set(v).where('cpo_id', '=', st.cpoId).where('uid', '=', st.uid).where('evse_id', '=', evseId).execute();
    }
  }

  // ── reads ──────────────────────────────────────────────────────────────────────────────────

  async get(id: string): Promise<SessionRow | undefined> {
    return this.deps.db.selectFrom('sessions').selectAll().where('id', '=', id).executeTakeFirst();
  }

  async list(f: { cpoId?: string; uid?: string; state?: string; limit?: number; offset?: number } = {}): Promise<{ rows: SessionRow[]; total: number }> {
    let q = this.deps.db.selectFrom('sessions');
    if (f.cpoId !== undefined) q = q.where('cpo_id', '=', f.cpoId);
    if (f.uid !== undefined) q = q.where('uid', '=', f.uid);
    if (f.state !== undefined) q = q.where('state', '=', f.state);
    const total = Number((await q.select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirst())?.n ?? 0);
    const rows = await q
      .selectAll()
      .orderBy('started_at', 'desc')
      .limit(f.limit ?? 50)
      .offset(f.offset ?? 0)
      .execute();
    return { rows, total };
  }

  /** Active sessions on one EVSE, newest first (optionally inside a caller's transaction). */
  async activeOn(st: StationKey, evseId: number, db: ScspKysely = this.deps.db): Promise<SessionRow[]> {
    return this.activeOnEvse(db, st, evseId);
  }

  async active(stations: readonly StationKey[]): Promise<SessionRow[]> {
    if (stations.length === 0) return [];
    return this.deps.db
      .selectFrom('sessions')
      .selectAll()
      .where('state', '=', 'active')
      .where((eb) => eb.or(stations.map((s) => eb.and([eb('cpo_id', '=', s.cpoId), eb('uid', '=', s.uid)]))))
      .orderBy('started_at')
      .execute();
  }

  /** Stations with at least one active session (to re-plan after a restart). */
  async stationsWithActiveSessions(): Promise<StationKey[]> {
    const rows = await this.deps.db.selectFrom('sessions').select(['cpo_id', 'uid']).where('state', '=', 'active').distinct().execute();
    return rows.map((r) => ({ cpoId: r.cpo_id, uid: r.uid }));
  }

  async evses(st: StationKey) {
    return this.deps.db.selectFrom('evses').selectAll().where('cpo_id', '=', st.cpoId).where('uid', '=', st.uid).orderBy('evse_id').execute();
  }

  async savePlan(sessionId: string, schedule: Array<{ start: string; powerW: number }>, at: string): Promise<void> {
    await this.deps.db.updateTable('sessions').set({ plan: JSON.stringify(schedule), planned_at: at }).where('id', '=', sessionId).execute();
  }

  async purgeEvents(before: Date): Promise<number> {
    const res = await this.deps.db.deleteFrom('ingest_events').where('received_at', '<', before.toISOString()).executeTakeFirst();
    return Number(res.numDeletedRows);
  }
}
