/**
 * The harness of the OCTT smart-charging cases (octt16.test.ts, octt201.test.ts): one CSMS and simulated
 * charge points of one OCPP version over real WebSockets, sharing a ManualClock, with every CALL the CSMS
 * sends recorded on the station side and schema-checked.
 *
 * `octtHarness(protocol)` registers the file's `before` (start the CSMS) and `after` (close the stations,
 * stop the CSMS, assert that every recorded CALL was schema-valid) and returns the helpers. The CSMS only
 * exists once `before` has run: read `h.csms` inside tests, not at module level, or take it from the
 * `started` option (called from that `before`; a second top-level `before` of the file may run too early).
 */
import { after, before } from 'node:test';
import assert from 'node:assert/strict';
import type { OCPP16, OCPP20 } from 'typed-ocpp';
import { SimChargePoint, type Amps, type EvseConfig, type SimChargePointOptions, type Watts, type WattHours } from '../../src/sim/index.js';
import { startTestCsms, type TestCsms } from '../helpers/csms.js';
import { waitFor } from '../helpers/wire.js';
import { validatePayload } from '../../src/ocpp/schemas.js';
import type { ClearSelector } from '../../src/services/smart-charging.js';
import type { ChargingProfile, ProfileKind, ProfilePurpose } from '../../src/smart/profile.js';
import { ManualClock } from '../../src/util/clock.js';

export type OcttProtocol = 'ocpp1.6' | 'ocpp2.0.1';

/** What differs on the wire between the versions: transaction ids and the smart-charging requests. */
interface Wire {
  'ocpp1.6': { tx: number; set: OCPP16.SetChargingProfileRequest; clear: OCPP16.ClearChargingProfileRequest };
  'ocpp2.0.1': { tx: string; set: OCPP20.SetChargingProfileRequest; clear: OCPP20.ClearChargingProfileRequest };
}

export const MIN = 60_000;
export const iso = (ms: number): string => new Date(ms).toISOString();
export const EVSE = (id: number): EvseConfig => ({ id, connectors: [{ id: 1, powerType: 'AC_3_PHASE', maxCurrentA: 32 as Amps }] });
export const EV = { batteryWh: 200_000 as WattHours, socPercent: 10, maxPowerW: 22_000 as Watts, phases: 3 };
/** Three-phase power at 230 V for a per-phase current. */
export const W = (a: number): number => a * 230 * 3;

export interface Sent {
  action: string;
  payload: unknown;
}

export interface Station {
  id: string;
  cp: SimChargePoint;
  /** Every CALL the CSMS sent to the station, in order (recorded by the simulator). */
  sent: Sent[];
  /** The recorded CALLs of these actions. */
  of(...actions: string[]): unknown[];
  /** The simulator's log lines (warn and above). */
  logs: string[];
}

export interface Spec {
  id: number;
  evseId: number;
  purpose: ProfilePurpose;
  stackLevel?: number;
  kind?: ProfileKind;
  recurrencyKind?: 'Daily' | 'Weekly';
  validFrom?: number;
  validTo?: number;
  transactionId?: string | number;
  unit?: 'A' | 'W';
  /** Absolute/Recurring: defaults to now; `null` omits it (invalid on purpose). */
  startSchedule?: number | null;
  duration?: number;
  /** [startPeriod, limit] or [startPeriod, limit, numberPhases]. */
  periods: Array<[number, number] | [number, number, number]>;
  /** Extra schedules (2.0.1 allows up to three). */
  schedules?: number;
}

export const periodsOf = (res: { schedule?: { chargingSchedulePeriod: Array<{ startPeriod: number; limit: number; numberPhases?: number }> } }) =>
  res.schedule?.chargingSchedulePeriod.map((p) => [p.startPeriod, p.limit]);

export function octtHarness<P extends OcttProtocol>(
  protocol: P,
  opts: {
    /** Called with the CSMS once it runs. */
    started?: (csms: TestCsms) => void;
    /** Awaited in `after` beside closing the stations, before the CSMS stops. */
    cleanup?: () => Promise<unknown>;
  } = {},
) {
  const clock = new ManualClock('2025-03-03T10:00:00Z');
  const now = (): number => clock.now().getTime();
  let csms: TestCsms | undefined;
  const open: SimChargePoint[] = [];
  /** Schema violations in CALLs the CSMS sent (checked independently of the simulator's own validation). */
  const invalid: string[] = [];
  const the = (): TestCsms => csms ?? assert.fail('the CSMS is not started yet (use it inside a test)');

  before(async () => {
    csms = await startTestCsms({ clock });
    opts.started?.(csms);
  });
  after(async () => {
    await Promise.all([...open.map((cp) => cp.close()), opts.cleanup?.()]);
    await csms?.destroy();
    assert.deepEqual(invalid, [], 'every CALL the CSMS sent is schema-valid');
  });

  /** A responder that schema-checks and records every CALL, then lets the simulator answer as a real station would. */
  function recorder(id: string, sent: Sent[]) {
    return (action: string, payload: unknown) => {
      const v = validatePayload(protocol, action, 'req', payload);
      if (!v.ok) invalid.push(`${id} ${action}: ${v.message}`);
      sent.push({ action, payload });
      return undefined;
    };
  }

  /** A simulated station (32 A three-phase EVSEs) connected to the CSMS, recording what it receives. */
  async function station(id: string, o: { evses?: number; config?: Record<string, string> } = {}): Promise<Station> {
    const sent: Sent[] = [];
    const logs: string[] = [];
    const n = o.evses ?? 1;
    const options: SimChargePointOptions = {
      url: the().ocppUrl,
      identity: id,
      protocol,
      clock,
      evses: Array.from({ length: n }, (_, i) => EVSE(i + 1)),
      meterIntervalS: 0,
      reconnect: false,
      logger: (level, message) => {
        if (level !== 'debug' && level !== 'info') logs.push(message);
      },
      responder: recorder(id, sent),
      ...(o.config ? { config: o.config } : {}),
    };
    const cp = new SimChargePoint(options);
    open.push(cp);
    await cp.connect();
    await waitFor(async () => (await the().db.kysely.selectFrom('connectors').select('evse_id').where('station_id', '=', id).where('evse_id', '>', 0).execute()).length >= n, {
      timeoutMs: 20_000,
      what: `${id} connectors known to the CSMS`,
    });
    // Capability discovery (GetConfiguration / GetVariables) happens on first use; do it now so that
    // every later step sends exactly the calls under test.
    await the().smart.capabilities(id, protocol);
    return { id, cp, sent, logs, of: (...actions) => sent.filter((s) => actions.includes(s.action)).map((s) => s.payload) };
  }

  /** Start a transaction on an EVSE and wait until the CSMS has it; returns its id (a number in 1.6). */
  async function charging(s: Station, evseId = 1): Promise<Wire[P]['tx']> {
    const started = await s.cp.startSession({ evseId, idTag: `TAG-${s.id}`, ev: EV });
    const tx = protocol === 'ocpp1.6' ? started : String(started);
    await waitFor(async () => (await the().smart.activeTransactions(s.id)).some((t) => t.transactionId === String(tx)), { timeoutMs: 20_000, what: 'transaction at the CSMS' });
    return tx as Wire[P]['tx'];
  }

  /** Wait until the simulated EV draws `watts` (the station applies limits synchronously; this only absorbs I/O). */
  async function power(s: Station, evseId: number, watts: number): Promise<void> {
    try {
      await waitFor(() => Math.abs(s.cp.evse(evseId).powerW - watts) < 0.5, { timeoutMs: 10_000 });
    } catch {
      assert.fail(`${s.id} EVSE ${evseId} draws ${s.cp.evse(evseId).powerW} W, expected ${watts} W`);
    }
  }

  async function shadowIds(id: string): Promise<number[]> {
    return (await the().smart.installed(id)).map((r) => r.profile.id).sort((a, b) => a - b);
  }
  const simIds = (s: Station): number[] => s.cp.chargingProfiles().map((p) => p.id).sort((a, b) => a - b);

  /** Shadow and station agree on which profiles are installed. */
  async function inSync(s: Station, ids: number[]): Promise<void> {
    assert.deepEqual(await shadowIds(s.id), ids, 'CSMS shadow');
    assert.deepEqual(simIds(s), ids, 'profiles installed on the station');
  }

  /** GetCompositeSchedule on `evseId`: the exact request, Accepted, equal to Ampline's prediction. */
  async function compositeAgrees(s: Station, evseId: number, durationS: number, unit: 'A' | 'W' | undefined) {
    const before = s.sent.length;
    const res = await the().smart.composite(s.id, evseId, durationS, unit);
    const target = protocol === 'ocpp1.6' ? { connectorId: evseId } : { evseId };
    assert.deepEqual(s.sent.slice(before), [{ action: 'GetCompositeSchedule', payload: { ...target, duration: durationS, ...(unit ? { chargingRateUnit: unit } : {}) } }]);
    assert.equal(res.status, 'Accepted');
    assert.ok(res.schedule, 'the station returned a schedule');
    if (protocol === 'ocpp2.0.1') {
      assert.equal(res.schedule.evseId, evseId);
      assert.equal(res.schedule.duration, durationS);
    }
    assert.deepEqual(res.differences, [], `composite of ${s.id}/${evseId} differs from the prediction: ${JSON.stringify(res.differences)}`);
    return res;
  }

  /** A model profile; in 1.6 its one schedule has the profile's id, in 2.0.1 the schedules are numbered from 1. */
  function mk(s: Spec): ChargingProfile {
    const kind = s.kind ?? 'Absolute';
    const start = s.startSchedule === undefined ? (kind === 'Relative' ? undefined : now()) : s.startSchedule === null ? undefined : s.startSchedule;
    const schedule = (id: number) => ({
      id,
      ...(start !== undefined ? { startSchedule: start } : {}),
      ...(s.duration !== undefined ? { duration: s.duration } : {}),
      chargingRateUnit: s.unit ?? 'A',
      chargingSchedulePeriod: s.periods.map(([startPeriod, limit, numberPhases]) => ({ startPeriod, limit, ...(numberPhases ? { numberPhases } : {}) })),
    });
    return {
      id: s.id,
      evseId: s.evseId,
      stackLevel: s.stackLevel ?? 0,
      chargingProfilePurpose: s.purpose,
      chargingProfileKind: kind,
      ...(s.recurrencyKind ? { recurrencyKind: s.recurrencyKind } : {}),
      ...(s.validFrom !== undefined ? { validFrom: s.validFrom } : {}),
      ...(s.validTo !== undefined ? { validTo: s.validTo } : {}),
      ...(s.transactionId !== undefined ? { transactionId: String(s.transactionId) } : {}),
      chargingSchedule: Array.from({ length: s.schedules ?? 1 }, (_, i) => schedule(protocol === 'ocpp1.6' ? s.id : i + 1)),
    } as unknown as ChargingProfile;
  }

  /** `smart.set`, asserting exactly one SetChargingProfile went out (returned) and the station's answer. */
  async function set(s: Station, p: ChargingProfile, status = 'Accepted') {
    const before = s.sent.length;
    const res = await the().smart.set(s.id, p);
    const calls = s.sent.slice(before);
    assert.deepEqual(calls.map((c) => c.action), ['SetChargingProfile']);
    assert.equal(res.status, status, `station answer to profile ${p.id}: ${JSON.stringify(res)}`);
    return { res, req: calls[0]!.payload as Wire[P]['set'] };
  }

  /** `smart.clear`, asserting exactly one ClearChargingProfile went out (returned). */
  async function clear(s: Station, sel: ClearSelector) {
    const before = s.sent.length;
    const res = await the().smart.clear(s.id, sel);
    const calls = s.sent.slice(before);
    assert.deepEqual(calls.map((c) => c.action), ['ClearChargingProfile']);
    return { res, req: calls[0]!.payload as Wire[P]['clear'] };
  }

  return {
    clock,
    now,
    /** The CSMS (started in `before`). */
    get csms(): TestCsms {
      return the();
    },
    invalid,
    recorder,
    station,
    charging,
    power,
    shadowIds,
    simIds,
    inSync,
    compositeAgrees,
    mk,
    set,
    clear,
  };
}
