/**
 * Site limits: stations behind one grid connection share a power limit (W, total), which the planner
 * must respect in every instant. Set through the admin API (`/api/v1/sites/{id}`); a station belongs to
 * at most one site. A station in a site is planned together with the site's other stations (one
 * planning group), so a change at one station re-plans them all.
 */
import type { Clock } from '../util/clock.js';
import type { ScspKysely } from './store.js';
import type { StationKey } from './sessions.js';

export interface Site {
  id: string;
  name: string;
  maxPowerW: number;
  stations: StationKey[];
  createdAt: string;
  updatedAt: string;
}

export interface SiteInput {
  name?: string;
  maxPowerW: number;
  stations: StationKey[];
}

export class SiteInputError extends Error {
  override name = 'SiteInputError';
}

export function parseSite(raw: unknown): SiteInput {
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw new SiteInputError('a site must be a JSON object {name?, maxPowerW, stations: [{cpoId, uid}]}');
  const o = raw as Record<string, unknown>;
  for (const k of Object.keys(o)) if (!['name', 'maxPowerW', 'stations'].includes(k)) throw new SiteInputError(`unknown field "${k}"`);
  if (typeof o.maxPowerW !== 'number' || !Number.isFinite(o.maxPowerW) || o.maxPowerW < 0 || o.maxPowerW > 1e9) throw new SiteInputError('maxPowerW must be a number between 0 and 1e9');
  if (o.name !== undefined && typeof o.name !== 'string') throw new SiteInputError('name must be a string');
  if (!Array.isArray(o.stations)) throw new SiteInputError('stations must be an array of {cpoId, uid}');
  const stations = o.stations.map((s, i) => {
    const m = s as { cpoId?: unknown; uid?: unknown } | null;
    if (!m || typeof m.cpoId !== 'string' || typeof m.uid !== 'string' || m.cpoId === '' || m.uid === '') throw new SiteInputError(`stations[${i}] must be {cpoId, uid}`);
    return { cpoId: m.cpoId, uid: m.uid };
  });
  const out: SiteInput = { maxPowerW: o.maxPowerW, stations };
  if (typeof o.name === 'string') out.name = o.name;
  return out;
}

export class SiteRegistry {
  constructor(private readonly deps: { db: ScspKysely; clock: Clock }) {}

  async list(): Promise<Site[]> {
    const sites = await this.deps.db.selectFrom('sites').selectAll().orderBy('id').execute();
    const members = await this.deps.db.selectFrom('site_members').selectAll().execute();
    return sites.map((s) => ({
      id: s.id,
      name: s.name,
      maxPowerW: s.max_power_w,
      stations: members.filter((m) => m.site_id === s.id).map((m) => ({ cpoId: m.cpo_id, uid: m.uid })),
      createdAt: s.created_at,
      updatedAt: s.updated_at,
    }));
  }

  async get(id: string): Promise<Site | undefined> {
    return (await this.list()).find((s) => s.id === id);
  }

  /** Create or replace; returns the stations whose planning group changed (old and new members). */
  async upsert(id: string, input: SiteInput): Promise<{ site: Site; created: boolean; touched: StationKey[] }> {
    const now = this.deps.clock.now().toISOString();
    const result = await this.deps.db.transaction().execute(async (trx) => {
      const existing = await trx.selectFrom('sites').select('id').where('id', '=', id).executeTakeFirst();
      const old = await trx.selectFrom('site_members').selectAll().where('site_id', '=', id).execute();
      for (const st of input.stations) {
        const other = await trx.selectFrom('site_members').select('site_id').where('cpo_id', '=', st.cpoId).where('uid', '=', st.uid).where('site_id', '!=', id).executeTakeFirst();
        if (other) throw new SiteInputError(`station ${st.cpoId}/${st.uid} already belongs to site "${other.site_id}"`);
      }
      const row = { name: input.name ?? id, max_power_w: input.maxPowerW, updated_at: now };
      await trx
        .insertInto('sites')
        .values({ id, created_at: now, ...row })
        .onConflict((oc) => oc.column('id').doUpdateSet(row))
        .execute();
      await trx.deleteFrom('site_members').where('site_id', '=', id).execute();
      const seen = new Set<string>();
      for (const st of input.stations) {
        const k = `${st.cpoId}\u0000${st.uid}`;
        if (seen.has(k)) continue;
        seen.add(k);
        await trx.insertInto('site_members').values({ site_id: id, cpo_id: st.cpoId, uid: st.uid }).execute();
      }
      return { created: !existing, touched: [...old.map((m) => ({ cpoId: m.cpo_id, uid: m.uid })), ...input.stations] };
    });
    return { site: (await this.get(id))!, ...result };
  }

  async remove(id: string): Promise<StationKey[] | undefined> {
    return this.deps.db.transaction().execute(async (trx) => {
      const members = await trx.selectFrom('site_members').selectAll().where('site_id', '=', id).execute();
      const res = await trx.deleteFrom('sites').where('id', '=', id).executeTakeFirst();
      if (Number(res.numDeletedRows) === 0) return undefined;
      await trx.deleteFrom('site_members').where('site_id', '=', id).execute();
      return members.map((m) => ({ cpoId: m.cpo_id, uid: m.uid }));
    });
  }

  /** The site of a station, with all its members. */
  async siteOf(st: StationKey): Promise<Site | undefined> {
    const m = await this.deps.db.selectFrom('site_members').select('site_id').where('cpo_id', '=', st.cpoId).where('uid', '=', st.uid).executeTakeFirst();
    return m ? this.get(m.site_id) : undefined;
  }
}
