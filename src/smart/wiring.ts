/**
 * Which phases an EVSE loads, the rule the load balancer counts sessions by (src/services/load-balancer.ts)
 * and the dashboard shows allocations by (src/dashboard/snapshot.ts). Pure: the caller reads the rows.
 */
import { PHASES, type Phase } from './units.js';

/** What a connector row says of its supply (the `connectors` table's columns). */
export interface ConnectorSupply {
  evse_id: number;
  power_type: string | null;
  phases: number | null;
}

/**
 * The phases each EVSE of one station loads: as configured for it in the site (`evses`, EVSE id → phases),
 * else L1 alone when a connector is AC_1_PHASE or reports one phase, else all three. An EVSE whose
 * connectors disagree counts the widest; a configured EVSE without a known connector is included as
 * configured. `connectors` are that station's rows (EVSE > 0).
 */
export function evsePhases(
  configured: Readonly<Record<string, readonly Phase[]>> | undefined,
  connectors: readonly ConnectorSupply[],
): Map<number, readonly Phase[]> {
  const out = new Map<number, readonly Phase[]>();
  for (const r of connectors) {
    const phases = configured?.[String(r.evse_id)] ?? (r.power_type === 'AC_1_PHASE' || r.phases === 1 ? ['L1'] : PHASES);
    const prev = out.get(r.evse_id);
    out.set(r.evse_id, prev && prev.length >= phases.length ? prev : phases);
  }
  for (const [k, v] of Object.entries(configured ?? {})) if (!out.has(Number(k))) out.set(Number(k), v);
  return out;
}
