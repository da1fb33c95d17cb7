/**
 * OCPP 1.6J scenarios mirroring the OCTT CSMS test cases (written independently from the case list in
 * docs/protocols.md §6) plus the 1.6 bookkeeping traps of §4.3. Every scenario checks the wire answer
 * (schema-validated from the client side) and what was persisted.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTestCsms, rawClient, type TestCsms, type RawClient } from './helpers/csms.js';
import { BOOT16, vcall, waitFor, uniqueId } from './helpers/wire.js';

type IdTagInfo = { status: string; expiryDate?: string; parentIdTag?: string };
type StartConf = { transactionId: number; idTagInfo: IdTagInfo };

const iso = (t: number): string => new Date(t).toISOString();

describe('OCPP 1.6 OCTT scenarios', () => {
  let csms: TestCsms;
  const clients: RawClient[] = [];
  const connect = async (id = uniqueId()): Promise<RawClient> => {
    const c = await rawClient(csms, id, 'ocpp1.6');
    clients.push(c);
    return c;
  };

  before(async () => {
    csms = await startTestCsms();
  });
  after(async () => {
    await Promise.all(clients.map((c) => c.close({ force: true }).catch(() => undefined)));
    await csms.destroy();
  });

  test('TC_001 cold boot: Accepted with interval and currentTime; connector 0 and 1 statuses stored', async () => {
    const id = uniqueId('TC001');
    const cli = await connect(id);
    const before = Date.now();
    const boot = await vcall<{ status: string; interval: number; currentTime: string }>(cli, 'BootNotification', {
      ...BOOT16,
      chargePointSerialNumber: 'SN-001',
      firmwareVersion: '1.2.3',
    });
    assert.equal(boot.status, 'Accepted');
    assert.equal(boot.interval, 300);
    const t = Date.parse(boot.currentTime);
    assert.ok(Math.abs(t - before) < 5000, `currentTime ${boot.currentTime} is not now`);

    const ts = iso(Date.now());
    await vcall(cli, 'StatusNotification', { connectorId: 0, errorCode: 'NoError', status: 'Available', timestamp: ts });
    await vcall(cli, 'StatusNotification', { connectorId: 1, errorCode: 'NoError', status: 'Available', timestamp: ts });
    const hb = await vcall<{ currentTime: string }>(cli, 'Heartbeat', {});
    assert.ok(Math.abs(Date.parse(hb.currentTime) - Date.now()) < 5000);

    const st = await csms.db.kysely.selectFrom('stations').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
    assert.equal(st.registration_status, 'Accepted');
    assert.equal(st.protocol, 'ocpp1.6');
    assert.equal(st.vendor, BOOT16.chargePointVendor);
    assert.equal(st.model, BOOT16.chargePointModel);
    assert.equal(st.serial_number, 'SN-001');
    assert.equal(st.firmware_version, '1.2.3');
    await waitFor(async () => (await csms.db.kysely.selectFrom('stations').select('online').where('id', '=', id).executeTakeFirst())?.online === 1, {
      what: 'station online',
    });

    const conns = await csms.db.kysely.selectFrom('connectors').selectAll().where('station_id', '=', id).orderBy('evse_id').execute();
    assert.deepEqual(
      conns.map((c) => ({ evse: c.evse_id, connector: c.connector_id, status: c.status, ocpp: c.ocpp_status, error: c.error_code, at: c.status_at })),
      [
        { evse: 0, connector: 0, status: 'Available', ocpp: 'Available', error: 'NoError', at: ts },
        { evse: 1, connector: 1, status: 'Available', ocpp: 'Available', error: 'NoError', at: ts },
      ],
    );
    const evses = await csms.db.kysely.selectFrom('evses').select('evse_id').where('station_id', '=', id).orderBy('evse_id').execute();
    assert.deepEqual(evses.map((e) => e.evse_id), [0, 1]);
  });

  test('TC_004_1 regular charging session: Authorize → Start → Charging → MeterValues → Stop → Available', async () => {
    const idA = uniqueId('TC004A');
    const idB = uniqueId('TC004B');
    const a = await connect(idA);
    const b = await connect(idB);
    await vcall(a, 'BootNotification', BOOT16);
    await vcall(b, 'BootNotification', BOOT16);
    const t0 = Date.now() - 60_000;

    const auth = await vcall<{ idTagInfo: IdTagInfo }>(a, 'Authorize', { idTag: 'TAG-004' });
    assert.equal(auth.idTagInfo.status, 'Accepted');
    await vcall(a, 'StatusNotification', { connectorId: 1, errorCode: 'NoError', status: 'Preparing', timestamp: iso(t0) });
    const start = await vcall<StartConf>(a, 'StartTransaction', { connectorId: 1, idTag: 'TAG-004', meterStart: 1000, timestamp: iso(t0 + 1000) });
    assert.equal(start.idTagInfo.status, 'Accepted');
    assert.ok(Number.isInteger(start.transactionId), 'transactionId is an integer');
    await vcall(a, 'StatusNotification', { connectorId: 1, errorCode: 'NoError', status: 'Charging', timestamp: iso(t0 + 2000) });

    let conn = await csms.db.kysely.selectFrom('connectors').selectAll().where('station_id', '=', idA).where('evse_id', '=', 1).executeTakeFirstOrThrow();
    assert.equal(conn.status, 'Occupied');
    assert.equal(conn.ocpp_status, 'Charging');

    // Interleave a start on another station: ids stay unique and increasing across stations.
    const startB = await vcall<StartConf>(b, 'StartTransaction', { connectorId: 1, idTag: 'TAG-004B', meterStart: 0, timestamp: iso(t0 + 1500) });
    assert.ok(Number.isInteger(startB.transactionId));
    assert.ok(startB.transactionId > start.transactionId, 'ids are monotonic across stations');

    await vcall(a, 'MeterValues', {
      connectorId: 1,
      transactionId: start.transactionId,
      meterValue: [
        {
          timestamp: iso(t0 + 30_000),
          sampledValue: [
            { value: '1500', measurand: 'Energy.Active.Import.Register', unit: 'Wh', context: 'Sample.Periodic' },
            { value: '7200', measurand: 'Power.Active.Import', unit: 'W' },
          ],
        },
      ],
    });
    let tx = await csms.db.kysely.selectFrom('transactions').selectAll().where('tx_number', '=', start.transactionId).executeTakeFirstOrThrow();
    assert.equal(tx.state, 'active');
    assert.equal(tx.energy_wh, 500);
    assert.equal(tx.power_w, 7200);

    const stop = await vcall<{ idTagInfo?: IdTagInfo }>(a, 'StopTransaction', {
      transactionId: start.transactionId,
      idTag: 'TAG-004',
      meterStop: 3500,
      timestamp: iso(t0 + 60_000),
      reason: 'Local',
    });
    assert.equal(stop.idTagInfo?.status, 'Accepted');
    await vcall(a, 'StatusNotification', { connectorId: 1, errorCode: 'NoError', status: 'Finishing', timestamp: iso(t0 + 61_000) });
    await vcall(a, 'StatusNotification', { connectorId: 1, errorCode: 'NoError', status: 'Available', timestamp: iso(t0 + 62_000) });

    tx = await csms.db.kysely.selectFrom('transactions').selectAll().where('tx_number', '=', start.transactionId).executeTakeFirstOrThrow();
    assert.equal(tx.station_id, idA);
    assert.equal(tx.protocol, 'ocpp1.6');
    assert.equal(tx.ocpp_tx_id, String(start.transactionId));
    assert.equal(tx.evse_id, 1);
    assert.equal(tx.id_token, 'TAG-004');
    assert.equal(tx.auth_status, 'Accepted');
    assert.equal(tx.state, 'ended');
    assert.equal(tx.started_at, iso(t0 + 1000));
    assert.equal(tx.stopped_at, iso(t0 + 60_000));
    assert.equal(tx.meter_start_wh, 1000);
    assert.equal(tx.meter_stop_wh, 3500);
    assert.equal(tx.energy_wh, 2500);
    assert.equal(tx.power_w, 0);
    assert.equal(tx.stop_reason, 'Local');

    const events = await csms.db.kysely.selectFrom('transaction_events').selectAll().where('transaction_id', '=', tx.id).orderBy('seq_no').execute();
    assert.deepEqual(events.map((e) => [e.seq_no, e.event_type]), [
      [0, 'Started'],
      [1, 'Ended'],
    ]);
    const mv = await csms.db.kysely.selectFrom('meter_values').selectAll().where('transaction_id', '=', tx.id).orderBy('id').execute();
    assert.deepEqual(
      mv.map((m) => [m.measurand, m.context, m.value, m.unit]),
      [
        ['Energy.Active.Import.Register', 'Transaction.Begin', 1000, 'Wh'],
        ['Energy.Active.Import.Register', 'Sample.Periodic', 1500, 'Wh'],
        ['Power.Active.Import', 'Sample.Periodic', 7200, 'W'],
        ['Energy.Active.Import.Register', 'Transaction.End', 3500, 'Wh'],
      ],
    );
    conn = await csms.db.kysely.selectFrom('connectors').selectAll().where('station_id', '=', idA).where('evse_id', '=', 1).executeTakeFirstOrThrow();
    assert.equal(conn.status, 'Available');
    assert.equal(conn.ocpp_status, 'Available');

    // A third transaction anywhere gets a still larger id.
    const again = await vcall<StartConf>(a, 'StartTransaction', { connectorId: 1, idTag: 'TAG-004', meterStart: 3500, timestamp: iso(t0 + 70_000) });
    assert.ok(again.transactionId > startB.transactionId);
    const nums = (await csms.db.kysely.selectFrom('transactions').select('tx_number').execute()).map((r) => r.tx_number);
    assert.equal(new Set(nums).size, nums.length, 'tx numbers unique');
  });

  test('trap: StopTransaction without idTag is accepted (OCPP.Core #47)', async () => {
    const id = uniqueId('NOIDTAG');
    const cli = await connect(id);
    await vcall(cli, 'BootNotification', BOOT16);
    const start = await vcall<StartConf>(cli, 'StartTransaction', { connectorId: 2, idTag: 'TAG-X', meterStart: 0, timestamp: iso(Date.now() - 1000) });
    const stop = await vcall<Record<string, unknown>>(cli, 'StopTransaction', { transactionId: start.transactionId, meterStop: 1234, timestamp: iso(Date.now()) });
    assert.deepEqual(stop, {}, 'no idTag → no idTagInfo');
    const tx = await csms.db.kysely.selectFrom('transactions').selectAll().where('tx_number', '=', start.transactionId).executeTakeFirstOrThrow();
    assert.equal(tx.state, 'ended');
    assert.equal(tx.evse_id, 2);
    assert.equal(tx.energy_wh, 1234);
    assert.equal(tx.stop_reason, 'Local', 'reason defaults to Local');
  });

  test('trap: MeterValues without transactionId are kept per connector (core PR 1025)', async () => {
    const id = uniqueId('MVNOTX');
    const cli = await connect(id);
    await vcall(cli, 'BootNotification', BOOT16);
    const ts = iso(Date.now());
    await vcall(cli, 'MeterValues', {
      connectorId: 2,
      meterValue: [{ timestamp: ts, sampledValue: [{ value: '4321' }, { value: '230.1', measurand: 'Voltage', unit: 'V', phase: 'L1-N' }] }],
    });
    const rows = await csms.db.kysely.selectFrom('meter_values').selectAll().where('station_id', '=', id).orderBy('id').execute();
    assert.deepEqual(
      rows.map((r) => ({ evse: r.evse_id, tx: r.transaction_id, m: r.measurand, v: r.value, u: r.unit, ph: r.phase, ctx: r.context, ts: r.timestamp })),
      [
        { evse: 2, tx: null, m: 'Energy.Active.Import.Register', v: 4321, u: 'Wh', ph: null, ctx: 'Sample.Periodic', ts },
        { evse: 2, tx: null, m: 'Voltage', v: 230.1, u: 'V', ph: 'L1-N', ctx: 'Sample.Periodic', ts },
      ],
    );
    const evse = await csms.db.kysely.selectFrom('evses').selectAll().where('station_id', '=', id).where('evse_id', '=', 2).executeTakeFirstOrThrow();
    assert.equal(evse.last_energy_wh, 4321);
    assert.equal(evse.last_meter_at, ts);
  });

  test('trap: StopTransaction with an unknown or foreign transactionId gets .conf and closes nothing (OCPP.Core #35)', async () => {
    const idA = uniqueId('OWNER');
    const idB = uniqueId('FOREIGN');
    const a = await connect(idA);
    const b = await connect(idB);
    await vcall(a, 'BootNotification', BOOT16);
    await vcall(b, 'BootNotification', BOOT16);
    const start = await vcall<StartConf>(a, 'StartTransaction', { connectorId: 1, idTag: 'TAG-OWN', meterStart: 10, timestamp: iso(Date.now() - 5000) });

    // Station B tries to stop A's transaction.
    const foreign = await vcall<{ idTagInfo?: IdTagInfo }>(b, 'StopTransaction', {
      transactionId: start.transactionId,
      idTag: 'TAG-OWN',
      meterStop: 9999,
      timestamp: iso(Date.now()),
    });
    assert.equal(foreign.idTagInfo?.status, 'Accepted');
    // Station B's MeterValues naming A's transaction are kept, but not attached to it.
    await vcall(b, 'MeterValues', {
      connectorId: 1,
      transactionId: start.transactionId,
      meterValue: [{ timestamp: iso(Date.now()), sampledValue: [{ value: '50000' }] }],
    });
    // And an id nobody ever had, with transactionData.
    const unknown = await vcall<Record<string, unknown>>(b, 'StopTransaction', {
      transactionId: 987654321,
      meterStop: 1,
      timestamp: iso(Date.now()),
      transactionData: [{ timestamp: iso(Date.now()), sampledValue: [{ value: '1' }] }],
    });
    assert.deepEqual(unknown, {});

    const tx = await csms.db.kysely.selectFrom('transactions').selectAll().where('tx_number', '=', start.transactionId).executeTakeFirstOrThrow();
    assert.equal(tx.station_id, idA);
    assert.equal(tx.state, 'active', "another station's StopTransaction did not close it");
    assert.equal(tx.meter_stop_wh, null);
    assert.equal(tx.energy_wh, 0, "B's meter values did not touch A's transaction");
    const bTx = await csms.db.kysely.selectFrom('transactions').select('id').where('station_id', '=', idB).execute();
    assert.equal(bTx.length, 0, 'no phantom transaction for B');
    // The transactionData of the unknown stop is kept, unattached.
    const kept = await csms.db.kysely.selectFrom('meter_values').selectAll().where('station_id', '=', idB).execute();
    assert.equal(kept.length, 2);
    assert.ok(kept.every((k) => k.transaction_id === null));

    // A's own stop still works afterwards.
    await vcall(a, 'StopTransaction', { transactionId: start.transactionId, meterStop: 110, timestamp: iso(Date.now()) });
    const closed = await csms.db.kysely.selectFrom('transactions').selectAll().where('tx_number', '=', start.transactionId).executeTakeFirstOrThrow();
    assert.equal(closed.state, 'ended');
    assert.equal(closed.energy_wh, 100);
  });

  test('trap: a repeated identical StartTransaction (charger retry) gets the same transactionId', async () => {
    const id = uniqueId('RETRY');
    const cli = await connect(id);
    await vcall(cli, 'BootNotification', BOOT16);
    const req = { connectorId: 1, idTag: 'TAG-R', meterStart: 500, timestamp: iso(Date.now() - 2000) };
    const first = await vcall<StartConf>(cli, 'StartTransaction', req);
    const second = await vcall<StartConf>(cli, 'StartTransaction', req);
    assert.equal(second.transactionId, first.transactionId);
    assert.equal(second.idTagInfo.status, 'Accepted');
    const rows = await csms.db.kysely.selectFrom('transactions').select(['tx_number']).where('station_id', '=', id).execute();
    assert.equal(rows.length, 1);
    const samples = await csms.db.kysely.selectFrom('meter_values').select('id').where('station_id', '=', id).execute();
    assert.equal(samples.length, 1, 'the retry stored no second Transaction.Begin sample');

    // A different start (new timestamp) is a new transaction.
    const third = await vcall<StartConf>(cli, 'StartTransaction', { ...req, timestamp: iso(Date.now()) });
    assert.notEqual(third.transactionId, first.transactionId);
  });

  test('trap: burst of first StatusNotification(connectorId=0) from six fresh stations, three rounds (steve#2107)', async () => {
    for (let round = 0; round < 3; round++) {
      const ids = Array.from({ length: 6 }, (_, i) => uniqueId(`BURST${round}${i}`));
      const clis = await Promise.all(ids.map((id) => connect(id)));
      const ts = iso(Date.now());
      // Latch: all six calls are released in the same tick.
      const results = await Promise.allSettled(
        clis.map((c) => vcall(c, 'StatusNotification', { connectorId: 0, errorCode: 'NoError', status: 'Available', timestamp: ts })),
      );
      const failures = results.filter((r) => r.status === 'rejected');
      assert.equal(failures.length, 0, `round ${round}: ${failures.map((f) => String((f as PromiseRejectedResult).reason)).join('; ')}`);
      for (const r of results) assert.deepEqual((r as PromiseFulfilledResult<unknown>).value, {});
      const rows = await csms.db.kysely
        .selectFrom('connectors')
        .select(['station_id', 'evse_id', 'connector_id', 'status'])
        .where('station_id', 'in', ids)
        .execute();
      assert.equal(rows.length, 6, `round ${round}: six connector-0 rows`);
      for (const r of rows) assert.deepEqual([r.evse_id, r.connector_id, r.status], [0, 0, 'Available']);
      const stations = await csms.db.kysely.selectFrom('stations').select('id').where('id', 'in', ids).execute();
      assert.equal(stations.length, 6);
      await Promise.all(clis.map((c) => c.close()));
    }
  });

  test('Authorize of a token with a group returns parentIdTag; a DataTransfer is recorded', async () => {
    const now = new Date().toISOString();
    await csms.db.kysely
      .insertInto('id_tokens')
      .values({ id_token: 'TAG-GRP', type: 'ISO14443', status: 'Accepted', group_id: 'FLEET-1', parent_id_tag: null, expiry_date: null, created_at: now, updated_at: now })
      .execute();
    const id = uniqueId('GRP');
    const cli = await connect(id);
    await vcall(cli, 'BootNotification', BOOT16);
    const a = await vcall<{ idTagInfo: IdTagInfo }>(cli, 'Authorize', { idTag: 'TAG-GRP' });
    assert.deepEqual(a.idTagInfo, { status: 'Accepted', parentIdTag: 'FLEET-1' });
    const dt = await vcall<{ status: string }>(cli, 'DataTransfer', { vendorId: 'com.example', messageId: 'x', data: 'hello' });
    assert.equal(dt.status, 'UnknownVendorId');
    const ev = await csms.db.kysely.selectFrom('station_events').selectAll().where('station_id', '=', id).where('type', '=', 'DataTransfer').executeTakeFirstOrThrow();
    assert.equal(JSON.parse(ev.payload).data, 'hello');
  });
  test('1.6 charging state follows StatusNotification during a transaction (Charging → SuspendedEV → SuspendedEVSE)', async () => {
    const id = uniqueId('CS16');
    const cli = await connect(id);
    await vcall(cli, 'BootNotification', BOOT16);
    const start = await vcall<StartConf>(cli, 'StartTransaction', { connectorId: 1, idTag: 'CSTAG', meterStart: 0, timestamp: iso(Date.now()) });
    const state = async () =>
      (await csms.db.kysely.selectFrom('transactions').select('charging_state').where('station_id', '=', id).where('tx_number', '=', start.transactionId).executeTakeFirstOrThrow()).charging_state;
    assert.equal(await state(), 'Charging');
    for (const status of ['SuspendedEV', 'SuspendedEVSE', 'Charging'] as const) {
      await vcall(cli, 'StatusNotification', { connectorId: 1, errorCode: 'NoError', status, timestamp: iso(Date.now()) });
      assert.equal(await state(), status);
    }
    // Finishing after the stop does not touch the ended transaction.
    await vcall(cli, 'StopTransaction', { transactionId: start.transactionId, meterStop: 1000, timestamp: iso(Date.now()) });
    await vcall(cli, 'StatusNotification', { connectorId: 1, errorCode: 'NoError', status: 'SuspendedEV', timestamp: iso(Date.now()) });
    assert.equal(await state(), 'Idle');
  });
});

describe('OCPP 1.6 with concurrent transactions rejected (AMPLINE_CONCURRENT_TX=reject)', () => {
  test('a second start with the same tag gets ConcurrentTx (and an id); a retry of the first start still gets Accepted', async () => {
    const csms = await startTestCsms({ env: { AMPLINE_CONCURRENT_TX: 'reject' } });
    let cli: RawClient | undefined;
    try {
      cli = await rawClient(csms, uniqueId('CONC'), 'ocpp1.6');
      await vcall(cli, 'BootNotification', BOOT16);
      const t = Date.now();
      const req = { connectorId: 1, idTag: 'TAG-C', meterStart: 0, timestamp: iso(t - 5000) };
      const first = await vcall<StartConf>(cli, 'StartTransaction', req);
      assert.equal(first.idTagInfo.status, 'Accepted');

      // The charger did not get the answer and repeats the very same StartTransaction.
      const retry = await vcall<StartConf>(cli, 'StartTransaction', req);
      assert.equal(retry.transactionId, first.transactionId);
      assert.equal(retry.idTagInfo.status, 'Accepted', 'a retry is not a concurrent transaction');

      const second = await vcall<StartConf>(cli, 'StartTransaction', { connectorId: 2, idTag: 'TAG-C', meterStart: 0, timestamp: iso(t) });
      assert.equal(second.idTagInfo.status, 'ConcurrentTx');
      assert.ok(second.transactionId > first.transactionId);
      const tx = await csms.db.kysely.selectFrom('transactions').selectAll().where('tx_number', '=', second.transactionId).executeTakeFirstOrThrow();
      assert.equal(tx.auth_status, 'ConcurrentTx');
    } finally {
      await cli?.close({ force: true }).catch(() => undefined);
      await csms.destroy();
    }
  });
});

describe('OCPP 1.6 with unknown tokens rejected (AMPLINE_UNKNOWN_TOKENS=reject)', () => {
  test('rejected/unknown tags still get a real transactionId and idTagInfo Invalid; Blocked/Expired tags too', async () => {
    const csms = await startTestCsms({ env: { AMPLINE_UNKNOWN_TOKENS: 'reject' } });
    let cli: RawClient | undefined;
    try {
      const now = new Date();
      const stamp = now.toISOString();
      await csms.db.kysely
        .insertInto('id_tokens')
        .values([
          { id_token: 'GOOD', type: 'ISO14443', status: 'Accepted', group_id: null, parent_id_tag: null, expiry_date: null, created_at: stamp, updated_at: stamp },
          { id_token: 'BLOCKED', type: 'ISO14443', status: 'Blocked', group_id: null, parent_id_tag: null, expiry_date: null, created_at: stamp, updated_at: stamp },
          {
            id_token: 'OLD',
            type: 'ISO14443',
            status: 'Accepted',
            group_id: null,
            parent_id_tag: null,
            expiry_date: new Date(now.getTime() - 86_400_000).toISOString(),
            created_at: stamp,
            updated_at: stamp,
          },
        ])
        .execute();
      const id = uniqueId('REJ');
      cli = await rawClient(csms, id, 'ocpp1.6');
      await vcall(cli, 'BootNotification', BOOT16);

      const auth = await vcall<{ idTagInfo: IdTagInfo }>(cli, 'Authorize', { idTag: 'STRANGER' });
      assert.equal(auth.idTagInfo.status, 'Invalid');
      assert.equal((await vcall<{ idTagInfo: IdTagInfo }>(cli, 'Authorize', { idTag: 'GOOD' })).idTagInfo.status, 'Accepted');
      assert.equal((await vcall<{ idTagInfo: IdTagInfo }>(cli, 'Authorize', { idTag: 'BLOCKED' })).idTagInfo.status, 'Blocked');
      assert.equal((await vcall<{ idTagInfo: IdTagInfo }>(cli, 'Authorize', { idTag: 'OLD' })).idTagInfo.status, 'Expired');

      const t = Date.now();
      const s1 = await vcall<StartConf>(cli, 'StartTransaction', { connectorId: 1, idTag: 'STRANGER', meterStart: 0, timestamp: iso(t - 3000) });
      assert.equal(s1.idTagInfo.status, 'Invalid');
      assert.ok(Number.isInteger(s1.transactionId) && s1.transactionId > 0, 'a real id, not 0');
      const s2 = await vcall<StartConf>(cli, 'StartTransaction', { connectorId: 2, idTag: 'BLOCKED', meterStart: 0, timestamp: iso(t - 2000) });
      assert.equal(s2.idTagInfo.status, 'Blocked');
      assert.ok(s2.transactionId > s1.transactionId);

      const tx = await csms.db.kysely.selectFrom('transactions').selectAll().where('tx_number', '=', s1.transactionId).executeTakeFirstOrThrow();
      assert.equal(tx.auth_status, 'Invalid');
      assert.equal(tx.id_token, 'STRANGER');
      assert.equal(tx.state, 'active');

      // The charger (StopTransactionOnInvalidId) stops it at once with reason DeAuthorized.
      const stop = await vcall<{ idTagInfo?: IdTagInfo }>(cli, 'StopTransaction', {
        transactionId: s1.transactionId,
        idTag: 'STRANGER',
        meterStop: 0,
        timestamp: iso(t - 2500),
        reason: 'DeAuthorized',
      });
      assert.equal(stop.idTagInfo?.status, 'Invalid');
      const ended = await csms.db.kysely.selectFrom('transactions').selectAll().where('tx_number', '=', s1.transactionId).executeTakeFirstOrThrow();
      assert.equal(ended.state, 'ended');
      assert.equal(ended.stop_reason, 'DeAuthorized');
      assert.equal(ended.energy_wh, 0);
    } finally {
      await cli?.close({ force: true }).catch(() => undefined);
      await csms.destroy();
    }
  });
});
