/**
 * The dashboard's read model: one JSON snapshot of what an operator watches — stations (online,
 * protocol, pairing, outbox backlog), their EVSEs and connectors, active sessions with the limit in force,
 * the SCSP outbox and the load-balancing sites with their last tick.
 *
 * Read-only: a handful of SELECTs, the load balancer's in-memory status and Ampline's own prediction of
 * the composite schedule (SmartChargingService.predictComposite, from the shadow of installed profiles,
 * never a station call). Secrets never enter it: partners are read by id, name and enabled flag only,
 * and id tokens are masked to their last four characters.
 *
 * Cost bounds for large fleets: at most `maxStations` stations are listed (totals still count all), and
 * the limit of each session is cached until the composite's next period starts (or `limitMaxAgeMs`), is
 * dropped when the station's profiles or transactions change, and at most `maxPredictionsPerBuild`
 * predictions run per snapshot — the others keep their previous value (marked `stale`) or show none yet.
 */
import type { Kysely } from 'kysely';
import type { Database } from '../store/schema.js';
import type { DomainEvent } from '../domain/model.js';
import type { ProfileRecord, SmartChargingService } from '../services/smart-charging.js';
import { evseWiring, type LoadBalancer } from '../services/load-balancer.js';
import type { StationEvses } from '../smart/balancer.js';
import type { Clock } from '../util/clock.js';
import type { Logger } from '../util/log.js';
import { PHASES, type Phase } from '../smart/units.js';

// ── the snapshot's shape (also the contract of GET /dashboard/api/state and the SSE `snapshot` event) ─

export interface ConnectorView {
  connectorId: number;
  /** Normalized (OCPP 2.0.1 ConnectorStatusEnumType): Available, Occupied, Reserved, Unavailable, Faulted. */
  status: string;
  /** The word the station sent (1.6 ChargePointStatus such as SuspendedEV, or the 2.0.1 status). */
  ocppStatus: string;
  errorCode: string | null;
  statusAt: string | null;
}

export interface EvseView {
  evseId: number;
  /** The EVSE's status from its connectors: Faulted > Occupied > Reserved > Unavailable (all) > Available. */
  status: string;
  connectors: ConnectorView[];
  /** The active session on this EVSE, if any (id as in `sessions`). */
  sessionId: string | null;
  /** The active session's power (W), null without a session or reading. */
  powerW: number | null;
}

export interface StationView {
  id: string;
  protocol: string | null;
  online: boolean;
  registrationStatus: string | null;
  vendor: string | null;
  model: string | null;
  lastSeenAt: string | null;
  /** Load-balancing site the station belongs to. */
  siteId: string | null;
  pairing: { partnerId: string; payloadProtocol: string; origin: string; pairedAt: string } | null;
  /** Outbox rows of this station still to deliver (`pending`) or given up (`dead`). */
  outbox: { pending: number; dead: number };
  evses: EvseView[];
}

/** The limit in force on an EVSE now, from Ampline's prediction of its composite schedule. */
export interface LimitView {
  /** Watts (the composite converts A limits with the EVSE's phases and voltage). */
  limitW: number;
  /** Phases the limit assumes when fewer than three. */
  numberPhases?: number;
  /** `profiles`: charging profiles apply to the EVSE; `evse-max`: none do, the EVSE's own maximum. */
  basis: 'profiles' | 'evse-max';
  /** Who installed the profiles on this EVSE or station-wide (api, balancer, scsp, management, …). */
  sources: string[];
  /** When the composite's next period starts (the limit may change then); null: not within the hour. */
  changesAt: string | null;
  computedAt: string;
  /** True when this value is from an earlier snapshot and could not be refreshed within this one's budget. */
  stale: boolean;
}

export interface SessionView {
  id: string;
  stationId: string;
  evseId: number;
  connectorId: number | null;
  /** Last four characters of the id token (`…1234`), never the whole token. */
  idToken: string | null;
  startedAt: string;
  chargingState: string | null;
  powerW: number | null;
  energyWh: number | null;
  soc: number | null;
  lastMeterAt: string | null;
  stationOnline: boolean;
  limit: LimitView | null;
}

export interface SiteView {
  id: string;
  /** The site's limit as configured. */
  limit: { perPhaseA: Record<Phase, number>; marginA: number } | { totalPowerW: number; marginW: number };
  voltage: number;
  tickS: number;
  stations: string[];
  lastTick: {
    at: string;
    baseLoad: 'measured' | 'stale-fallback';
    minimumsFit: boolean;
    /** EV budget of the tick (limit − base load − margin): per phase, or in phase-amperes for a power limit. */
    budget: { perPhaseA?: Record<Phase, number>; totalPhaseA?: number };
    /** Sum of the allocations in force on each phase (A); for a power limit also in phase-amperes. */
    allocatedPerPhaseA: Record<Phase, number>;
    allocatedPhaseA: number;
    allocations: Array<{ stationId: string; evseId: number; allocatedA: number; change: string; pausedBecause: string | null }>;
  } | null;
  /** Measured draw of the site's sessions per phase (A), from their power readings. */
  measuredPerPhaseA: Record<Phase, number>;
}

export interface DashboardSnapshot {
  generatedAt: string;
  node: string;
  totals: {
    stations: number;
    stationsOnline: number;
    sessions: number;
    powerW: number;
    /** Sum of the limits in force of the sessions whose limit is known. */
    limitW: number;
  };
  stations: StationView[];
  sessions: SessionView[];
  outbox: {
    pending: number;
    dead: number;
    oldestPendingAt: string | null;
    partners: Array<{ partnerId: string; name: string; enabled: boolean; pending: number; dead: number; oldestPendingAt: string | null }>;
  };
  sites: SiteView[];
  /** What was left out to bound the cost: stations beyond `maxStations`; limits not refreshed in this build. */
  truncated: { stations: boolean; staleLimits: number };
}

// ── building it ─────────────────────────────────────────────────────────────────────────────────

export interface SnapshotOptions {
  /** Stations listed at most (sorted by id); totals count all. */
  maxStations: number;
  /** Composite predictions run at most per snapshot (cache misses only). */
  maxPredictionsPerBuild: number;
  /** A cached limit is recomputed after this long even if nothing changed (ms). */
  limitMaxAgeMs: number;
}

export const DEFAULT_SNAPSHOT_OPTIONS: SnapshotOptions = { maxStations: 2000, maxPredictionsPerBuild: 200, limitMaxAgeMs: 60_000 };

export interface SnapshotDeps {
  db: Kysely<Database>;
  smart: Pick<SmartChargingService, 'installed' | 'predictComposite'>;
  balancer: Pick<LoadBalancer, 'list'>;
  clock: Clock;
  log: Logger;
  nodeId: string;
  options?: Partial<SnapshotOptions>;
}

/** How far ahead the prediction looks for the next change of the limit. */
const HORIZON_S = 3600;

interface CachedLimit {
  view: Omit<LimitView, 'stale'>;
  validUntil: number;
}

const worstStatus = (statuses: readonly string[]): string => {
  if (statuses.length === 0) return 'Unknown';
  for (const s of ['Faulted', 'Occupied', 'Reserved']) if (statuses.includes(s)) return s;
  if (statuses.every((s) => s === 'Unavailable')) return 'Unavailable';
  return statuses.includes('Available') ? 'Available' : (statuses[0] ?? 'Unknown');
};

/** `…1234`: enough for an operator to tell sessions apart, not enough to copy a card. */
export function maskToken(token: string | null): string | null {
  if (token === null || token === '') return null;
  return token.length <= 4 ? '…' : `…${token.slice(-4)}`;
}

/** The transaction id profiles carry: 1.6 the integer Ampline allocated, 2.0.1 the station's id. */
const wireTxId = (t: { protocol: string; tx_number: number | null; ocpp_tx_id: string }): string =>
  t.protocol === 'ocpp1.6' && t.tx_number !== null ? String(t.tx_number) : t.ocpp_tx_id;

const zeroPhases = (): Record<Phase, number> => ({ L1: 0, L2: 0, L3: 0 });
const round1 = (x: number): number => Math.round(x * 10) / 10;

export class SnapshotBuilder {
  private readonly opts: SnapshotOptions;
  private readonly limits = new Map<string, CachedLimit>();

  constructor(private readonly deps: SnapshotDeps) {
    this.opts = { ...DEFAULT_SNAPSHOT_OPTIONS, ...deps.options };
  }

  /**
   * Domain events that change what a cached limit depends on drop the station's entries: its profiles
   * changed, it rebooted, or a transaction started or ended there (a remote-start TxProfile is bound to
   * its transaction then). Meter updates do not: the cache key holds the transaction, not the readings.
   */
  onEvent(e: DomainEvent): void {
    const stationId =
      e.type === 'ChargingProfilesChanged' || e.type === 'StationBooted'
        ? e.stationId
        : e.type === 'TransactionEvent' && !e.duplicate && e.event.eventType !== 'Updated'
          ? e.event.stationId
          : undefined;
    if (stationId === undefined) return;
    const prefix = `${stationId}\u0000`;
    for (const k of this.limits.keys()) if (k.startsWith(prefix)) this.limits.delete(k);
  }

  async build(): Promise<DashboardSnapshot> {
    const db = this.deps.db;
    const now = this.deps.clock.now();
    const nowMs = now.getTime();

    const [counts, stationRows, txRows, pairingRows, partnerRows, outboxRows] = await Promise.all([
      db
        .selectFrom('stations')
        .select((eb) => [eb.fn.countAll<number | string>().as('n'), eb.fn.sum<number | string | null>('online').as('online')])
        .executeTakeFirst(),
      db
        .selectFrom('stations')
        .select(['id', 'protocol', 'online', 'registration_status', 'vendor', 'model', 'last_seen_at'])
        .orderBy('id')
        .limit(this.opts.maxStations)
        .execute(),
      db
        .selectFrom('transactions')
        .select(['id', 'station_id', 'evse_id', 'connector_id', 'ocpp_tx_id', 'tx_number', 'protocol', 'id_token', 'started_at', 'charging_state', 'power_w', 'energy_wh', 'soc', 'last_meter_at'])
        .where('state', '=', 'active')
        .orderBy('started_at')
        .execute(),
      db.selectFrom('pairings').select(['station_id', 'partner_id', 'payload_protocol', 'origin', 'paired_at']).execute(),
      // Never selectAll here: the partner row holds the client secret and the SCSP's API key.
      db.selectFrom('scsp_partners').select(['id', 'name', 'enabled']).orderBy('id').execute(),
      db
        .selectFrom('outbox')
        .select((eb) => ['station_id', 'partner_id', 'state', eb.fn.countAll<number | string>().as('n'), eb.fn.min('created_at').as('oldest')])
        .where('state', 'in', ['pending', 'dead'])
        .groupBy(['station_id', 'partner_id', 'state'])
        .execute(),
    ]);
    const totalStations = Number(counts?.n ?? 0);
    const truncatedStations = totalStations > stationRows.length;
    const listed = stationRows.map((s) => s.id);
    let connectorQuery = db
      .selectFrom('connectors')
      .select(['station_id', 'evse_id', 'connector_id', 'status', 'ocpp_status', 'error_code', 'status_at'])
      .where('evse_id', '>', 0)
      .where('connector_id', '>', 0);
    if (truncatedStations) connectorQuery = connectorQuery.where('station_id', 'in', listed.length > 0 ? listed : ['\u0000']);
    const connectorRows = await connectorQuery.orderBy('station_id').orderBy('evse_id').orderBy('connector_id').execute();

    const online = new Map(stationRows.map((s) => [s.id, s.online === 1]));
    const siteOf = new Map<string, string>();
    const sites = this.deps.balancer.list();
    for (const s of sites) for (const st of s.site.stations) siteOf.set(st.id, s.site.id);

    // ── sessions and their limits ──
    const installedMemo = new Map<string, Promise<ProfileRecord[]>>();
    const installed = (stationId: string): Promise<ProfileRecord[]> => {
      let p = installedMemo.get(stationId);
      if (!p) installedMemo.set(stationId, (p = this.deps.smart.installed(stationId)));
      return p;
    };
    let budget = this.opts.maxPredictionsPerBuild;
    let staleLimits = 0;
    const sessions: SessionView[] = [];
    for (const t of txRows) {
      const txId = wireTxId(t);
      const key = `${t.station_id}\u0000${t.evse_id}\u0000${txId}`;
      const cached = this.limits.get(key);
      let limit: LimitView | null = null;
      if (cached && cached.validUntil > nowMs) {
        limit = { ...cached.view, stale: false };
      } else if (budget > 0 && t.evse_id > 0) {
        budget--;
        try {
          const fresh = await this.predict(t.station_id, t.evse_id, txId, installed, now);
          this.limits.set(key, fresh);
          limit = { ...fresh.view, stale: false };
        } catch (err) {
          this.deps.log.warn({ err, stationId: t.station_id, evseId: t.evse_id }, 'dashboard: limit prediction failed');
        }
      } else if (cached) {
        limit = { ...cached.view, stale: true };
        staleLimits++;
      } else if (t.evse_id > 0) {
        staleLimits++;
      }
      sessions.push({
        id: t.id,
        stationId: t.station_id,
        evseId: t.evse_id,
        connectorId: t.connector_id,
        idToken: maskToken(t.id_token),
        startedAt: t.started_at,
        chargingState: t.charging_state,
        powerW: t.power_w,
        energyWh: t.energy_wh,
        soc: t.soc,
        lastMeterAt: t.last_meter_at,
        stationOnline: online.get(t.station_id) ?? false,
        limit,
      });
    }
    // Entries of transactions that are no longer active go (the cache never outgrows the sessions).
    const live = new Set(txRows.map((t) => `${t.station_id}\u0000${t.evse_id}\u0000${wireTxId(t)}`));
    for (const k of this.limits.keys()) if (!live.has(k)) this.limits.delete(k);

    // ── stations ──
    const sessionByEvse = new Map(sessions.map((s) => [`${s.stationId}/${s.evseId}`, s]));
    const connectorsOf = new Map<string, Map<number, ConnectorView[]>>();
    for (const c of connectorRows) {
      let evses = connectorsOf.get(c.station_id);
      if (!evses) connectorsOf.set(c.station_id, (evses = new Map()));
      let list = evses.get(c.evse_id);
      if (!list) evses.set(c.evse_id, (list = []));
      list.push({ connectorId: c.connector_id, status: c.status, ocppStatus: c.ocpp_status, errorCode: c.error_code, statusAt: c.status_at });
    }
    const pairingOf = new Map(pairingRows.map((p) => [p.station_id, p]));
    const backlogOf = new Map<string, { pending: number; dead: number }>();
    const partnerBacklog = new Map<string, { pending: number; dead: number; oldestPendingAt: string | null }>();
    let pendingTotal = 0;
    let deadTotal = 0;
    let oldestPendingAt: string | null = null;
    for (const r of outboxRows) {
      const n = Number(r.n);
      const b = backlogOf.get(r.station_id) ?? { pending: 0, dead: 0 };
      const pb = partnerBacklog.get(r.partner_id) ?? { pending: 0, dead: 0, oldestPendingAt: null };
      if (r.state === 'pending') {
        b.pending += n;
        pb.pending += n;
        pendingTotal += n;
        const oldest = typeof r.oldest === 'string' ? r.oldest : null;
        if (oldest !== null && (pb.oldestPendingAt === null || oldest < pb.oldestPendingAt)) pb.oldestPendingAt = oldest;
        if (oldest !== null && (oldestPendingAt === null || oldest < oldestPendingAt)) oldestPendingAt = oldest;
      } else {
        b.dead += n;
        pb.dead += n;
        deadTotal += n;
      }
      backlogOf.set(r.station_id, b);
      partnerBacklog.set(r.partner_id, pb);
    }
    const stations: StationView[] = stationRows.map((s) => {
      const evses = [...(connectorsOf.get(s.id) ?? new Map<number, ConnectorView[]>())].map(([evseId, connectors]): EvseView => {
        const session = sessionByEvse.get(`${s.id}/${evseId}`);
        return {
          evseId,
          status: worstStatus(connectors.map((c) => c.status)),
          connectors,
          sessionId: session?.id ?? null,
          powerW: session?.powerW ?? null,
        };
      });
      const p = pairingOf.get(s.id);
      return {
        id: s.id,
        protocol: s.protocol,
        online: s.online === 1,
        registrationStatus: s.registration_status,
        vendor: s.vendor,
        model: s.model,
        lastSeenAt: s.last_seen_at,
        siteId: siteOf.get(s.id) ?? null,
        pairing: p ? { partnerId: p.partner_id, payloadProtocol: p.payload_protocol, origin: p.origin, pairedAt: p.paired_at } : null,
        outbox: backlogOf.get(s.id) ?? { pending: 0, dead: 0 },
        evses,
      };
    });

    const siteViews = await this.sites(sites, sessions);
    const powerW = sessions.reduce((a, s) => a + (s.powerW ?? 0), 0);
    const limitW = sessions.reduce((a, s) => a + (s.limit?.limitW ?? 0), 0);
    return {
      generatedAt: now.toISOString(),
      node: this.deps.nodeId,
      totals: {
        stations: totalStations,
        stationsOnline: Number(counts?.online ?? 0),
        sessions: sessions.length,
        powerW: round1(powerW),
        limitW: round1(limitW),
      },
      stations,
      sessions,
      outbox: {
        pending: pendingTotal,
        dead: deadTotal,
        oldestPendingAt,
        partners: partnerRows.map((p) => ({
          partnerId: p.id,
          name: p.name,
          enabled: p.enabled === 1,
          ...(partnerBacklog.get(p.id) ?? { pending: 0, dead: 0, oldestPendingAt: null }),
        })),
      },
      sites: siteViews,
      truncated: { stations: truncatedStations, staleLimits },
    };
  }

  private async predict(
    stationId: string,
    evseId: number,
    txId: string,
    installed: (stationId: string) => Promise<ProfileRecord[]>,
    now: Date,
  ): Promise<CachedLimit> {
    const [c, records] = await Promise.all([this.deps.smart.predictComposite(stationId, evseId, HORIZON_S, 'W'), installed(stationId)]);
    const first = c.chargingSchedulePeriod[0];
    const next = c.chargingSchedulePeriod[1];
    // Profiles that can govern this EVSE's session: its own or station-wide, TxProfiles of this transaction only.
    const applying = records.filter(
      (r) =>
        (r.profile.evseId === evseId || r.profile.evseId === 0) &&
        (r.profile.chargingProfilePurpose !== 'TxProfile' || r.profile.transactionId === undefined || r.profile.transactionId === txId),
    );
    const changesAtMs = next ? c.scheduleStart + next.startPeriod * 1000 : undefined;
    const view: Omit<LimitView, 'stale'> = {
      limitW: first?.limit ?? 0,
      ...(first?.numberPhases !== undefined ? { numberPhases: first.numberPhases } : {}),
      basis: applying.length > 0 ? 'profiles' : 'evse-max',
      sources: [...new Set(applying.map((r) => r.source))].sort(),
      changesAt: changesAtMs !== undefined ? new Date(changesAtMs).toISOString() : null,
      computedAt: now.toISOString(),
    };
    const nowMs = now.getTime();
    return { view, validUntil: Math.min(nowMs + this.opts.limitMaxAgeMs, changesAtMs ?? Infinity) };
  }

  /**
   * Sites with their last tick. The allocations are keyed `station/evse/transaction`; the phases each
   * EVSE loads follow the balancer's rule (configured in the site, else 1φ for AC_1_PHASE or 1-phase
   * connectors, else all three), so "allocated per phase" is what the balancer counted against the budget.
   */
  private async sites(list: ReturnType<LoadBalancer['list']>, sessions: readonly SessionView[]): Promise<SiteView[]> {
    if (list.length === 0) return [];
    // One query for every site; the answer follows the stations' order, so each site's share is the next
    // `stations.length` entries.
    const wired = await evseWiring(this.deps.db, list.flatMap((s) => s.site.stations));
    let next = 0;
    const perSite = list.map(({ site }) => wired.slice(next, (next += site.stations.length)));
    return list.map(({ site, lastTick }, i): SiteView => {
      const wiring = byEvse(perSite[i]!);
      const voltage = site.voltage ?? 230;
      const measured = zeroPhases();
      for (const s of sessions) {
        const phases = wiring.get(`${s.stationId}/${s.evseId}`);
        if (!phases || s.powerW === null) continue;
        for (const ph of phases) measured[ph] += s.powerW / (phases.length * voltage);
      }
      const lim = site.limit;
      const limit: SiteView['limit'] =
        'perPhaseA' in lim
          ? { perPhaseA: typeof lim.perPhaseA === 'number' ? { L1: lim.perPhaseA, L2: lim.perPhaseA, L3: lim.perPhaseA } : { ...lim.perPhaseA }, marginA: lim.marginA ?? 0 }
          : { totalPowerW: lim.totalPowerW, marginW: lim.marginW ?? 0 };
      let tick: SiteView['lastTick'] = null;
      if (lastTick) {
        const allocated = zeroPhases();
        let allocatedPhaseA = 0;
        const allocations: NonNullable<SiteView['lastTick']>['allocations'] = [];
        for (const a of lastTick.result.allocations) {
          const evse = [...wiring.keys()].find((k) => a.key.startsWith(`${k}/`));
          if (evse === undefined) continue;
          const phases = wiring.get(evse) ?? PHASES;
          for (const ph of phases) allocated[ph] += a.allocatedA;
          allocatedPhaseA += a.allocatedA * phases.length;
          const slash = evse.lastIndexOf('/');
          allocations.push({
            stationId: evse.slice(0, slash),
            evseId: Number(evse.slice(slash + 1)),
            allocatedA: a.allocatedA,
            change: a.change,
            pausedBecause: a.pausedBecause ?? null,
          });
        }
        const b = lastTick.result.budget;
        tick = {
          at: lastTick.at,
          baseLoad: lastTick.result.baseLoad,
          minimumsFit: lastTick.result.minimumsFit,
          budget: {
            ...(b.perPhaseA ? { perPhaseA: { L1: round1(b.perPhaseA.L1), L2: round1(b.perPhaseA.L2), L3: round1(b.perPhaseA.L3) } } : {}),
            ...(b.totalPhaseA !== undefined ? { totalPhaseA: round1(b.totalPhaseA) } : {}),
          },
          allocatedPerPhaseA: { L1: round1(allocated.L1), L2: round1(allocated.L2), L3: round1(allocated.L3) },
          allocatedPhaseA: round1(allocatedPhaseA),
          allocations,
        };
      }
      return {
        id: site.id,
        limit,
        voltage,
        tickS: site.tickS ?? 15,
        stations: site.stations.map((s) => s.id),
        lastTick: tick,
        measuredPerPhaseA: { L1: round1(measured.L1), L2: round1(measured.L2), L3: round1(measured.L3) },
      };
    });
  }
}

/** `station/evse` → the phases it loads (the balancer's `evseWiring`). */
function byEvse(stations: readonly StationEvses[]): Map<string, readonly Phase[]> {
  return new Map(stations.flatMap((st) => st.evses.map((e): [string, readonly Phase[]] => [`${st.stationId}/${e.evseId}`, e.phases])));
}
