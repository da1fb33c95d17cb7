/**
 * Station-side smart-charging operations shared by both versions: the station's profile rules
 * (from its configuration), install with validation, clear. Each change settles the energy integrated
 * under the old limits first and re-applies the new composite limit at once (Station.mutateProfiles).
 */
import { validateProfile, type Check, type ClearFilter, type ProfileRules, type StoredProfile } from './profiles.js';
import type { Station } from './station.js';

export function profileRules(st: Station): ProfileRules {
  return {
    protocol: st.protocol,
    evseIds: st.evses.map((e) => e.id),
    activeTransactionId: (evseId) => {
      const tx = st.evse(evseId)?.tx;
      return tx && !tx.ended ? st.neutralTxId(tx) : undefined;
    },
    maxStackLevel: st.settings.int('maxStackLevel', 8),
    rateUnits: st.settings.rateUnits(),
    maxPeriods: st.settings.int('maxPeriods', 24),
    maxProfiles: st.settings.int('maxProfiles', 16),
    phaseSwitching: st.settings.bool('phaseSwitching', false),
  };
}

export function checkProfile(st: Station, p: StoredProfile, options: { remoteStart?: boolean } = {}): Check {
  return validateProfile(p, st.profiles.all(), profileRules(st), st.nowMs(), options);
}

/** Validate and install (SetChargingProfile). A rejection is logged with its reason. */
export function installProfile(st: Station, p: StoredProfile, options: { remoteStart?: boolean } = {}): Check {
  const check = checkProfile(st, p, options);
  if (!check.ok) {
    st.log('info', `charging profile ${p.id} rejected: ${check.reason}`, { detail: check.detail });
    return check;
  }
  st.mutateProfiles(() => st.profiles.install(p));
  return check;
}

/** ClearChargingProfile: how many profiles went. */
export function clearProfiles(st: Station, filter: ClearFilter): number {
  return st.mutateProfiles(() => st.profiles.clear(filter));
}
