/**
 * The EV's charging under the composite limit, per EVSE (pure apart from mutating the EVSE state it is
 * given): which limit is offered now, how much the EV draws, and energy/SoC integrated piecewise over
 * the composite schedule between two instants, so that energy is exact whatever the meter interval.
 */
import { compositeLimitAt, compositeSegments, type CompositeInput, type Profile } from './composite.js';
import { advance, chargingCondition, controlUnit, drawnPowerW, evseMaxInControlUnit, limitPhases, phasesInUse } from './meter.js';
import type { ConnectorState, EvseState } from './types.js';
import { DEFAULT_VOLTAGE_V, type EpochMs, type Seconds } from './units.js';

export type TxRef = { id: string; startedAt: EpochMs } | undefined;

/** The connector in use (the plugged or transaction connector), else the EVSE's first. */
export function usedConnector(e: EvseState): ConnectorState | undefined {
  const id = e.plugged?.connectorId ?? e.tx?.connectorId;
  return e.connectors.find((c) => c.id === id) ?? e.connectors[0];
}

/** Composite input for an EVSE; `phases` for conversions (the EV's phases in use, default the EVSE's). */
export function evseCompositeInput(e: EvseState, profiles: readonly Profile[], tx: TxRef, phases?: number): CompositeInput {
  const elec = usedConnector(e)?.elec ?? { dc: false, phases: 3, voltageV: DEFAULT_VOLTAGE_V, maxCurrentA: 32, maxPowerW: 22_080 };
  const input: CompositeInput = {
    profiles,
    evseId: e.id,
    phases: phases ?? elec.phases,
    voltageV: elec.voltageV,
    physicalMax: { limit: evseMaxInControlUnit(elec), unit: controlUnit(elec) },
  };
  if (tx) input.transaction = tx;
  return input;
}

/** The grid connection (evseId 0): station-wide profiles, capped by the sum of the EVSEs' maxima. */
export function gridCompositeInput(evses: readonly EvseState[], profiles: readonly Profile[]): CompositeInput {
  const maxW = evses.reduce((sum, e) => sum + Math.max(...e.connectors.map((c) => c.elec.maxPowerW)), 0);
  return { profiles, evseId: 0, phases: 3, voltageV: DEFAULT_VOLTAGE_V, physicalMax: { limit: maxW, unit: 'W' } };
}

/** When the offered limit next changes within the horizon (the station's meter timer wakes then). */
export function nextLimitChange(e: EvseState, profiles: readonly Profile[], tx: TxRef, now: EpochMs, horizonS: Seconds): EpochMs | undefined {
  const c = usedConnector(e);
  if (!c || !e.plugged || horizonS <= 0) return undefined;
  const input = evseCompositeInput(e, profiles, tx, phasesInUse(c.elec, e.plugged.ev));
  return compositeSegments(input, now, horizonS, controlUnit(c.elec))[1]?.from;
}

/** Integrate energy and SoC from `e.lastUpdate` to `now`, piecewise over the composite limit. */
export function settleEnergy(e: EvseState, profiles: readonly Profile[], tx: TxRef, now: EpochMs): void {
  if (now <= e.lastUpdate) return;
  const pl = e.plugged;
  const c = usedConnector(e);
  if (tx && e.tx && !e.tx.deauthorized && pl && c) {
    const input = evseCompositeInput(e, profiles, tx, phasesInUse(c.elec, pl.ev));
    for (const seg of compositeSegments(input, e.lastUpdate, (now - e.lastUpdate) / 1000, controlUnit(c.elec))) {
      const r = advance(seg.limit, c.elec, limitPhases(pl.ev, seg.numberPhases), pl.soc, (seg.to - seg.from) / 1000);
      e.energyWh += r.energyWh;
      pl.soc = r.soc;
    }
  }
  e.lastUpdate = now;
}

/**
 * Settle to `now`, then recompute the offered limit, the draw and the charging condition.
 * Returns what changed: the condition (Charging/SuspendedEV/SuspendedEVSE), the rate by at least
 * `significancePct` percent, or nothing.
 */
export function updateCharging(
  e: EvseState,
  profiles: readonly Profile[],
  tx: TxRef,
  now: EpochMs,
  significancePct: number,
): 'condition' | 'rate' | 'none' {
  settleEnergy(e, profiles, tx, now);
  const pl = e.plugged;
  const c = usedConnector(e);
  if (!tx || !e.tx || !pl || !c) {
    e.offered = 0;
    e.powerW = 0;
    e.phasesUsed = pl && c ? phasesInUse(c.elec, pl.ev) : 0;
    return 'none';
  }
  const before = { condition: e.tx.condition, offered: e.offered };
  const limit = compositeLimitAt(evseCompositeInput(e, profiles, tx, phasesInUse(c.elec, pl.ev)), now, controlUnit(c.elec), now);
  const ev = limitPhases(pl.ev, limit.numberPhases);
  e.offered = e.tx.deauthorized ? 0 : limit.limit;
  e.powerW = drawnPowerW(e.offered, c.elec, ev, pl.soc);
  e.phasesUsed = phasesInUse(c.elec, ev);
  e.tx.condition = e.tx.deauthorized ? 'SuspendedEVSE' : chargingCondition(e.offered, c.elec, ev, pl.soc);
  if (e.tx.condition !== before.condition) return 'condition';
  if (e.tx.condition !== 'Charging' || before.offered === e.offered) return 'none';
  const significant = before.offered === 0 || (Math.abs(e.offered - before.offered) / before.offered) * 100 >= significancePct;
  return significant ? 'rate' : 'none';
}
