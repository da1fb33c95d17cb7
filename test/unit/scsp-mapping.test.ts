/**
 * src/scsp-link/mapping.ts (domain → OCPP payloads for an SCSP, seed 001) and the pure rules of the
 * outbox and its dispatcher, table-driven. Every payload built here must pass the OCA schema of its
 * version (what a strict SCSP checks).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { ConnectorStatusReport, MeterSample, TxEvent } from '../../src/domain/model.js';
import {
  CHARGING_STATE_FROM_16,
  FORWARDED_MEASURANDS,
  STOPPED_REASON_16_TO_201,
  STOP_TRIGGER_16_TO_201,
  type Reason16,
  type TxContext,
  checkPayload,
  chargingStateFrom16,
  chargingStateUpdate201,
  eventPath,
  forwardedSamples,
  isMeterOnlyUpdate,
  meterDecision,
  meterValue16,
  meterValues16,
  meterValues201,
  readingsOf,
  startTransaction16,
  statusNotification16,
  stopTransaction16,
  transactionEvent201,
} from '../../src/scsp-link/mapping.js';
import { idempotencyKey, toEpochS } from '../../src/scsp-link/outbox.js';
import { backoffMs, classifyStatus } from '../../src/scsp-link/forwarder.js';

const T0 = '2025-03-01T10:00:00.000Z';
const T1 = '2025-03-01T10:01:00.000Z';

const sample = (over: Partial<MeterSample> = {}): MeterSample => ({
  timestamp: T0,
  measurand: 'Energy.Active.Import.Register',
  unit: 'Wh',
  context: 'Sample.Periodic',
  location: 'Outlet',
  value: 5324,
  ...over,
});

const ev = (over: Partial<TxEvent> = {}): TxEvent => ({
  stationId: 'CS-1',
  protocol: 'ocpp2.0.1',
  ocppTxId: 'tx-201',
  eventType: 'Started',
  triggerReason: 'Authorized',
  seqNo: 0,
  timestamp: T0,
  offline: false,
  evseId: 1,
  connectorId: 1,
  chargingState: 'Charging',
  samples: [],
  ...over,
});

const ctx = (over: Partial<TxContext> = {}): TxContext => ({ ocppTxId: 'tx-201', evseId: 1, connectorId: 1, remoteStartId: null, ...over });

function assertValid(pp: 'ocpp2.0.1' | 'ocpp1.6', action: Parameters<typeof checkPayload>[1], payload: unknown): void {
  const r = checkPayload(pp, action, payload);
  assert.ok(r.ok, `${pp} ${action}: ${r.ok ? '' : r.message} — ${JSON.stringify(payload)}`);
}

describe('eventPath (seed 001 URLs)', () => {
  const cases = [
    { name: 'TransactionEvent keeps the documented trailing slash', uid: 'CS-1', pp: 'ocpp2.0.1', action: 'TransactionEvent', expect: '/v1/scsp/chargingstations/CS-1/events/ocpp2.0.1/TransactionEvent/' },
    { name: 'MeterValues has none', uid: 'CS-1', pp: 'ocpp2.0.1', action: 'MeterValues', expect: '/v1/scsp/chargingstations/CS-1/events/ocpp2.0.1/MeterValues' },
    { name: '1.6 actions under ocpp1.6', uid: 'CS-1', pp: 'ocpp1.6', action: 'StartTransaction', expect: '/v1/scsp/chargingstations/CS-1/events/ocpp1.6/StartTransaction' },
    { name: 'uid is percent-encoded', uid: 'a b/c#', pp: 'ocpp2.0.1', action: 'MeterValues', expect: '/v1/scsp/chargingstations/a%20b%2Fc%23/events/ocpp2.0.1/MeterValues' },
  ] as const;
  for (const c of cases) test(c.name, () => assert.equal(eventPath(c.uid, c.pp, c.action), c.expect));
});

describe('meter values', () => {
  test('only the seed-001 measurands with numeric values are forwarded', () => {
    const kept = FORWARDED_MEASURANDS.map((m) => sample({ measurand: m, unit: m === 'SoC' ? 'Percent' : m.startsWith('Power') ? 'W' : 'Wh' }));
    const dropped = [
      sample({ measurand: 'Current.Import', unit: 'A', phase: 'L1' }),
      sample({ measurand: 'Voltage', unit: 'V' }),
      sample({ measurand: 'Temperature', unit: 'Celsius' }),
      sample({ measurand: 'Energy.Reactive.Import.Register', unit: 'varh' }),
      sample({ value: null, signed: 'OCMF|…' }),
    ];
    assert.deepEqual(forwardedSamples([...kept, ...dropped]), kept);
  });

  test('2.0.1: numbers, unitOfMeasure, phase/context/location kept; `meterValue` (not `MeterValue`)', () => {
    const mv = meterValues201(2, [
      sample({ value: 5324 }),
      sample({ measurand: 'Power.Active.Import', unit: 'W', value: 10200, phase: 'L1', location: undefined }),
      sample({ measurand: 'SoC', unit: 'Percent', value: 55, location: 'EV' }),
      sample({ timestamp: T1, value: 5400 }),
    ]);
    assert.deepEqual(mv, {
      evseId: 2,
      meterValue: [
        {
          timestamp: T0,
          sampledValue: [
            { value: 5324, measurand: 'Energy.Active.Import.Register', context: 'Sample.Periodic', location: 'Outlet', unitOfMeasure: { unit: 'Wh' } },
            { value: 10200, measurand: 'Power.Active.Import', phase: 'L1', context: 'Sample.Periodic', unitOfMeasure: { unit: 'W' } },
            { value: 55, measurand: 'SoC', context: 'Sample.Periodic', location: 'EV', unitOfMeasure: { unit: 'Percent' } },
          ],
        },
        { timestamp: T1, sampledValue: [{ value: 5400, measurand: 'Energy.Active.Import.Register', context: 'Sample.Periodic', location: 'Outlet', unitOfMeasure: { unit: 'Wh' } }] },
      ],
    });
    assertValid('ocpp2.0.1', 'MeterValues', mv);
  });

  test('1.6: values are strings, unit flat; transactionId when known', () => {
    const mv = meterValues16(1, 42, [sample({ value: 1234.5 }), sample({ measurand: 'Power.Active.Import', unit: 'W', value: 7400, location: undefined })]);
    assert.deepEqual(mv, {
      connectorId: 1,
      transactionId: 42,
      meterValue: [
        {
          timestamp: T0,
          sampledValue: [
            { value: '1234.5', context: 'Sample.Periodic', measurand: 'Energy.Active.Import.Register', location: 'Outlet', unit: 'Wh' },
            { value: '7400', context: 'Sample.Periodic', measurand: 'Power.Active.Import', unit: 'W' },
          ],
        },
      ],
    });
    assertValid('ocpp1.6', 'MeterValues', mv);
    assert.equal(meterValues16(1, undefined, [sample()])!.transactionId, undefined);
  });

  test('nothing left after filtering → no payload', () => {
    assert.equal(meterValues201(1, [sample({ measurand: 'Current.Import', unit: 'A' })]), undefined);
    assert.equal(meterValue16([]), undefined);
  });

  test('readings are grouped by timestamp, oldest first', () => {
    const rs = readingsOf([sample({ timestamp: T1, value: 2 }), sample({ timestamp: T0, value: 1 }), sample({ timestamp: T1, measurand: 'SoC', unit: 'Percent', value: 50 })]);
    assert.deepEqual(
      rs.map((r) => [r.timestamp, r.samples.map((s) => s.value)]),
      [
        [T0, [1]],
        [T1, [2, 50]],
      ],
    );
  });
});

describe('1.6 → 2.0.1 translation tables', () => {
  const reasons = Object.keys(STOPPED_REASON_16_TO_201) as Reason16[];

  test('every 1.6 StopTransaction reason is mapped (and only those)', () => {
    assert.deepEqual(reasons.sort(), ['DeAuthorized', 'EVDisconnected', 'EmergencyStop', 'HardReset', 'Local', 'Other', 'PowerLoss', 'Reboot', 'Remote', 'SoftReset', 'UnlockCommand']);
    assert.deepEqual(Object.keys(STOP_TRIGGER_16_TO_201).sort(), reasons.sort());
  });

  const cases: Array<{ reason: Reason16 | undefined; stoppedReason: string; triggerReason: string }> = [
    { reason: 'Local', stoppedReason: 'Local', triggerReason: 'StopAuthorized' },
    { reason: undefined, stoppedReason: 'Local', triggerReason: 'StopAuthorized' },
    { reason: 'Remote', stoppedReason: 'Remote', triggerReason: 'RemoteStop' },
    { reason: 'EVDisconnected', stoppedReason: 'EVDisconnected', triggerReason: 'EVCommunicationLost' },
    { reason: 'DeAuthorized', stoppedReason: 'DeAuthorized', triggerReason: 'Deauthorized' },
    { reason: 'EmergencyStop', stoppedReason: 'EmergencyStop', triggerReason: 'AbnormalCondition' },
    { reason: 'HardReset', stoppedReason: 'ImmediateReset', triggerReason: 'ResetCommand' },
    { reason: 'SoftReset', stoppedReason: 'ImmediateReset', triggerReason: 'ResetCommand' },
    { reason: 'PowerLoss', stoppedReason: 'PowerLoss', triggerReason: 'AbnormalCondition' },
    { reason: 'Reboot', stoppedReason: 'Reboot', triggerReason: 'AbnormalCondition' },
    { reason: 'UnlockCommand', stoppedReason: 'Remote', triggerReason: 'UnlockCommand' },
    { reason: 'Other', stoppedReason: 'Other', triggerReason: 'AbnormalCondition' },
  ];
  for (const c of cases) {
    test(`StopTransaction reason ${c.reason ?? '(none)'} → Ended stoppedReason ${c.stoppedReason}, triggerReason ${c.triggerReason}`, () => {
      const te = transactionEvent201(
        ev({ protocol: 'ocpp1.6', ocppTxId: '17', txNumber: 17, eventType: 'Ended', triggerReason: 'StopAuthorized', seqNo: 1, chargingState: 'Idle', stoppedReason: c.reason, samples: [sample({ context: 'Transaction.End', value: 9000 })] }),
        ctx({ ocppTxId: '17' }),
        4,
      );
      assert.equal(te.transactionInfo.stoppedReason, c.stoppedReason);
      assert.equal(te.triggerReason, c.triggerReason);
      assert.equal(te.seqNo, 4);
      assertValid('ocpp2.0.1', 'TransactionEvent', te);
    });
  }

  test('an unknown 1.6 reason word becomes Other', () => {
    const te = transactionEvent201(ev({ protocol: 'ocpp1.6', eventType: 'Ended', stoppedReason: 'Vandalism' }), ctx(), 1);
    assert.deepEqual([te.transactionInfo.stoppedReason, te.triggerReason], ['Other', 'AbnormalCondition']);
  });

  const statuses: Array<{ status: string; expect: string | undefined }> = [
    { status: 'Charging', expect: 'Charging' },
    { status: 'SuspendedEV', expect: 'SuspendedEV' },
    { status: 'SuspendedEVSE', expect: 'SuspendedEVSE' },
    { status: 'Finishing', expect: 'EVConnected' },
    { status: 'Available', expect: 'Idle' },
    { status: 'Preparing', expect: undefined },
    { status: 'Reserved', expect: undefined },
    { status: 'Unavailable', expect: undefined },
    { status: 'Faulted', expect: undefined },
    { status: 'toString', expect: undefined },
  ];
  for (const c of statuses) {
    test(`1.6 status ${c.status} during a transaction → chargingState ${c.expect ?? '(none)'}`, () => assert.equal(chargingStateFrom16(c.status), c.expect));
  }
  test('the status table only names 2.0.1 charging states', () => {
    for (const cs of Object.values(CHARGING_STATE_FROM_16)) {
      assertValid('ocpp2.0.1', 'TransactionEvent', chargingStateUpdate201({ timestamp: T0, tx: ctx(), seqNo: 1, chargingState: cs! }));
    }
  });
});

describe('transactionEvent201', () => {
  const cases: Array<{ name: string; event: TxEvent; tx?: Partial<TxContext>; seqNo: number; expect: Record<string, unknown> }> = [
    {
      name: '2.0.1 Started: seed example shape plus seqNo and meterValue',
      event: ev({ samples: [sample({ context: 'Transaction.Begin' }), sample({ measurand: 'Current.Import', unit: 'A' })], idToken: { idToken: 'TAG', type: 'ISO14443' } }),
      seqNo: 0,
      expect: {
        eventType: 'Started',
        timestamp: T0,
        triggerReason: 'Authorized',
        seqNo: 0,
        transactionInfo: { transactionId: 'tx-201', chargingState: 'Charging' },
        evse: { id: 1, connectorId: 1 },
        meterValue: [{ timestamp: T0, sampledValue: [{ value: 5324, measurand: 'Energy.Active.Import.Register', context: 'Transaction.Begin', location: 'Outlet', unitOfMeasure: { unit: 'Wh' } }] }],
      },
    },
    {
      name: '2.0.1 Updated without evse in the event: the transaction’s EVSE; offline kept',
      event: ev({ eventType: 'Updated', triggerReason: 'ChargingStateChanged', chargingState: 'SuspendedEV', evseId: undefined, connectorId: undefined, offline: true }),
      tx: { evseId: 2, connectorId: null },
      seqNo: 3,
      expect: {
        eventType: 'Updated',
        timestamp: T0,
        triggerReason: 'ChargingStateChanged',
        seqNo: 3,
        transactionInfo: { transactionId: 'tx-201', chargingState: 'SuspendedEV' },
        evse: { id: 2 },
        offline: true,
      },
    },
    {
      name: '2.0.1 Ended without stoppedReason: Local (the 2.0.1 default)',
      event: ev({ eventType: 'Ended', triggerReason: 'EVDeparted', chargingState: undefined, stoppedReason: undefined }),
      seqNo: 7,
      expect: { eventType: 'Ended', timestamp: T0, triggerReason: 'EVDeparted', seqNo: 7, transactionInfo: { transactionId: 'tx-201', stoppedReason: 'Local' }, evse: { id: 1, connectorId: 1 } },
    },
    {
      name: '1.6 Started: transactionId is the integer as a string, connector 1, Authorized',
      event: ev({ protocol: 'ocpp1.6', ocppTxId: '42', txNumber: 42, evseId: 3, connectorId: 1, triggerReason: 'Authorized', meterStartWh: 1000 }),
      tx: { ocppTxId: '42', evseId: 3 },
      seqNo: 0,
      expect: { eventType: 'Started', timestamp: T0, triggerReason: 'Authorized', seqNo: 0, transactionInfo: { transactionId: '42', chargingState: 'Charging' }, evse: { id: 3, connectorId: 1 } },
    },
    {
      name: '1.6 Started after a correlated remote start: RemoteStart',
      event: ev({ protocol: 'ocpp1.6', ocppTxId: '43', txNumber: 43 }),
      tx: { ocppTxId: '43', remoteStartId: 5 },
      seqNo: 0,
      expect: { eventType: 'Started', timestamp: T0, triggerReason: 'RemoteStart', seqNo: 0, transactionInfo: { transactionId: '43', chargingState: 'Charging' }, evse: { id: 1, connectorId: 1 } },
    },
    {
      name: 'unknown EVSE (0): no evse object',
      event: ev({ evseId: undefined, connectorId: undefined }),
      tx: { evseId: 0, connectorId: null },
      seqNo: 0,
      expect: { eventType: 'Started', timestamp: T0, triggerReason: 'Authorized', seqNo: 0, transactionInfo: { transactionId: 'tx-201', chargingState: 'Charging' } },
    },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const te = transactionEvent201(c.event, ctx(c.tx), c.seqNo);
      assert.deepEqual(te, c.expect);
      assertValid('ocpp2.0.1', 'TransactionEvent', te);
    });
  }

  test('the idToken is not forwarded', () => {
    const te = transactionEvent201(ev({ idToken: { idToken: 'SECRET', type: 'ISO14443' } }), ctx(), 0);
    assert.ok(!JSON.stringify(te).includes('SECRET'));
  });
});

describe('isMeterOnlyUpdate', () => {
  const cases: Array<{ name: string; event: TxEvent; last?: string; expect: boolean }> = [
    { name: 'periodic samples', event: ev({ eventType: 'Updated', triggerReason: 'MeterValuePeriodic', chargingState: undefined }), expect: true },
    { name: 'clock-aligned samples', event: ev({ eventType: 'Updated', triggerReason: 'MeterValueClock', chargingState: undefined }), expect: true },
    { name: 'periodic repeating the current charging state', event: ev({ eventType: 'Updated', triggerReason: 'MeterValuePeriodic', chargingState: 'Charging' }), last: 'Charging', expect: true },
    { name: 'periodic with a charging-state change', event: ev({ eventType: 'Updated', triggerReason: 'MeterValuePeriodic', chargingState: 'SuspendedEV' }), last: 'Charging', expect: false },
    { name: 'periodic with a state and nothing forwarded yet', event: ev({ eventType: 'Updated', triggerReason: 'MeterValuePeriodic', chargingState: 'Charging' }), expect: false },
    { name: 'charging state changed', event: ev({ eventType: 'Updated', triggerReason: 'ChargingStateChanged', chargingState: 'SuspendedEV' }), expect: false },
    { name: 'rate changed', event: ev({ eventType: 'Updated', triggerReason: 'ChargingRateChanged', chargingState: undefined }), expect: false },
    { name: 'Started', event: ev({ triggerReason: 'MeterValuePeriodic' }), expect: false },
  ];
  for (const c of cases) test(c.name, () => assert.equal(isMeterOnlyUpdate(c.event, c.last), c.expect));
});

describe('1.6 payloads (payload protocol ocpp1.6)', () => {
  const ev16 = (over: Partial<TxEvent>) => ev({ protocol: 'ocpp1.6', ocppTxId: '9', txNumber: 9, idToken: { idToken: 'TAG16', type: 'ISO14443' }, ...over });

  test('StartTransaction as the station sent it', () => {
    const p = startTransaction16(ev16({ meterStartWh: 1000, reservationId: 3 }), { evseId: 1, idTag: 'TAG16', meterStartWh: 1000 });
    assert.deepEqual(p, { connectorId: 1, idTag: 'TAG16', meterStart: 1000, timestamp: T0, reservationId: 3 });
    assertValid('ocpp1.6', 'StartTransaction', p);
  });

  test('StopTransaction with reason, idTag and transactionData of the forwarded measurands', () => {
    const p = stopTransaction16(
      ev16({ eventType: 'Ended', stoppedReason: 'EVDisconnected', meterStopWh: 9000.4, samples: [sample({ context: 'Transaction.End', value: 9000.4 }), sample({ measurand: 'Voltage', unit: 'V', value: 230 })] }),
      { txNumber: 9, meterStopWh: 9000 },
    );
    assert.deepEqual(p, {
      transactionId: 9,
      meterStop: 9000,
      timestamp: T0,
      reason: 'EVDisconnected',
      idTag: 'TAG16',
      transactionData: [{ timestamp: T0, sampledValue: [{ value: '9000.4', context: 'Transaction.End', measurand: 'Energy.Active.Import.Register', location: 'Outlet', unit: 'Wh' }] }],
    });
    assertValid('ocpp1.6', 'StopTransaction', p);
  });

  test('StatusNotification as the station sent it (NoError when none given)', () => {
    const r: ConnectorStatusReport = { stationId: 'CS-1', evseId: 2, connectorId: 1, status: 'Occupied', ocppStatus: 'SuspendedEV', timestamp: T0 };
    const p = statusNotification16(r);
    assert.deepEqual(p, { connectorId: 2, errorCode: 'NoError', status: 'SuspendedEV', timestamp: T0 });
    assertValid('ocpp1.6', 'StatusNotification', p);
    assertValid('ocpp1.6', 'StatusNotification', statusNotification16({ ...r, errorCode: 'GroundFailure', info: 'x', vendorErrorCode: 'E1' }));
  });
});

describe('checkPayload: the protocols.md §1.5 traps are caught before anything is written', () => {
  const ok = transactionEvent201(ev(), ctx(), 0);
  const cases: Array<{ name: string; pp: 'ocpp2.0.1' | 'ocpp1.6'; action: 'TransactionEvent' | 'MeterValues'; payload: unknown }> = [
    { name: 'TransactionEvent without seqNo (as in the seed examples)', pp: 'ocpp2.0.1', action: 'TransactionEvent', payload: { ...ok, seqNo: undefined } },
    { name: '`MeterValue` instead of `meterValue` (as in the seed example)', pp: 'ocpp2.0.1', action: 'MeterValues', payload: { evseId: 1, MeterValue: [{ timestamp: T0, sampledValue: [{ value: 1 }] }] } },
    { name: 'a string value in 2.0.1', pp: 'ocpp2.0.1', action: 'MeterValues', payload: { evseId: 1, meterValue: [{ timestamp: T0, sampledValue: [{ value: '1' }] }] } },
    { name: 'a number value in 1.6', pp: 'ocpp1.6', action: 'MeterValues', payload: { connectorId: 1, meterValue: [{ timestamp: T0, sampledValue: [{ value: 1 }] }] } },
    { name: 'TransactionEvent in 1.6 (it has none)', pp: 'ocpp1.6', action: 'TransactionEvent', payload: ok },
  ];
  for (const c of cases) test(c.name, () => assert.equal(checkPayload(c.pp, c.action, JSON.parse(JSON.stringify(c.payload))).ok, false));
});

describe('meter cadence: meterDecision', () => {
  const cases: Array<{ name: string; readingS: number; windowStartS: number | undefined; intervalS: number; canCoalesce: boolean; expect: string }> = [
    { name: 'nothing forwarded yet → open', readingS: 100, windowStartS: undefined, intervalS: 60, canCoalesce: false, expect: 'open' },
    { name: 'aggregation off → every reading opens a row', readingS: 101, windowStartS: 100, intervalS: 0, canCoalesce: true, expect: 'open' },
    { name: 'exactly N s later → open', readingS: 160, windowStartS: 100, intervalS: 60, canCoalesce: true, expect: 'open' },
    { name: 'inside the window, row still waiting → coalesce (keep the latest)', readingS: 130, windowStartS: 100, intervalS: 60, canCoalesce: true, expect: 'coalesce' },
    { name: 'inside the window, row already on its way → drop', readingS: 130, windowStartS: 100, intervalS: 60, canCoalesce: false, expect: 'drop' },
    { name: 'same instant as the window’s reading → drop', readingS: 100, windowStartS: 100, intervalS: 60, canCoalesce: true, expect: 'drop' },
    { name: 'older than what was forwarded → drop', readingS: 10, windowStartS: 100, intervalS: 60, canCoalesce: true, expect: 'drop' },
  ];
  for (const c of cases) test(c.name, () => assert.equal(meterDecision(c), c.expect));
  test('epoch seconds fit a 32-bit integer for decades', () => {
    assert.equal(toEpochS(Date.UTC(2020, 0, 1)), 0);
    assert.ok(toEpochS(Date.UTC(2080, 0, 1)) < 2 ** 31);
  });
});

describe('forwarder rules', () => {
  const cases: Array<{ status: number; expect: string }> = [
    { status: 200, expect: 'delivered' },
    { status: 204, expect: 'delivered' },
    { status: 0, expect: 'retry' },
    { status: 401, expect: 'retry' },
    { status: 408, expect: 'retry' },
    { status: 429, expect: 'retry' },
    { status: 500, expect: 'retry' },
    { status: 503, expect: 'retry' },
    { status: 302, expect: 'retry' },
    { status: 400, expect: 'dead' },
    { status: 403, expect: 'dead' },
    { status: 404, expect: 'dead' },
    { status: 409, expect: 'dead' },
    { status: 422, expect: 'dead' },
  ];
  for (const c of cases) test(`HTTP ${c.status} → ${c.expect}`, () => assert.equal(classifyStatus(c.status), c.expect));

  test('backoff doubles from the base, is capped, and jitters within [d/2, d]', () => {
    const table = [
      { attempt: 1, d: 1000 },
      { attempt: 2, d: 2000 },
      { attempt: 5, d: 16_000 },
      { attempt: 9, d: 256_000 },
      { attempt: 10, d: 300_000 },
      { attempt: 500, d: 300_000 },
    ];
    for (const { attempt, d } of table) {
      assert.equal(backoffMs(attempt, 1000, 300_000, () => 1), d, `attempt ${attempt} max`);
      assert.equal(backoffMs(attempt, 1000, 300_000, () => 0), d / 2, `attempt ${attempt} min`);
    }
  });

  test('idempotency keys are header-safe and unambiguous', () => {
    assert.equal(idempotencyKey('p', 'CS-1', 'tx', 'abc', 3), 'p|CS-1|tx|abc|3');
    assert.equal(idempotencyKey('p', 'a|b', 'tx', 'é 1'), 'p|a%7Cb|tx|%C3%A9%201');
    assert.match(idempotencyKey('p', 'x\u0000y'), /^[\x21-\x7e]+$/);
  });
});
