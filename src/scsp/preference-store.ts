/** Driver preferences in the database, by scope (station, EVSE, session); the rules are in preferences.ts. */
import type { Clock } from '../util/clock.js';
import type { ScspKysely } from './store.js';
import { type Preferences, mergePreferences } from './preferences.js';

export type PreferenceScope = { level: 'station'; cpoId: string; uid: string } | { level: 'evse'; cpoId: string; uid: string; evseId: number } | { level: 'session'; sessionId: string };

export function scopeKey(s: PreferenceScope): string {
  switch (s.level) {
    case 'station':
      return `station:${s.cpoId}/${s.uid}`;
    case 'evse':
      return `evse:${s.cpoId}/${s.uid}/${s.evseId}`;
    case 'session':
      return `session:${s.sessionId}`;
  }
}

export class PreferenceStore {
  constructor(private readonly deps: { db: ScspKysely; clock: Clock }) {}

  async get(scope: PreferenceScope): Promise<Preferences | undefined> {
    const r = await this.deps.db.selectFrom('preferences').select('prefs').where('scope', '=', scopeKey(scope)).executeTakeFirst();
    return r ? (JSON.parse(r.prefs) as Preferences) : undefined;
  }

  async set(scope: PreferenceScope, prefs: Preferences): Promise<void> {
    const row = {
      cpo_id: scope.level === 'session' ? null : scope.cpoId,
      uid: scope.level === 'session' ? null : scope.uid,
      evse_id: scope.level === 'evse' ? scope.evseId : null,
      session_id: scope.level === 'session' ? scope.sessionId : null,
      prefs: JSON.stringify(prefs),
      updated_at: this.deps.clock.now().toISOString(),
    };
    await this.deps.db
      .insertInto('preferences')
      .values({ scope: scopeKey(scope), ...row })
      .onConflict((oc) => oc.column('scope').doUpdateSet(row))
      .execute();
  }

  async remove(scope: PreferenceScope): Promise<boolean> {
    const res = await this.deps.db.deleteFrom('preferences').where('scope', '=', scopeKey(scope)).executeTakeFirst();
    return Number(res.numDeletedRows) > 0;
  }

  /** The preferences in force for a session: station < EVSE < session. */
  async effective(s: { id: string; cpoId: string; uid: string; evseId: number }): Promise<Preferences> {
    const [station, evse, session] = await Promise.all([
      this.get({ level: 'station', cpoId: s.cpoId, uid: s.uid }),
      s.evseId > 0 ? this.get({ level: 'evse', cpoId: s.cpoId, uid: s.uid, evseId: s.evseId }) : Promise.resolve(undefined),
      this.get({ level: 'session', sessionId: s.id }),
    ]);
    return mergePreferences(station, evse, session);
  }
}
