/**
 * J (meter values) over real sockets, both versions: unit and multiplier normalization, per-phase
 * values, SoC, Transaction.Begin/End contexts, the transaction's energy and the EVSE's latest readings.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTestCsms, rawClient, type TestCsms, type RawClient } from './helpers/csms.js';
import { BOOT16, BOOT201, vcall, uniqueId } from './helpers/wire.js';

const iso = (t: number): string => new Date(t).toISOString();

describe('meter values (J)', () => {
  let csms: TestCsms;
  const clients: RawClient[] = [];
  before(async () => {
    csms = await startTestCsms();
  });
  after(async () => {
    await Promise.all(clients.map((c) => c.close({ force: true }).catch(() => undefined)));
    await csms.destroy();
  });
  const open = async (prefix: string, protocol: 'ocpp1.6' | 'ocpp2.0.1') => {
    const id = uniqueId(prefix);
    const cli = await rawClient(csms, id, protocol);
    clients.push(cli);
    await vcall(cli, 'BootNotification', protocol === 'ocpp1.6' ? BOOT16 : BOOT201);
    return { id, cli };
  };
  const rows = (where: { stationId: string; txId?: string }) => {
    let q = csms.db.kysely.selectFrom('meter_values').selectAll().where('station_id', '=', where.stationId);
    if (where.txId) q = q.where('transaction_id', '=', where.txId);
    return q.orderBy('id').execute();
  };

  test('1.6: kWh and kW values are normalized to Wh and W; energy_wh = register − start; evse last_* updated', async () => {
    const { id, cli } = await open('J16KWH', 'ocpp1.6');
    const t0 = Date.now() - 600_000;
    const start = await vcall<{ transactionId: number }>(cli, 'StartTransaction', { connectorId: 1, idTag: 'J16', meterStart: 12_000, timestamp: iso(t0) });
    await vcall(cli, 'MeterValues', {
      connectorId: 1,
      transactionId: start.transactionId,
      meterValue: [
        {
          timestamp: iso(t0 + 300_000),
          sampledValue: [
            { value: '12.75', measurand: 'Energy.Active.Import.Register', unit: 'kWh', context: 'Sample.Periodic', location: 'Outlet' },
            { value: '7.4', measurand: 'Power.Active.Import', unit: 'kW' },
            { value: '16', measurand: 'Current.Import', unit: 'A', phase: 'L1' },
            { value: '16.2', measurand: 'Current.Import', unit: 'A', phase: 'L2' },
            { value: '15.9', measurand: 'Current.Import', unit: 'A', phase: 'L3' },
            // No unit: the measurand's own unit applies, not 1.6's energy default (Wh).
            { value: '42', measurand: 'SoC', location: 'EV' },
          ],
        },
      ],
    });
    const tx = await csms.db.kysely.selectFrom('transactions').selectAll().where('tx_number', '=', start.transactionId).executeTakeFirstOrThrow();
    assert.equal(tx.energy_wh, 750);
    assert.equal(tx.power_w, 7400);
    assert.equal(tx.soc, 42);
    assert.equal(tx.last_meter_at, iso(t0 + 300_000));

    const mv = await rows({ stationId: id, txId: tx.id });
    assert.deepEqual(
      mv.map((m) => [m.measurand, m.phase, m.value, m.unit, m.context, m.location]),
      [
        ['Energy.Active.Import.Register', null, 12_000, 'Wh', 'Transaction.Begin', 'Outlet'],
        ['Energy.Active.Import.Register', null, 12_750, 'Wh', 'Sample.Periodic', 'Outlet'],
        ['Power.Active.Import', null, 7400, 'W', 'Sample.Periodic', null],
        ['Current.Import', 'L1', 16, 'A', 'Sample.Periodic', null],
        ['Current.Import', 'L2', 16.2, 'A', 'Sample.Periodic', null],
        ['Current.Import', 'L3', 15.9, 'A', 'Sample.Periodic', null],
        ['SoC', null, 42, 'Percent', 'Sample.Periodic', 'EV'],
      ],
    );
    const evse = await csms.db.kysely.selectFrom('evses').selectAll().where('station_id', '=', id).where('evse_id', '=', 1).executeTakeFirstOrThrow();
    assert.deepEqual([evse.last_energy_wh, evse.last_power_w, evse.last_soc, evse.last_meter_at], [12_750, 7400, 42, iso(t0 + 300_000)]);

    // StopTransaction with transactionData (in kWh) and a Transaction.End sample.
    await vcall(cli, 'StopTransaction', {
      transactionId: start.transactionId,
      meterStop: 13_500,
      timestamp: iso(t0 + 600_000),
      transactionData: [
        { timestamp: iso(t0 + 600_000), sampledValue: [{ value: '13.5', unit: 'kWh', context: 'Transaction.End' }, { value: '80', measurand: 'SoC', unit: 'Percent', context: 'Transaction.End' }] },
      ],
    });
    const done = await csms.db.kysely.selectFrom('transactions').selectAll().where('id', '=', tx.id).executeTakeFirstOrThrow();
    assert.deepEqual([done.meter_stop_wh, done.energy_wh, done.soc, done.power_w], [13_500, 1500, 80, 0]);
    const ends = (await rows({ stationId: id, txId: tx.id })).filter((m) => m.context === 'Transaction.End');
    assert.ok(ends.length >= 2);
    for (const e of ends.filter((m) => m.measurand === 'Energy.Active.Import.Register')) assert.equal(e.value, 13_500);
  });

  test('1.6: SignedData samples keep the signature and store no value', async () => {
    const { id, cli } = await open('J16SIG', 'ocpp1.6');
    const ts = iso(Date.now());
    await vcall(cli, 'MeterValues', {
      connectorId: 1,
      meterValue: [{ timestamp: ts, sampledValue: [{ value: 'OCMF|{"FV":"1.0"}|{"SD":"AB"}', format: 'SignedData', context: 'Transaction.End' }] }],
    });
    const [row] = await rows({ stationId: id });
    assert.equal(row!.value, null);
    assert.equal(row!.signed, 'OCMF|{"FV":"1.0"}|{"SD":"AB"}');
  });

  test('2.0.1: MeterValues with unitOfMeasure multiplier 3 (and kWh) normalized to Wh; per-phase power summed', async () => {
    const { id, cli } = await open('J201MULT', 'ocpp2.0.1');
    const ts = iso(Date.now() - 1000);
    await vcall(cli, 'MeterValues', {
      evseId: 2,
      meterValue: [
        {
          timestamp: ts,
          sampledValue: [
            { value: 12.5, measurand: 'Energy.Active.Import.Register', unitOfMeasure: { unit: 'Wh', multiplier: 3 } },
            { value: 2.3, measurand: 'Power.Active.Import', phase: 'L1-N', unitOfMeasure: { unit: 'kW' } },
            { value: 2300, measurand: 'Power.Active.Import', phase: 'L2-N', unitOfMeasure: { unit: 'W' } },
            { value: 23, measurand: 'Power.Active.Import', phase: 'L3-N', unitOfMeasure: { unit: 'W', multiplier: 2 } },
            { value: 231, measurand: 'Voltage', phase: 'L1-N', unitOfMeasure: { unit: 'V' } },
            { value: 55, measurand: 'SoC', unitOfMeasure: { unit: 'Percent' } },
          ],
        },
      ],
    });
    const mv = await rows({ stationId: id });
    assert.deepEqual(
      mv.map((m) => [m.evse_id, m.transaction_id, m.measurand, m.phase, m.value, m.unit, m.context]),
      [
        [2, null, 'Energy.Active.Import.Register', null, 12_500, 'Wh', 'Sample.Periodic'],
        [2, null, 'Power.Active.Import', 'L1-N', 2300, 'W', 'Sample.Periodic'],
        [2, null, 'Power.Active.Import', 'L2-N', 2300, 'W', 'Sample.Periodic'],
        [2, null, 'Power.Active.Import', 'L3-N', 2300, 'W', 'Sample.Periodic'],
        [2, null, 'Voltage', 'L1-N', 231, 'V', 'Sample.Periodic'],
        [2, null, 'SoC', null, 55, 'Percent', 'Sample.Periodic'],
      ],
    );
    const evse = await csms.db.kysely.selectFrom('evses').selectAll().where('station_id', '=', id).where('evse_id', '=', 2).executeTakeFirstOrThrow();
    assert.deepEqual([evse.last_energy_wh, evse.last_power_w, evse.last_soc, evse.last_meter_at], [12_500, 6900, 55, ts]);
  });

  test('2.0.1: TransactionEvent meter values — Begin/End contexts, SoC, multiplier, energy = register − start', async () => {
    const { id, cli } = await open('J201TX', 'ocpp2.0.1');
    const t0 = Date.now() - 900_000;
    const sv = (value: number, context: string, extra: object = {}) => ({
      value,
      context,
      measurand: 'Energy.Active.Import.Register',
      unitOfMeasure: { unit: 'kWh' },
      ...extra,
    });
    await vcall(cli, 'TransactionEvent', {
      eventType: 'Started',
      timestamp: iso(t0),
      triggerReason: 'Authorized',
      seqNo: 0,
      transactionInfo: { transactionId: 'J-TX', chargingState: 'Charging' },
      evse: { id: 1, connectorId: 1 },
      idToken: { idToken: 'J201', type: 'ISO14443' },
      meterValue: [{ timestamp: iso(t0), sampledValue: [sv(100.25, 'Transaction.Begin'), { value: 20, measurand: 'SoC', context: 'Transaction.Begin', unitOfMeasure: { unit: 'Percent' } }] }],
    });
    await vcall(cli, 'TransactionEvent', {
      eventType: 'Updated',
      timestamp: iso(t0 + 450_000),
      triggerReason: 'MeterValuePeriodic',
      seqNo: 1,
      transactionInfo: { transactionId: 'J-TX' },
      meterValue: [
        {
          timestamp: iso(t0 + 450_000),
          sampledValue: [
            { value: 1030, measurand: 'Energy.Active.Import.Register', context: 'Sample.Periodic', unitOfMeasure: { unit: 'Wh', multiplier: 2 } },
            { value: 11, measurand: 'Power.Active.Import', context: 'Sample.Periodic', unitOfMeasure: { unit: 'kW' } },
            { value: 50, measurand: 'SoC', context: 'Sample.Periodic' },
          ],
        },
      ],
    });
    let tx = await csms.db.kysely.selectFrom('transactions').selectAll().where('station_id', '=', id).executeTakeFirstOrThrow();
    assert.deepEqual([tx.meter_start_wh, tx.energy_wh, tx.power_w, tx.soc], [100_250, 2750, 11_000, 50]);

    await vcall(cli, 'TransactionEvent', {
      eventType: 'Ended',
      timestamp: iso(t0 + 900_000),
      triggerReason: 'EVDeparted',
      seqNo: 2,
      transactionInfo: { transactionId: 'J-TX', stoppedReason: 'EVDisconnected' },
      meterValue: [{ timestamp: iso(t0 + 900_000), sampledValue: [sv(105.5, 'Transaction.End'), { value: 80, measurand: 'SoC', context: 'Transaction.End' }] }],
    });
    tx = await csms.db.kysely.selectFrom('transactions').selectAll().where('station_id', '=', id).executeTakeFirstOrThrow();
    assert.deepEqual([tx.meter_start_wh, tx.meter_stop_wh, tx.energy_wh, tx.power_w, tx.soc], [100_250, 105_500, 5250, 0, 80]);

    const mv = await rows({ stationId: id, txId: tx.id });
    assert.deepEqual(
      mv.map((m) => [m.measurand, m.context, m.value, m.unit, m.connector_id, m.evse_id]),
      [
        ['Energy.Active.Import.Register', 'Transaction.Begin', 100_250, 'Wh', 1, 1],
        ['SoC', 'Transaction.Begin', 20, 'Percent', 1, 1],
        ['Energy.Active.Import.Register', 'Sample.Periodic', 103_000, 'Wh', 1, 1],
        ['Power.Active.Import', 'Sample.Periodic', 11_000, 'W', 1, 1],
        ['SoC', 'Sample.Periodic', 50, 'Percent', 1, 1],
        ['Energy.Active.Import.Register', 'Transaction.End', 105_500, 'Wh', 1, 1],
        ['SoC', 'Transaction.End', 80, 'Percent', 1, 1],
      ],
    );
    const evse = await csms.db.kysely.selectFrom('evses').selectAll().where('station_id', '=', id).where('evse_id', '=', 1).executeTakeFirstOrThrow();
    assert.deepEqual([evse.last_energy_wh, evse.last_soc, evse.last_meter_at], [105_500, 80, iso(t0 + 900_000)]);
  });
});
