/**
 * Site load balancing, the I/O shell around the pure tick of src/smart/balancer.ts (issue 5 §4).
 *
 * A site is a group of EVSEs behind one limit (per-phase fuse or total power). For every site the shell:
 * - installs a **fallback TxDefaultProfile** on each EVSE when its station boots or connects: the static
 *   budget shared equally, so a session that starts before the next tick, or a station that loses the
 *   CSMS, stays within the site limit on its own. One the station refuses (e.g. a stack-level conflict
 *   with an operator's TxDefault) is retried with an exponential back-off per EVSE (1 min doubling to
 *   15 min, one warning per step), from scratch when the station connects or boots, when someone else
 *   changes its profiles, or when the site is redefined;
 * - **ticks** every `tickS` seconds and, debounced, on every transaction start/end, connector status,
 *   meter value and charging-profile change of its stations: it reads the active sessions, asks the pure
 *   `balance()` for allocations and sends them as TxProfiles (stack level = the station's maximum, a
 *   bounded duration so an offline station falls back to its TxDefault);
 * - sends **decreases before increases** and waits for the decreases to be accepted, so the sum of the
 *   limits in force never exceeds the budget during a change;
 * - treats every other profile the station is under (SCSP plan, management limit, station maximum) as
 *   the session's `planA`: the balancer's TxProfile is min(plan, allocation).
 *
 * Sessions are counted on the phases their EVSE is wired to (a 1φ EV on a 3φ EVSE is counted on three:
 * conservative, never unsafe).
 */
import { readFileSync } from 'node:fs';
import type { Kysely } from 'kysely';
import type { Database } from '../store/schema.js';
import type { DomainEvents } from './events.js';
import type { SmartChargingService } from './smart-charging.js';
import type { Clock } from '../util/clock.js';
import type { Logger } from '../util/log.js';
import {
  allocationProfile,
  balance,
  fallbackLimits,
  type BalancerParams,
  type BalancerSession,
  type SiteGroup,
  type StationEvses,
  type TickResult,
} from '../smart/balancer.js';
import { compositeSchedule } from '../smart/composite.js';
import type { ChargingProfile } from '../smart/profile.js';
import { PHASES, amps, epochMs, seconds, volts, wattsToAmps, type Amps, type Phase, type Watts } from '../smart/units.js';
import { evsePhases } from '../smart/wiring.js';
import { ConfigError } from '../config.js';

/** Profile ids the balancer uses on a station: allocation TxProfile and fallback TxDefault per EVSE. */
export const BALANCER_TX_PROFILE_BASE = 9000;
export const BALANCER_FALLBACK_PROFILE_BASE = 9500;

/** Back-off of a refused fallback TxDefault: first retry after this, doubling per refusal up to the maximum. */
export const FALLBACK_RETRY_INITIAL_MS = 60_000;
export const FALLBACK_RETRY_MAX_MS = 15 * 60_000;

export interface SiteDefinition {
  id: string;
  /** Per-phase fuse (A) or total connection power (W). */
  limit: { perPhaseA: number | { L1: number; L2: number; L3: number }; marginA?: number } | { totalPowerW: number; marginW?: number };
  /** Line-to-neutral voltage (default 230 V). */
  voltage?: number;
  /** Worst-case non-EV load per phase assumed without a fresh measurement (default 0). */
  fallbackBaseLoadA?: number;
  /** Seconds between ticks (default 15). */
  tickS?: number;
  /** Member stations; `evses` maps an EVSE id to the phases it is wired to (default: from its connectors). */
  stations: Array<{ id: string; evses?: Record<string, Phase[]> }>;
}

const DEFAULT_PARAMS: BalancerParams = {
  hysteresisA: amps(1),
  minChangeA: amps(1),
  rotationPeriodS: seconds(900),
  reclaimThresholdA: amps(3),
};

/** Validates a site definition (config file or API) with messages that name the field. */
export function parseSites(raw: unknown, where = 'sites'): SiteDefinition[] {
  const fail = (path: string, msg: string): never => {
    throw new ConfigError(`${where}: ${path} ${msg}`);
  };
  const list = raw !== null && typeof raw === 'object' && !Array.isArray(raw) && 'sites' in raw ? (raw as { sites: unknown }).sites : raw;
  if (!Array.isArray(list)) return fail('', 'must be an array of sites (or an object with "sites")');
  const ids = new Set<string>();
  const stationsSeen = new Map<string, string>();
  return list.map((s: unknown, i): SiteDefinition => {
    const at = `[${i}]`;
    if (s === null || typeof s !== 'object') return fail(at, 'must be an object');
    const o = s as Record<string, unknown>;
    if (typeof o.id !== 'string' || o.id === '') fail(`${at}.id`, 'must be a non-empty string');
    const id = o.id as string;
    if (ids.has(id)) fail(`${at}.id`, `"${id}" is used twice`);
    ids.add(id);
    const num = (v: unknown, path: string, min: number): number => {
      if (typeof v !== 'number' || !Number.isFinite(v) || v < min) fail(path, `must be a number ≥ ${min}`);
      return v as number;
    };
    const l = o.limit as Record<string, unknown> | undefined;
    if (!l || typeof l !== 'object') fail(`${at}.limit`, 'must be {perPhaseA, marginA?} or {totalPowerW, marginW?}');
    let limit: SiteDefinition['limit'];
    if ('perPhaseA' in l!) {
      const p = l!.perPhaseA;
      const perPhaseA =
        typeof p === 'number'
          ? num(p, `${at}.limit.perPhaseA`, 0)
          : p && typeof p === 'object'
            ? { L1: num((p as Record<string, unknown>).L1, `${at}.limit.perPhaseA.L1`, 0), L2: num((p as Record<string, unknown>).L2, `${at}.limit.perPhaseA.L2`, 0), L3: num((p as Record<string, unknown>).L3, `${at}.limit.perPhaseA.L3`, 0) }
            : fail(`${at}.limit.perPhaseA`, 'must be a number or {L1, L2, L3}');
      limit = { perPhaseA, ...(l!.marginA !== undefined ? { marginA: num(l!.marginA, `${at}.limit.marginA`, 0) } : {}) };
    } else if ('totalPowerW' in l!) {
      limit = { totalPowerW: num(l!.totalPowerW, `${at}.limit.totalPowerW`, 0), ...(l!.marginW !== undefined ? { marginW: num(l!.marginW, `${at}.limit.marginW`, 0) } : {}) };
    } else {
      return fail(`${at}.limit`, 'must be {perPhaseA, marginA?} or {totalPowerW, marginW?}');
    }
    if (!Array.isArray(o.stations) || o.stations.length === 0) fail(`${at}.stations`, 'must be a non-empty array');
    const stations = (o.stations as unknown[]).map((st, j) => {
      const sp = `${at}.stations[${j}]`;
      if (!st || typeof st !== 'object' || typeof (st as { id?: unknown }).id !== 'string') return fail(`${sp}.id`, 'must be a string');
      const sid = (st as { id: string }).id;
      const other = stationsSeen.get(sid);
      if (other !== undefined) fail(`${sp}.id`, `station ${sid} is already in site ${other}`);
      stationsSeen.set(sid, id);
      const evses = (st as { evses?: unknown }).evses;
      if (evses === undefined) return { id: sid };
      if (!evses || typeof evses !== 'object' || Array.isArray(evses)) return fail(`${sp}.evses`, 'must map EVSE ids to phase lists');
      const out: Record<string, Phase[]> = {};
      for (const [k, v] of Object.entries(evses)) {
        if (!/^[1-9]\d*$/.test(k)) fail(`${sp}.evses`, `key "${k}" is not an EVSE id`);
        if (!Array.isArray(v) || v.length === 0 || v.some((x) => !(PHASES as readonly unknown[]).includes(x)) || new Set(v).size !== v.length) {
          fail(`${sp}.evses.${k}`, 'must be a list of distinct phases L1, L2, L3');
        }
        out[k] = v as Phase[];
      }
      return { id: sid, evses: out };
    });
    const def: SiteDefinition = { id, limit, stations };
    if (o.voltage !== undefined) def.voltage = num(o.voltage, `${at}.voltage`, 1);
    if (o.fallbackBaseLoadA !== undefined) def.fallbackBaseLoadA = num(o.fallbackBaseLoadA, `${at}.fallbackBaseLoadA`, 0);
    if (o.tickS !== undefined) def.tickS = num(o.tickS, `${at}.tickS`, 1);
    return def;
  });
}

/** Reads and validates AMPLINE_SITES_FILE. */
export function loadSitesFile(path: string): SiteDefinition[] {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new ConfigError(`AMPLINE_SITES_FILE: cannot read ${path}: ${(err as Error).message}`);
  }
  return parseSites(raw, `AMPLINE_SITES_FILE ${path}`);
}

/**
 * The EVSEs of each station (in the order given) with the phases they are wired to, by the rule of
 * src/smart/wiring.ts, from the connectors the store knows. The dashboard shows allocations by it too.
 */
export async function evseWiring(db: Kysely<Database>, stations: SiteDefinition['stations']): Promise<StationEvses[]> {
  const rows = await db
    .selectFrom('connectors')
    .select(['station_id', 'evse_id', 'power_type', 'phases'])
    .where('station_id', 'in', stations.map((s) => s.id))
    .where('evse_id', '>', 0)
    .where('connector_id', '>', 0)
    .execute();
  return stations.map((st) => ({
    stationId: st.id,
    evses: [...evsePhases(st.evses, rows.filter((x) => x.station_id === st.id))].map(([evseId, phases]) => ({ evseId, phases })),
  }));
}

/** How a send went: Accepted, another answer, or an error (not sent, timeout, CALLERROR). */
type SendOutcome = { ok: true } | { ok: false; status: string } | { ok: false; err: unknown };

const outcomeDetail = (o: Exclude<SendOutcome, { ok: true }>): { status: string } | { err: unknown } => ('err' in o ? { err: o.err } : { status: o.status });

/** Drops the `station/evse` entries of one station. */
function forgetStation(m: Map<string, unknown>, stationId: string): void {
  for (const k of [...m.keys()]) if (k.startsWith(`${stationId}/`)) m.delete(k);
}

interface SessionState {
  currentA: number;
  stateSince: number;
  lastSentAt: number;
}

export interface SiteStatus {
  site: SiteDefinition;
  lastTick?: { at: string; result: TickResult };
}

interface SiteRuntime {
  def: SiteDefinition;
  group: SiteGroup;
  timer: NodeJS.Timeout | undefined;
  debounce: NodeJS.Timeout | undefined;
  running: Promise<void> | undefined;
  again: boolean;
  sessions: Map<string, SessionState>;
  lastTick?: { at: string; result: TickResult };
}

export class LoadBalancer {
  private readonly sites = new Map<string, SiteRuntime>();
  private readonly siteOfStation = new Map<string, string>();
  private unsubscribe: (() => void) | undefined;
  private stopped = false;

  constructor(
    private readonly deps: {
      db: Kysely<Database>;
      clock: Clock;
      log: Logger;
      events: DomainEvents;
      smart: SmartChargingService;
      params?: Partial<BalancerParams>;
      /** Debounce for event-triggered ticks (ms). */
      debounceMs?: number;
    },
  ) {}

  private get params(): BalancerParams {
    return { ...DEFAULT_PARAMS, ...this.deps.params };
  }

  start(defs: readonly SiteDefinition[]): void {
    for (const d of defs) this.setSite(d);
    this.unsubscribe = this.deps.events.subscribe((e) => {
      const stationId =
        e.type === 'TransactionEvent'
          ? e.event.stationId
          : e.type === 'ConnectorStatusChanged'
            ? e.report.stationId
            : e.type === 'StationDisconnected' || e.type === 'StationBooted' || e.type === 'StationConnected' || e.type === 'MeterValues' || e.type === 'ChargingProfilesChanged'
              ? e.stationId
              : undefined;
      if (stationId === undefined) return;
      const siteId = this.siteOfStation.get(stationId);
      if (siteId === undefined) return;
      // A (re)booted station gets its fallback again, once its EVSEs are known (next tick).
      if (e.type === 'StationBooted') forgetStation(this.fallbackDone, stationId);
      // A station that connects or boots gets a refused fallback retried at once.
      if (e.type === 'StationBooted' || e.type === 'StationConnected') this.retryFallbacksNow(stationId);
      // Our own profile changes must not trigger a new tick (the tick caused them).
      if (e.type === 'ChargingProfilesChanged' && this.ownChange.has(stationId)) return;
      // Someone else changed the station's profiles (e.g. removed a conflicting TxDefault): retry at once.
      if (e.type === 'ChargingProfilesChanged' && !this.sending.has(stationId)) this.retryFallbacksNow(stationId);
      this.schedule(siteId);
    });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.unsubscribe?.();
    for (const s of this.sites.values()) {
      if (s.timer) clearInterval(s.timer);
      if (s.debounce) clearTimeout(s.debounce);
    }
    await Promise.all([...this.sites.values()].map((s) => s.running?.catch(() => undefined)));
  }

  /** Add or replace a site (takes effect at the next tick). */
  setSite(def: SiteDefinition): void {
    this.removeSite(def.id);
    const lim = def.limit;
    const perPhase = 'perPhaseA' in lim ? (typeof lim.perPhaseA === 'number' ? { L1: lim.perPhaseA, L2: lim.perPhaseA, L3: lim.perPhaseA } : lim.perPhaseA) : undefined;
    const base = def.fallbackBaseLoadA ?? 0;
    const group: SiteGroup = {
      id: def.id,
      limit:
        perPhase !== undefined
          ? { kind: 'perPhase', limitA: { L1: amps(perPhase.L1), L2: amps(perPhase.L2), L3: amps(perPhase.L3) }, marginA: amps('marginA' in lim ? (lim.marginA ?? 0) : 0) }
          : { kind: 'totalPower', limitW: ('totalPowerW' in lim ? lim.totalPowerW : 0) as Watts, marginW: ('marginW' in lim ? (lim.marginW ?? 0) : 0) as Watts },
      voltage: volts(def.voltage ?? 230),
      maxBaseLoadAgeS: seconds(120),
      fallbackBaseLoadA: { L1: amps(base), L2: amps(base), L3: amps(base) },
    };
    const rt: SiteRuntime = { def, group, timer: undefined, debounce: undefined, running: undefined, again: false, sessions: new Map() };
    rt.timer = setInterval(() => this.schedule(def.id, 0), (def.tickS ?? 15) * 1000);
    rt.timer.unref();
    this.sites.set(def.id, rt);
    for (const st of def.stations) this.siteOfStation.set(st.id, def.id);
    // The budget may have changed: every fallback is recomputed and sent again at the next tick.
    for (const st of def.stations) {
      forgetStation(this.fallbackDone, st.id);
      this.retryFallbacksNow(st.id);
    }
    this.schedule(def.id, 0);
  }

  removeSite(id: string): void {
    const s = this.sites.get(id);
    if (!s) return;
    if (s.timer) clearInterval(s.timer);
    if (s.debounce) clearTimeout(s.debounce);
    for (const st of s.def.stations) this.siteOfStation.delete(st.id);
    this.sites.delete(id);
  }

  status(id: string): SiteStatus | undefined {
    const s = this.sites.get(id);
    return s ? { site: s.def, ...(s.lastTick ? { lastTick: s.lastTick } : {}) } : undefined;
  }

  list(): SiteStatus[] {
    return [...this.sites.keys()].map((id) => this.status(id) as SiteStatus);
  }

  /** Request a tick (debounced); resolves when a tick that started after the request has finished. */
  schedule(siteId: string, delayMs = this.deps.debounceMs ?? 200): void {
    const s = this.sites.get(siteId);
    if (!s || this.stopped) return;
    if (s.debounce) return;
    s.debounce = setTimeout(() => {
      s.debounce = undefined;
      void this.tick(siteId);
    }, delayMs);
  }

  /** Run one tick now (serialised per site: a request during a tick runs once more afterwards). */
  async tick(siteId: string): Promise<TickResult | undefined> {
    const s = this.sites.get(siteId);
    if (!s || this.stopped) return undefined;
    if (s.running) {
      s.again = true;
      await s.running;
      return s.lastTick?.result;
    }
    s.running = (async () => {
      do {
        s.again = false;
        try {
          await this.runTick(s);
        } catch (err) {
          this.deps.log.error({ err, site: siteId }, 'load-balancer tick failed');
        }
      } while (s.again && !this.stopped);
    })();
    try {
      await s.running;
    } finally {
      s.running = undefined;
    }
    return s.lastTick?.result;
  }

  private readonly ownChange = new Set<string>();
  /**
   * How many balancer sends are under way per station. `ownChange` is cleared by the first of several
   * concurrent sends to finish (the profile changes of the others then tick again, as they always have);
   * this count tells a profile change of someone else, which restarts the fallback back-off, exactly.
   */
  private readonly sending = new Map<string, number>();

  /** Sends one of the balancer's profiles as our own change; says why when the station did not take it. */
  private async sendProfile(stationId: string, run: () => Promise<{ status: string }>): Promise<SendOutcome> {
    this.ownChange.add(stationId);
    this.sending.set(stationId, (this.sending.get(stationId) ?? 0) + 1);
    try {
      const res = await run();
      return res.status === 'Accepted' ? { ok: true } : { ok: false, status: res.status };
    } catch (err) {
      return { ok: false, err };
    } finally {
      this.ownChange.delete(stationId);
      const left = (this.sending.get(stationId) ?? 1) - 1;
      if (left > 0) this.sending.set(stationId, left);
      else this.sending.delete(stationId);
    }
  }

  /** When each `station/evse` last got its fallback TxDefault (forgotten when the station boots). */
  private readonly fallbackDone = new Map<string, number>();

  /** `station/evse` whose fallback TxDefault was refused: refusals in a row and when to try again. */
  private readonly fallbackRetry = new Map<string, { refusals: number; at: number }>();

  /** The station's refused fallbacks are tried again at the next tick, their back-off from the start. */
  private retryFallbacksNow(stationId: string): void {
    for (const k of this.fallbackRetry.keys()) if (k.startsWith(`${stationId}/`)) this.fallbackRetry.set(k, { refusals: 0, at: 0 });
  }

  /** How long a fallback's hold (0 A) lasts: it must outlive a few ticks, it is renewed at half of it. */
  private holdS(s: SiteRuntime): number {
    return Math.max(120, 4 * (s.def.tickS ?? 15));
  }

  /**
   * The fallback TxDefault of every known EVSE of the site's online stations, sent when missing and
   * renewed before its hold runs out. It is Absolute from now: 0 A for `holdS` (a session that starts
   * waits for its allocation at the next, event-triggered tick instead of taking capacity the others
   * already have), then the static safe share for ever (the station lost the CSMS: the share of the
   * static budget, which is safe whatever the other stations do).
   */
  private async ensureFallbacks(s: SiteRuntime, wiring: readonly StationEvses[], now: number): Promise<void> {
    const known = await this.deps.db
      .selectFrom('connectors')
      .innerJoin('stations', 'stations.id', 'connectors.station_id')
      .select(['connectors.station_id', 'connectors.evse_id'])
      .where('connectors.station_id', 'in', s.def.stations.map((x) => x.id))
      .where('connectors.evse_id', '>', 0)
      .where('stations.online', '=', 1)
      .execute();
    const holdS = this.holdS(s);
    const due = new Set(
      known
        .map((r) => `${r.station_id}/${r.evse_id}`)
        .filter((k) => now - (this.fallbackDone.get(k) ?? 0) >= (holdS * 1000) / 2 && now >= (this.fallbackRetry.get(k)?.at ?? 0)),
    );
    if (due.size === 0) return;
    const start = Math.floor(now / 1000) * 1000;
    await Promise.all(
      fallbackLimits(s.group, wiring)
        .filter((f) => due.has(`${f.stationId}/${f.evseId}`))
        .map(async (f) => {
          const id = BALANCER_FALLBACK_PROFILE_BASE + f.evseId;
          const phases = f.numberPhases !== 3 ? { numberPhases: f.numberPhases } : {};
          const periods = [{ startPeriod: seconds(0), limit: amps(0), ...phases }];
          if (f.limitA > 0) periods.push({ startPeriod: seconds(holdS), limit: f.limitA, ...phases });
          const profile: ChargingProfile = {
            id,
            evseId: f.evseId,
            stackLevel: 0,
            chargingProfilePurpose: 'TxDefaultProfile',
            chargingProfileKind: 'Absolute',
            chargingSchedule: [{ id, startSchedule: epochMs(start), chargingRateUnit: 'A', chargingSchedulePeriod: periods }],
          };
          const key = `${f.stationId}/${f.evseId}`;
          const sent = await this.sendProfile(f.stationId, () => this.deps.smart.set(f.stationId, profile, { source: 'balancer' }));
          const retry = this.fallbackRetry.get(key);
          if (sent.ok) {
            this.fallbackDone.set(key, now);
            if (retry) {
              this.fallbackRetry.delete(key);
              this.deps.log.info({ stationId: f.stationId, evseId: f.evseId }, 'station took the load-balancer fallback TxDefault it had refused');
            }
            return;
          }
          // Refused: try again after a back-off (doubling, capped), not at every tick; one warning a step.
          const refusals = (retry?.refusals ?? 0) + 1;
          const delayMs = Math.min(FALLBACK_RETRY_MAX_MS, FALLBACK_RETRY_INITIAL_MS * 2 ** (refusals - 1));
          this.fallbackRetry.set(key, { refusals, at: now + delayMs });
          this.deps.log.warn(
            { stationId: f.stationId, evseId: f.evseId, ...outcomeDetail(sent), refusals, retryInS: delayMs / 1000 },
            'load-balancer fallback TxDefault not installed; retrying after a back-off',
          );
        }),
    );
  }

  private async runTick(s: SiteRuntime): Promise<void> {
    const now = this.deps.clock.now().getTime();
    const def = s.def;
    const wiring = await evseWiring(this.deps.db, def.stations);
    await this.ensureFallbacks(s, wiring, now);
    const phasesOf = new Map<string, readonly Phase[]>();
    for (const st of wiring) for (const e of st.evses) phasesOf.set(`${st.stationId}/${e.evseId}`, e.phases);
    const fallbackShare = new Map<string, number>();
    for (const f of fallbackLimits(s.group, wiring)) fallbackShare.set(`${f.stationId}/${f.evseId}`, f.limitA);
    const online = new Set(
      (await this.deps.db.selectFrom('stations').select('id').where('id', 'in', def.stations.map((x) => x.id)).where('online', '=', 1).execute()).map((r) => r.id),
    );

    const txs = await this.deps.db
      .selectFrom('transactions')
      .select(['station_id', 'evse_id', 'ocpp_tx_id', 'tx_number', 'protocol', 'started_at', 'power_w', 'charging_state'])
      .where('station_id', 'in', def.stations.map((x) => x.id))
      .where('state', '=', 'active')
      .execute();
    const connectors = await this.deps.db
      .selectFrom('connectors')
      .select(['station_id', 'evse_id', 'max_current_a'])
      .where('station_id', 'in', def.stations.map((x) => x.id))
      .where('connector_id', '>', 0)
      .execute();

    const sessions: BalancerSession[] = [];
    const info = new Map<string, { stationId: string; evseId: number; transactionId: string; phases: readonly Phase[] }>();
    const live = new Set<string>();
    // An offline station cannot be told anything: its EVSEs are taken as fixed load at what they may
    // draw (the allocation still in force, or the fallback share once it expires), like base load.
    const reserved: Record<Phase, number> = { L1: 0, L2: 0, L3: 0 };
    const offlineTx = new Map(txs.filter((t) => !online.has(t.station_id)).map((t) => [`${t.station_id}/${t.evse_id}`, t]));
    for (const st of wiring) {
      if (online.has(st.stationId)) continue;
      for (const e of st.evses) {
        const evseKey = `${st.stationId}/${e.evseId}`;
        const t = offlineTx.get(evseKey);
        const inForce = t ? [...s.sessions].find(([k]) => k.startsWith(`${evseKey}/`))?.[1].currentA ?? 0 : 0;
        const r = Math.max(inForce, fallbackShare.get(evseKey) ?? 0);
        for (const ph of e.phases) reserved[ph] += r;
      }
    }
    for (const t of txs) {
      const evseKey = `${t.station_id}/${t.evse_id}`;
      const phases = phasesOf.get(evseKey) ?? PHASES;
      const transactionId = t.protocol === 'ocpp1.6' && t.tx_number !== null ? String(t.tx_number) : t.ocpp_tx_id;
      const key = `${evseKey}/${transactionId}`;
      live.add(key);
      if (!online.has(t.station_id)) continue;
      const evseMax = Math.max(0, ...connectors.filter((c) => c.station_id === t.station_id && c.evse_id === t.evse_id).map((c) => c.max_current_a ?? 32));
      const planA = await this.planLimitA(t.station_id, t.evse_id, transactionId, Date.parse(t.started_at), phases.length, now);
      // A session Ampline has not allocated yet is held at 0 A by the fallback TxDefault.
      const prev = s.sessions.get(key) ?? { currentA: 0, stateSince: Date.parse(t.started_at), lastSentAt: 0 };
      s.sessions.set(key, prev);
      const measuredA = t.power_w === null ? undefined : wattsToAmps(t.power_w as Watts, phases.length, s.group.voltage);
      sessions.push({
        key,
        phases,
        minA: amps(6),
        max: { evseA: amps(evseMax || 32), ...(planA !== undefined ? { planA: amps(planA) } : {}) },
        ...(measuredA !== undefined && t.charging_state !== null ? { measuredA: amps(measuredA) } : {}),
        priority: { arrival: epochMs(Date.parse(t.started_at)) },
        currentA: amps(prev.currentA),
        stateSince: epochMs(prev.stateSince),
      });
      info.set(key, { stationId: t.station_id, evseId: t.evse_id, transactionId, phases });
    }
    for (const k of [...s.sessions.keys()]) if (!live.has(k)) s.sessions.delete(k);

    const base = s.group.fallbackBaseLoadA;
    const group: SiteGroup = {
      ...s.group,
      fallbackBaseLoadA: { L1: amps(base.L1 + reserved.L1), L2: amps(base.L2 + reserved.L2), L3: amps(base.L3 + reserved.L3) },
    };
    const result = balance(group, sessions, this.params, epochMs(now));
    s.lastTick = { at: new Date(now).toISOString(), result };
    const ttlS = Math.max(60, 3 * (def.tickS ?? 15));
    const renewBefore = ttlS * 1000 - 1.5 * (def.tickS ?? 15) * 1000;
    // Send what changed, and renew what is about to expire. Decreases (and pauses) first, increases
    // after, so the limits in force never add up past the budget while a change is under way.
    const due = result.allocations.filter((a) => a.send || now - (s.sessions.get(a.key)?.lastSentAt ?? 0) >= renewBefore);
    const decreases = due.filter((a) => a.allocatedA <= (s.sessions.get(a.key)?.currentA ?? 0));
    const increases = due.filter((a) => !decreases.includes(a));
    for (const batch of [decreases, increases]) {
      await Promise.all(
        batch.map(async (a) => {
          const i = info.get(a.key);
          const st = s.sessions.get(a.key);
          if (!i || !st) return;
          const caps = await this.deps.smart.capabilities(i.stationId, (await this.protocolOf(i.stationId)) ?? 'ocpp1.6').catch(() => undefined);
          const profile = allocationProfile(
            { evseId: i.evseId, transactionId: i.transactionId, limitA: a.allocatedA, numberPhases: i.phases.length },
            { profileId: BALANCER_TX_PROFILE_BASE + i.evseId, stackLevel: caps?.maxStackLevel ?? 8, now: epochMs(now), ttlS: seconds(ttlS) },
          );
          const sent = await this.sendProfile(i.stationId, () => this.deps.smart.set(i.stationId, profile, { source: 'balancer' }));
          if (sent.ok) {
            st.currentA = a.allocatedA;
            st.lastSentAt = now;
          } else if ('err' in sent) {
            this.deps.log.warn({ err: sent.err, stationId: i.stationId }, 'load-balancer profile not sent');
          } else {
            this.deps.log.warn({ stationId: i.stationId, status: sent.status }, 'station did not accept a load-balancer profile');
          }
          st.stateSince = a.stateSince;
        }),
      );
    }
  }

  private async protocolOf(stationId: string): Promise<'ocpp1.6' | 'ocpp2.0.1' | undefined> {
    const row = await this.deps.db.selectFrom('stations').select('protocol').where('id', '=', stationId).executeTakeFirst();
    return row?.protocol === 'ocpp1.6' || row?.protocol === 'ocpp2.0.1' ? row.protocol : undefined;
  }

  /**
   * Everything else the session is under right now (SCSP plan, management limit, station maximum), in A
   * per phase: the composite of the installed profiles without the balancer's own.
   */
  private async planLimitA(stationId: string, evseId: number, transactionId: string, startedAt: number, phases: number, now: number): Promise<number | undefined> {
    const installed = (await this.deps.smart.installed(stationId))
      .map((r) => r.profile)
      .filter((p) => p.id < BALANCER_TX_PROFILE_BASE || p.id >= BALANCER_TX_PROFILE_BASE + 1000);
    if (installed.length === 0) return undefined;
    const c = compositeSchedule({
      profiles: installed,
      evseId,
      now: epochMs(now),
      duration: seconds(60),
      unit: 'A',
      transaction: { id: transactionId, start: epochMs(startedAt) },
      evse: { maxCurrentA: amps(1000), phases, voltage: volts(230) },
    });
    const first = c.chargingSchedulePeriod[0];
    if (!first || first.limit >= 1000) return undefined;
    return first.limit as Amps;
  }
}
