/**
 * Seed 003: the OCPP.Core management API, `/API/<command>[/chargepointId[/connectorId[/parameter]]]`,
 * so scripts written for OCPP.Core work unchanged. Header `X-API-Key`; any HTTP method; commands are
 * case-sensitive. Answers `{"status": <the charger's own word>}` or `{"status": "Timeout"}` after the
 * bounded wait. Where OCPP.Core answers 404 for both, Ampline tells an unknown station (404
 * UnknownStation) from a known but offline one (409 StationOffline); a CALLERROR from the charger is
 * reported at once (502 ChargerCallError with its code) instead of waiting for a timeout.
 *
 * SetChargingLimit / ClearChargingLimit go through SmartChargingService: the limit profile (the same
 * message as ever, see charging-limit.ts) is checked against the station's capabilities and the profiles
 * Ampline knows are installed, and recorded in that shadow when the station accepts it. A profile the
 * checks refuse is never sent: 422 ProfileRejected with the violations, in this API's error style.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Kysely } from 'kysely';
import type { Database } from '../store/schema.js';
import type { CommandService } from '../services/commands.js';
import type { AuthService } from '../services/auth.js';
import type { SmartChargingService } from '../services/smart-charging.js';
import type { Clock } from '../util/clock.js';
import { managementLimitProfile, managementLimitSelector } from './charging-limit.js';
import { type ApiKeyAuth, scopeAllows } from './v1/auth.js';
import { ApiError, CallTimeoutError, sendApiError, toApiError } from './errors.js';

export interface OcppCoreApiDeps {
  db: Kysely<Database>;
  commands: CommandService;
  auth: AuthService;
  /** Charging limits are validated and recorded in the profile shadow through it. */
  smart: SmartChargingService;
  clock: Clock;
  /** The same API keys as /api/v1: Status needs `read`, commands need `command`. */
  keys: ApiKeyAuth;
  /** Bounded wait for the station's answer (OCPP.Core: 60 s). */
  timeoutMs: number;
}

/** OCPP.Core's connector status codes. */
export function ocppCoreStatusCode(status: string | null | undefined): number {
  switch (status) {
    case 'Available':
      return 1;
    case 'Occupied':
    case 'Reserved':
      return 2;
    case 'Unavailable':
      return 3;
    case 'Faulted':
      return 4;
    default:
      return 0;
  }
}

/** `2000W`, `16A`, `6.5a`, `11000.5W` → value and unit. Rejects signs, exponents, other units, absurd values. */
export function parseLimit(raw: string): { limit: number; unit: 'W' | 'A' } {
  const m = /^([0-9]{1,7}(?:\.[0-9]{1,3})?)([AWaw])$/.exec(raw);
  if (!m) throw new ApiError('InvalidLimit', `Invalid limit '${raw}': expected a number followed by W or A, e.g. 11000W or 16A`);
  const limit = Number(m[1]);
  const unit = m[2]!.toUpperCase() as 'W' | 'A';
  const max = unit === 'W' ? 1_000_000 : 2_000;
  if (!Number.isFinite(limit) || limit > max) throw new ApiError('InvalidLimit', `Invalid limit '${raw}': at most ${max} ${unit}`);
  return { limit, unit };
}

function parseConnector(raw: string | undefined, required: boolean): number {
  if (raw === undefined || raw === '') {
    if (required) throw new ApiError('MissingParameter', 'Missing connector id');
    return 0;
  }
  if (!/^[0-9]{1,4}$/.test(raw)) throw new ApiError('InvalidConnector', `Invalid connector id '${raw}'`);
  return Number(raw);
}

export function registerOcppCoreApi(http: FastifyInstance, deps: OcppCoreApiDeps): void {
  const { db, commands } = deps;
  const opts = { timeoutMs: deps.timeoutMs };

  async function knownConnector(stationId: string, evseId: number): Promise<void> {
    if (evseId === 0) return;
    const evses = await db.selectFrom('evses').select('evse_id').where('station_id', '=', stationId).execute();
    // Only judged once the station has told us its EVSEs (StatusNotification).
    if (evses.length > 0 && !evses.some((e) => e.evse_id === evseId)) {
      throw new ApiError('UnknownConnector', `Charging station '${stationId}' has no connector ${evseId}`);
    }
  }

  async function status(): Promise<unknown[]> {
    const stations = await db.selectFrom('stations').select(['id', 'name', 'protocol']).where('online', '=', 1).orderBy('id').execute();
    if (stations.length === 0) return [];
    const rows = await db
      .selectFrom('connectors as c')
      .innerJoin('stations as s', 's.id', 'c.station_id')
      .leftJoin('evses as e', (j) => j.onRef('e.station_id', '=', 'c.station_id').onRef('e.evse_id', '=', 'c.evse_id'))
      .select(['c.station_id', 'c.evse_id', 'c.status', 'e.last_power_w', 'e.last_energy_wh', 'e.last_soc', 'e.last_meter_at'])
      .where('s.online', '=', 1)
      .where('c.evse_id', '>', 0)
      .orderBy('c.station_id')
      .orderBy('c.evse_id')
      .orderBy('c.connector_id')
      .execute();
    const byStation = new Map<string, Record<string, unknown>>();
    for (const r of rows) {
      let m = byStation.get(r.station_id);
      if (!m) byStation.set(r.station_id, (m = {}));
      const key = String(r.evse_id);
      if (m[key]) continue; // first connector of an EVSE speaks for it (keys are EVSE ids on 2.x)
      m[key] = {
        Status: ocppCoreStatusCode(r.status),
        ChargeRateKW: r.last_power_w == null ? null : Math.round(r.last_power_w) / 1000,
        MeterKWH: r.last_energy_wh == null ? null : Math.round(r.last_energy_wh) / 1000,
        MeterValueDate: r.last_meter_at ?? '0001-01-01T00:00:00+00:00',
        SoC: r.last_soc ?? null,
      };
    }
    return stations.map((s) => ({ id: s.id, name: s.name ?? s.id, protocol: s.protocol, OnlineConnectors: byStation.get(s.id) ?? {} }));
  }

  const handler = async (req: FastifyRequest, reply: FastifyReply) => {
    try {
      const key = req.headers['x-api-key'];
      let principal;
      try {
        principal = await deps.keys.authenticate(typeof key === 'string' ? key : undefined);
      } catch {
        throw new ApiError('Unauthorized', 'Missing or wrong X-API-Key');
      }
      const path = (req.params as { '*': string })['*'] ?? '';
      const [command, cp, connector, param] = path.split('/').map((s) => decodeURIComponent(s));
      const needed = command === 'Status' ? 'read' : 'command';
      if (!scopeAllows(principal.scopes, needed)) throw new ApiError('Forbidden', `This API key lacks the '${needed}' scope`);
      if (command === 'Status') return await status();
      const needsStation = ['Reset', 'UnlockConnector', 'SetChargingLimit', 'ClearChargingLimit', 'StartTransaction', 'StopTransaction'];
      if (!command || !needsStation.includes(command)) throw new ApiError('UnknownCommand', `Unknown command '${command ?? ''}'`);
      if (!cp) throw new ApiError('MissingParameter', 'Missing charge point id');
      await commands.target(cp); // 404 unknown / 409 offline before parsing the rest
      let answer: Record<string, unknown> | null;
      switch (command) {
        case 'Reset':
          answer = await commands.reset(cp, 'soft', opts);
          break;
        case 'UnlockConnector': {
          const c = parseConnector(connector, true);
          await knownConnector(cp, c);
          answer = await commands.unlock(cp, c, undefined, opts);
          break;
        }
        case 'SetChargingLimit': {
          const c = parseConnector(connector, true);
          if (!param) throw new ApiError('MissingParameter', 'Missing limit, e.g. 16A or 11000W');
          const { limit, unit } = parseLimit(param);
          await knownConnector(cp, c);
          const profile = managementLimitProfile(c, limit, unit, deps.clock.now());
          answer = { ...(await deps.smart.set(cp, profile, { ...opts, source: 'management' })) };
          break;
        }
        case 'ClearChargingLimit': {
          const c = parseConnector(connector, true);
          await knownConnector(cp, c);
          answer = { ...(await deps.smart.clear(cp, managementLimitSelector(c), opts)) };
          break;
        }
        case 'StartTransaction': {
          const c = parseConnector(connector, true);
          if (!param) throw new ApiError('MissingParameter', 'Missing idTag');
          await knownConnector(cp, c);
          // The tag is checked here first, as OCPP.Core does: a tag we would not accept never reaches the charger.
          const info = await deps.auth.authorize({ idToken: param, type: 'ISO14443' });
          if (info.status !== 'Accepted') return { status: 'Rejected' };
          answer = await commands.remoteStart(cp, c, param, opts);
          break;
        }
        default: {
          const c = parseConnector(connector, true);
          await knownConnector(cp, c);
          answer = await commands.remoteStop(cp, c, opts);
          if (!answer) throw new ApiError('NoOpenTransaction', `No open transaction on ${cp} connector ${c}`);
        }
      }
      return { status: answer.status };
    } catch (err) {
      if (err instanceof CallTimeoutError) return { status: 'Timeout' };
      const apiErr = toApiError(err);
      if (apiErr.code === 'Internal') req.log.error({ err }, 'OCPP.Core API command failed');
      return sendApiError(reply, apiErr);
    }
  };
  http.all('/API/*', handler);
  http.all('/API', handler);
}
