/**
 * The optimisation driver: the thin shell around the {@link Planner}. It decides *when* to plan and
 * *what to do* with a plan; the planner (pure) decides the plan.
 *
 * - **Planning group.** A station, or every station of its site when it belongs to one (a shared limit
 *   is planned as one problem).
 * - **Triggers.** Every session update (event ingest), a preference or site change, a pairing, start-up
 *   (stations with running sessions). `touch(station)`.
 * - **Throttle.** At most one run per group per AMPLINE_SCSP_REPLAN_INTERVAL_S (default 10 s): the first
 *   touch after a quiet period runs at once (on the next tick, so a burst of events is planned once);
 *   touches within the interval run once at its end; touches during a run make one more run after it.
 * - **A run.** Active sessions of the group's paired stations → planner inputs (preferences.ts) → prices
 *   for [now, last departure) → `planner.plan` → each session's plan stored (admin API) → per station the
 *   sum of its sessions' plans (profile.ts: the CPO gets one station-level profile) → delivery.ts, unless
 *   it limits the future exactly like the plan the CPO already has (`sameFuture`, ±60 s). A station with
 *   no running session gets nothing and its waiting plan is dropped (the CPO drops TxProfiles at the end
 *   of their transaction). A session the planner leaves out is not limited (its EVSE maximum).
 * - **Per-session plans.** The target handed to delivery carries each steered session's own plan
 *   (`TargetSession`); the station schedule is their sum. The OCPP-format route sends the sum (the CPO
 *   shares it out), the OCPI route sends each session its own plan (src/ocpi/scsp/profile-sender.ts) —
 *   so at every instant the limits the OCPI route sets add up to the station limit the OCPP-format route
 *   would set. For an `ocpi` CPO a plan is also re-sent when only the split between sessions changed.
 * - **Not steered.** A session whose preferences say `smartCharging: false` is left out of planning:
 *   it gets no plan and no profile of its own, counts at its EVSE maximum in the station sum (so the
 *   OCPP-format route does not hold it back), and a shared site limit is lowered by that maximum for
 *   the others. `release(target, sessions)` tells the route, which removes a profile it set before
 *   (OCPI: DELETE).
 */
import type { Clock } from '../util/clock.js';
import type { Logger } from '../util/log.js';
import type { PreferenceDefaults } from './config.js';
import type { CpoRegistry } from './cpos.js';
import { evsePower } from './charging-station.js';
import type { PairingService, StationRecord } from './pairing.js';
import type { PreferenceStore } from './preference-store.js';
import { type ResolvedInput, resolvePlanInput } from './preferences.js';
import { type Planner, type PowerSchedule, type SiteLimit, sameFuture, sumSchedules } from './planner.js';
import type { PriceSource } from './prices.js';
import type { SessionRow, SessionStore, StationKey } from './sessions.js';
import type { SiteRegistry } from './sites.js';
import type { ProfileDelivery } from './delivery.js';
import type { ProfileTarget, TargetSession } from './sender.js';
import type { ScspMetrics } from './metrics.js';
import type { WorkTracker } from './work.js';

interface Group {
  lastRunAt: number;
  running: boolean;
  dirty: boolean;
  timer?: NodeJS.Timeout | undefined;
  timerDone?: (() => void) | undefined;
}

export interface DriverDeps {
  clock: Clock;
  log: Logger;
  planner: Planner;
  prices: PriceSource;
  sessions: SessionStore;
  pairing: PairingService;
  preferences: PreferenceStore;
  sites: SiteRegistry;
  cpos: CpoRegistry;
  delivery: ProfileDelivery;
  metrics: ScspMetrics;
  work: WorkTracker;
  defaults: PreferenceDefaults;
  minIntervalMs: number;
  /** Sessions of a station the SCSP does not steer (any more): the route may remove what it set. */
  release?: (target: ProfileTarget, sessions: TargetSession[]) => void;
}

/** Whether two per-session splits limit the future alike (same sessions, each {@link sameFuture}). */
export function sameSessionSplit(a: readonly TargetSession[] | undefined, b: readonly TargetSession[], from: Date): boolean {
  if (!a || a.length !== b.length) return false;
  return b.every((x) => {
    const y = a.find((s) => s.id === x.id);
    return y !== undefined && sameFuture(y.schedule, x.schedule, from);
  });
}

const stationGroupKey = (st: StationKey) => `station:${st.cpoId}\u0000${st.uid}`;

export class OptimisationDriver {
  private readonly groups = new Map<string, Group>();
  private stopped = false;

  constructor(private readonly deps: DriverDeps) {}

  /** Something changed at a station: re-plan its group (throttled). */
  touch(st: StationKey): void {
    if (this.stopped) return;
    const done = this.deps.work.begin();
    this.deps.sites
      .siteOf(st)
      .then((site) => this.schedule(site ? `site:${site.id}` : stationGroupKey(st), site ? undefined : st))
      .catch((err: unknown) => this.deps.log.error({ err }, 'scheduling a re-plan failed'))
      .finally(done);
  }

  /** Groups whose throttled re-plan is waiting for its interval (introspection: tests, health). */
  get waiting(): number {
    let n = 0;
    for (const g of this.groups.values()) if (g.timer) n++;
    return n;
  }

  stop(): void {
    this.stopped = true;
    for (const g of this.groups.values()) {
      if (g.timer) clearTimeout(g.timer);
      g.timer = undefined;
      g.timerDone?.();
      g.timerDone = undefined;
    }
  }

  private readonly stationOfGroup = new Map<string, StationKey>();

  private schedule(key: string, st: StationKey | undefined): void {
    if (this.stopped) return;
    if (st) this.stationOfGroup.set(key, st);
    let g = this.groups.get(key);
    if (!g) {
      g = { lastRunAt: Number.NEGATIVE_INFINITY, running: false, dirty: false };
      this.groups.set(key, g);
    }
    if (g.running) {
      g.dirty = true;
      return;
    }
    if (g.timer) return;
    const delay = Math.max(0, g.lastRunAt + this.deps.minIntervalMs - Date.now());
    const group = g;
    group.timerDone = this.deps.work.begin();
    group.timer = setTimeout(() => {
      const release = group.timerDone;
      group.timer = undefined;
      group.timerDone = undefined;
      void this.run(key, group);
      release?.();
    }, delay);
  }

  private async run(key: string, g: Group): Promise<void> {
    if (this.stopped) return;
    const done = this.deps.work.begin();
    g.running = true;
    g.lastRunAt = Date.now();
    try {
      await this.replan(key);
    } catch (err) {
      this.deps.metrics.plans.inc({ result: 'failed' });
      this.deps.log.error({ err, group: key }, 're-plan failed');
    } finally {
      g.running = false;
      if (g.dirty) {
        g.dirty = false;
        this.schedule(key, undefined);
      }
      done();
    }
  }

  /** The stations of a group and its shared limit. */
  private async members(key: string): Promise<{ stations: StationKey[]; site?: { id: string; maxPowerW: number } }> {
    if (key.startsWith('site:')) {
      const site = await this.deps.sites.get(key.slice('site:'.length));
      if (site) return { stations: site.stations, site: { id: site.id, maxPowerW: site.maxPowerW } };
      return { stations: [] };
    }
    const st = this.stationOfGroup.get(key);
    return { stations: st ? [st] : [] };
  }

  /** The planner input of a session (also for the admin API: why a plan looks the way it does). */
  async inputOf(s: SessionRow, station: StationRecord, now: Date): Promise<ResolvedInput> {
    const prefs = await this.deps.preferences.effective({ id: s.id, cpoId: s.cpo_id, uid: s.uid, evseId: s.evse_id });
    return resolvePlanInput({
      session: { id: s.id, cpoId: s.cpo_id, uid: s.uid, evseId: s.evse_id, startedAt: s.started_at, energyWh: s.energy_wh, soc: s.soc },
      prefs,
      power: evsePower(station.chargingStation, s.evse_id),
      defaults: this.deps.defaults,
      now,
    });
  }

  private async replan(key: string): Promise<void> {
    const now = this.deps.clock.now();
    const { stations: keys, site } = await this.members(key);
    const stations: StationRecord[] = [];
    for (const k of keys) {
      const st = await this.deps.pairing.station(k.cpoId, k.uid);
      if (st) stations.push(st);
    }
    if (stations.length === 0) return;
    const sessions = await this.deps.sessions.active(stations);
    const rowOf = new Map(sessions.map((s) => [s.id, s]));
    const all: ResolvedInput[] = [];
    for (const s of sessions) {
      const st = stations.find((x) => x.cpoId === s.cpo_id && x.uid === s.uid)!;
      all.push(await this.inputOf(s, st, now));
    }
    const inputs = all.filter((i) => i.preferences.smartCharging !== false);
    const unsteered = all.filter((i) => i.preferences.smartCharging === false);

    let plans = new Map<string, PowerSchedule>();
    if (inputs.length > 0) {
      const horizonEnd = new Date(Math.max(...inputs.map((i) => i.departure.getTime())));
      const prices = await this.deps.prices.prices(now, horizonEnd);
      const unsteeredW = unsteered.reduce((a, i) => a + i.maxPowerW, 0);
      const limits: SiteLimit[] = site ? [{ siteId: site.id, maxPowerW: Math.max(0, site.maxPowerW - unsteeredW), sessionIds: inputs.map((i) => i.sessionId) }] : [];
      const t0 = performance.now();
      plans = await this.deps.planner.plan(inputs, prices, limits, now);
      this.deps.metrics.planSeconds.observe((performance.now() - t0) / 1000);
      this.deps.metrics.plans.inc({ result: 'planned' });
      for (const i of inputs) {
        const plan = plans.get(i.sessionId);
        if (plan) await this.deps.sessions.savePlan(i.sessionId, plan.map((p) => ({ start: p.start.toISOString(), powerW: p.powerW })), now.toISOString());
      }
    }

    for (const st of stations) {
      const mine = (i: ResolvedInput) => i.cpoId === st.cpoId && i.uid === st.uid;
      const own = inputs.filter(mine);
      const free = unsteered.filter(mine);
      if (own.length === 0 && free.length === 0) {
        await this.deps.delivery.cancel(st);
        continue;
      }
      const cpo = await this.deps.cpos.get(st.cpoId);
      if (!cpo || !cpo.enabled) {
        this.deps.log.warn({ cpoId: st.cpoId, uid: st.uid }, 'CPO unknown or disabled; plan not sent');
        continue;
      }
      const part = (i: ResolvedInput, schedule: PowerSchedule): TargetSession => {
        const row = rowOf.get(i.sessionId)!;
        return { id: i.sessionId, evseId: row.evse_id, transactionId: row.transaction_id, protocol: row.protocol, schedule };
      };
      const steered = own.map((i) => part(i, sumSchedules([plans.get(i.sessionId) ?? [{ start: now, powerW: i.maxPowerW }]], now)));
      const released = free.map((i) => part(i, [{ start: now, powerW: i.maxPowerW }]));
      const target: ProfileTarget = { cpo, uid: st.uid, payloadProtocol: st.payloadProtocol, sessions: steered };
      if (released.length > 0) this.deps.release?.(target, released);
      const schedule = sumSchedules([...steered, ...released].map((x) => x.schedule), now);
      const current = this.deps.delivery.current(st);
      if (current && sameFuture(current, schedule, now) && (cpo.profileRoute !== 'ocpi' || sameSessionSplit(this.deps.delivery.currentSessions(st), steered, now))) {
        this.deps.log.debug({ cpoId: st.cpoId, uid: st.uid }, 'plan unchanged; not sent');
        continue;
      }
      const id = await this.deps.delivery.submit(target, schedule);
      this.deps.log.info(
        { cpoId: st.cpoId, uid: st.uid, deliveryId: id, sessions: own.length, planner: this.deps.planner.name, firstLimitW: schedule[0]?.powerW },
        'station plan queued',
      );
    }
  }
}
