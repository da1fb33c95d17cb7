/**
 * OCPP 2.0.1 scenarios mirroring the OCTT CSMS test cases (B provisioning, C authorization,
 * E transactions; written independently from the list in docs/protocols.md §6). Each checks the wire
 * answer (schema-validated from the client side) and what was persisted.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTestCsms, rawClient, type TestCsms, type RawClient } from './helpers/csms.js';
import { BOOT201, vcall, callError, waitFor, uniqueId } from './helpers/wire.js';

type IdTokenInfo = { status: string; cacheExpiryDateTime?: string; groupIdToken?: { idToken: string; type: string } };
type BootConf = { status: string; interval: number; currentTime: string };

const iso = (t: number): string => new Date(t).toISOString();
const energy = (ts: string, wh: number, context: string) => ({
  timestamp: ts,
  sampledValue: [{ value: wh, measurand: 'Energy.Active.Import.Register', context, unitOfMeasure: { unit: 'Wh' } }],
});

async function insertToken(csms: TestCsms, idToken: string, status: string, extra: { expiry_date?: string; group_id?: string } = {}): Promise<void> {
  const now = new Date().toISOString();
  await csms.db.kysely
    .insertInto('id_tokens')
    .values({
      id_token: idToken,
      type: 'ISO14443',
      status,
      group_id: extra.group_id ?? null,
      parent_id_tag: null,
      expiry_date: extra.expiry_date ?? null,
      created_at: now,
      updated_at: now,
    })
    .execute();
}

describe('OCPP 2.0.1 OCTT scenarios (default policy)', () => {
  let csms: TestCsms;
  const clients: RawClient[] = [];
  const connect = async (id = uniqueId()): Promise<RawClient> => {
    const c = await rawClient(csms, id, 'ocpp2.0.1');
    clients.push(c);
    return c;
  };
  const booted = async (prefix: string): Promise<{ id: string; cli: RawClient }> => {
    const id = uniqueId(prefix);
    const cli = await connect(id);
    await vcall(cli, 'BootNotification', BOOT201);
    return { id, cli };
  };
  const txRow = (stationId: string, txId: string) =>
    csms.db.kysely.selectFrom('transactions').selectAll().where('station_id', '=', stationId).where('ocpp_tx_id', '=', txId).executeTakeFirstOrThrow();

  before(async () => {
    csms = await startTestCsms();
  });
  after(async () => {
    await Promise.all(clients.map((c) => c.close({ force: true }).catch(() => undefined)));
    await csms.destroy();
  });

  test('TC_B_01 cold boot: Accepted, heartbeat interval, currentTime; station and connector stored', async () => {
    const id = uniqueId('TCB01');
    const cli = await connect(id);
    const boot = await vcall<BootConf>(cli, 'BootNotification', {
      reason: 'PowerUp',
      chargingStation: { vendorName: 'V201', model: 'M201', serialNumber: 'S-201', firmwareVersion: '2.0.1-a', modem: { iccid: 'ICC', imsi: 'IMSI' } },
    });
    assert.equal(boot.status, 'Accepted');
    assert.equal(boot.interval, 300);
    assert.ok(Math.abs(Date.parse(boot.currentTime) - Date.now()) < 5000);
    const ts = iso(Date.now());
    await vcall(cli, 'StatusNotification', { timestamp: ts, connectorStatus: 'Available', evseId: 1, connectorId: 1 });
    await vcall(cli, 'Heartbeat', {});

    const st = await csms.db.kysely.selectFrom('stations').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
    assert.deepEqual(
      [st.protocol, st.registration_status, st.vendor, st.model, st.serial_number, st.firmware_version, st.iccid, st.imsi, st.boot_reason],
      ['ocpp2.0.1', 'Accepted', 'V201', 'M201', 'S-201', '2.0.1-a', 'ICC', 'IMSI', 'PowerUp'],
    );
    await waitFor(async () => (await csms.db.kysely.selectFrom('stations').select('online').where('id', '=', id).executeTakeFirst())?.online === 1);
    const c = await csms.db.kysely.selectFrom('connectors').selectAll().where('station_id', '=', id).executeTakeFirstOrThrow();
    assert.deepEqual([c.evse_id, c.connector_id, c.status, c.ocpp_status, c.status_at], [1, 1, 'Available', 'Available', ts]);
  });

  test('TC_C_02 Authorize accepted (unknown token, accept policy) and a known token with group', async () => {
    const { cli } = await booted('TCC02');
    await insertToken(csms, 'C02-GROUPED', 'Accepted', { group_id: 'G-1' });
    const a = await vcall<{ idTokenInfo: IdTokenInfo }>(cli, 'Authorize', { idToken: { idToken: 'C02-ANY', type: 'ISO14443' } });
    assert.deepEqual(a.idTokenInfo, { status: 'Accepted' });
    const g = await vcall<{ idTokenInfo: IdTokenInfo }>(cli, 'Authorize', { idToken: { idToken: 'C02-GROUPED', type: 'ISO14443' } });
    assert.deepEqual(g.idTokenInfo, { status: 'Accepted', groupIdToken: { idToken: 'G-1', type: 'Central' } });
    const noAuth = await vcall<{ idTokenInfo: IdTokenInfo }>(cli, 'Authorize', { idToken: { idToken: '', type: 'NoAuthorization' } });
    assert.equal(noAuth.idTokenInfo.status, 'Accepted');
  });

  test('TC_C_07 blocked and expired tokens (rows set up in id_tokens)', async () => {
    const { cli } = await booted('TCC07');
    const future = iso(Date.now() + 86_400_000);
    await insertToken(csms, 'C07-BLOCKED', 'Blocked');
    await insertToken(csms, 'C07-EXPIRED', 'Accepted', { expiry_date: iso(Date.now() - 60_000) });
    await insertToken(csms, 'C07-VALID', 'Accepted', { expiry_date: future });
    const auth = async (t: string) => (await vcall<{ idTokenInfo: IdTokenInfo }>(cli, 'Authorize', { idToken: { idToken: t, type: 'ISO14443' } })).idTokenInfo;
    assert.equal((await auth('C07-BLOCKED')).status, 'Blocked');
    assert.equal((await auth('C07-EXPIRED')).status, 'Expired');
    const valid = await auth('C07-VALID');
    assert.equal(valid.status, 'Accepted');
    assert.equal(valid.cacheExpiryDateTime, future);

    // A transaction started with the blocked token is recorded with its status and answered with it.
    const res = await vcall<{ idTokenInfo?: IdTokenInfo }>(cli, 'TransactionEvent', {
      eventType: 'Started',
      timestamp: iso(Date.now()),
      triggerReason: 'Authorized',
      seqNo: 0,
      transactionInfo: { transactionId: 'C07-TX' },
      evse: { id: 1, connectorId: 1 },
      idToken: { idToken: 'C07-BLOCKED', type: 'ISO14443' },
    });
    assert.equal(res.idTokenInfo?.status, 'Blocked');
  });

  test('TC_E_03 start with idToken (Authorized first) through Ended with stoppedReason', async () => {
    const { id, cli } = await booted('TCE03');
    const t0 = Date.now() - 120_000;
    const started = await vcall<{ idTokenInfo?: IdTokenInfo }>(cli, 'TransactionEvent', {
      eventType: 'Started',
      timestamp: iso(t0),
      triggerReason: 'Authorized',
      seqNo: 0,
      transactionInfo: { transactionId: 'E03-TX', chargingState: 'EVConnected', remoteStartId: 77 },
      evse: { id: 1, connectorId: 1 },
      idToken: { idToken: 'E03-TAG', type: 'ISO14443' },
      meterValue: [energy(iso(t0), 10_000, 'Transaction.Begin')],
    });
    assert.equal(started.idTokenInfo?.status, 'Accepted');
    let tx = await txRow(id, 'E03-TX');
    assert.deepEqual(
      [tx.protocol, tx.state, tx.evse_id, tx.connector_id, tx.id_token, tx.id_token_type, tx.auth_status, tx.charging_state, tx.tx_number, tx.remote_start_id],
      ['ocpp2.0.1', 'active', 1, 1, 'E03-TAG', 'ISO14443', 'Accepted', 'EVConnected', null, 77],
    );
    assert.equal(tx.meter_start_wh, 10_000);
    assert.equal(tx.started_at, iso(t0));

    await vcall(cli, 'TransactionEvent', {
      eventType: 'Updated',
      timestamp: iso(t0 + 60_000),
      triggerReason: 'ChargingStateChanged',
      seqNo: 1,
      transactionInfo: { transactionId: 'E03-TX', chargingState: 'Charging' },
      meterValue: [energy(iso(t0 + 60_000), 11_000, 'Sample.Periodic')],
    });
    tx = await txRow(id, 'E03-TX');
    assert.equal(tx.charging_state, 'Charging');
    assert.equal(tx.energy_wh, 1000);

    const ended = await vcall<Record<string, unknown>>(cli, 'TransactionEvent', {
      eventType: 'Ended',
      timestamp: iso(t0 + 120_000),
      triggerReason: 'EVDeparted',
      seqNo: 2,
      transactionInfo: { transactionId: 'E03-TX', chargingState: 'Idle', stoppedReason: 'EVDisconnected' },
      meterValue: [energy(iso(t0 + 120_000), 12_500, 'Transaction.End')],
    });
    assert.deepEqual(ended, {}, 'no idToken in the request → no idTokenInfo');
    tx = await txRow(id, 'E03-TX');
    assert.deepEqual(
      [tx.state, tx.stop_reason, tx.stopped_at, tx.meter_stop_wh, tx.energy_wh, tx.charging_state, tx.trigger_reason, tx.seq_no, tx.power_w],
      ['ended', 'EVDisconnected', iso(t0 + 120_000), 12_500, 2500, 'Idle', 'EVDeparted', 2, 0],
    );
    const evs = await csms.db.kysely.selectFrom('transaction_events').selectAll().where('transaction_id', '=', tx.id).orderBy('seq_no').execute();
    assert.deepEqual(
      evs.map((e) => [e.seq_no, e.event_type, e.trigger_reason, e.stopped_reason]),
      [
        [0, 'Started', 'Authorized', null],
        [1, 'Updated', 'ChargingStateChanged', null],
        [2, 'Ended', 'EVDeparted', 'EVDisconnected'],
      ],
    );
  });

  test('Ended without stoppedReason is recorded as Local', async () => {
    const { id, cli } = await booted('ENDLOCAL');
    const t0 = Date.now() - 10_000;
    await vcall(cli, 'TransactionEvent', {
      eventType: 'Started',
      timestamp: iso(t0),
      triggerReason: 'Authorized',
      seqNo: 0,
      transactionInfo: { transactionId: 'L-TX' },
      evse: { id: 1 },
      idToken: { idToken: 'L-TAG', type: 'ISO14443' },
    });
    await vcall(cli, 'TransactionEvent', {
      eventType: 'Ended',
      timestamp: iso(t0 + 5000),
      triggerReason: 'StopAuthorized',
      seqNo: 1,
      transactionInfo: { transactionId: 'L-TX' },
      idToken: { idToken: 'L-TAG', type: 'ISO14443' },
    });
    const tx = await txRow(id, 'L-TX');
    assert.equal(tx.state, 'ended');
    assert.equal(tx.stop_reason, 'Local');
    assert.equal(tx.connector_id, null, 'EVSE without connectorId is fine (OCPP.Core #97)');
  });

  test('TC_E_04 start without idToken (EVConnected first) creates the transaction; idToken arrives later', async () => {
    const { id, cli } = await booted('TCE04');
    const t0 = Date.now() - 60_000;
    const started = await vcall<Record<string, unknown>>(cli, 'TransactionEvent', {
      eventType: 'Started',
      timestamp: iso(t0),
      triggerReason: 'CablePluggedIn',
      seqNo: 0,
      transactionInfo: { transactionId: 'E04-TX', chargingState: 'EVConnected' },
      evse: { id: 2, connectorId: 1 },
    });
    assert.deepEqual(started, {});
    let tx = await txRow(id, 'E04-TX');
    assert.equal(tx.state, 'active');
    assert.equal(tx.id_token, null);
    assert.equal(tx.evse_id, 2);
    assert.equal(tx.charging_state, 'EVConnected');

    const upd = await vcall<{ idTokenInfo?: IdTokenInfo }>(cli, 'TransactionEvent', {
      eventType: 'Updated',
      timestamp: iso(t0 + 5000),
      triggerReason: 'Authorized',
      seqNo: 1,
      transactionInfo: { transactionId: 'E04-TX', chargingState: 'Charging' },
      idToken: { idToken: 'E04-TAG', type: 'ISO14443' },
    });
    assert.equal(upd.idTokenInfo?.status, 'Accepted');
    tx = await txRow(id, 'E04-TX');
    assert.deepEqual([tx.id_token, tx.auth_status, tx.charging_state], ['E04-TAG', 'Accepted', 'Charging']);
  });

  test('TC_E_53 seqNo 0 accepted; a retransmitted identical event is idempotent', async () => {
    const { id, cli } = await booted('TCE53');
    const ev = {
      eventType: 'Started',
      timestamp: iso(Date.now() - 1000),
      triggerReason: 'Authorized',
      seqNo: 0,
      transactionInfo: { transactionId: 'E53-TX', chargingState: 'Charging' },
      evse: { id: 1, connectorId: 1 },
      idToken: { idToken: 'E53-TAG', type: 'ISO14443' },
      meterValue: [energy(iso(Date.now() - 1000), 100, 'Transaction.Begin')],
    };
    const first = await vcall<{ idTokenInfo?: IdTokenInfo }>(cli, 'TransactionEvent', ev);
    const second = await vcall<{ idTokenInfo?: IdTokenInfo }>(cli, 'TransactionEvent', ev);
    assert.deepEqual(second, first, 'same answer for the retransmission');
    const tx = await txRow(id, 'E53-TX');
    assert.equal(tx.seq_no, 0);
    const evs = await csms.db.kysely.selectFrom('transaction_events').selectAll().where('transaction_id', '=', tx.id).execute();
    assert.equal(evs.length, 1, 'one transaction_events row');
    const mvs = await csms.db.kysely.selectFrom('meter_values').select('id').where('transaction_id', '=', tx.id).execute();
    assert.equal(mvs.length, 1, 'meter values not duplicated');
    const txs = await csms.db.kysely.selectFrom('transactions').select('id').where('station_id', '=', id).execute();
    assert.equal(txs.length, 1);
  });

  test('offline events: Updated before Started, then Ended — ordered by seqNo/timestamp, energy from the Begin register', async () => {
    const { id, cli } = await booted('OFFLINE');
    const t0 = Date.now() - 3_600_000;
    // Queued while offline, delivered out of order: Updated (seq 1) first.
    await vcall(cli, 'TransactionEvent', {
      eventType: 'Updated',
      timestamp: iso(t0 + 600_000),
      triggerReason: 'MeterValuePeriodic',
      seqNo: 1,
      offline: true,
      transactionInfo: { transactionId: 'OFF-TX', chargingState: 'Charging' },
      evse: { id: 1, connectorId: 1 },
      meterValue: [energy(iso(t0 + 600_000), 5_000, 'Sample.Periodic')],
    });
    let tx = await txRow(id, 'OFF-TX');
    assert.equal(tx.state, 'active');
    assert.equal(tx.offline, 1);

    await vcall(cli, 'TransactionEvent', {
      eventType: 'Started',
      timestamp: iso(t0),
      triggerReason: 'Authorized',
      seqNo: 0,
      offline: true,
      transactionInfo: { transactionId: 'OFF-TX', chargingState: 'EVConnected' },
      evse: { id: 1, connectorId: 1 },
      idToken: { idToken: 'OFF-TAG', type: 'ISO14443' },
      meterValue: [energy(iso(t0), 2_000, 'Transaction.Begin')],
    });
    tx = await txRow(id, 'OFF-TX');
    assert.equal(tx.started_at, iso(t0), 'start time from the Started event');
    assert.equal(tx.charging_state, 'Charging', 'the older Started does not roll back the charging state');
    assert.equal(tx.seq_no, 1);
    assert.equal(tx.id_token, 'OFF-TAG');
    assert.equal(tx.meter_start_wh, 2_000, 'start register is the Transaction.Begin value');
    assert.equal(tx.energy_wh, 3_000, 'energy = latest register − start register');
    assert.equal(tx.last_meter_at, iso(t0 + 600_000), 'latest meter time is not rolled back');

    await vcall(cli, 'TransactionEvent', {
      eventType: 'Ended',
      timestamp: iso(t0 + 1_200_000),
      triggerReason: 'StopAuthorized',
      seqNo: 2,
      offline: false,
      transactionInfo: { transactionId: 'OFF-TX', chargingState: 'Idle', stoppedReason: 'Local' },
      meterValue: [energy(iso(t0 + 1_200_000), 9_000, 'Transaction.End')],
    });
    tx = await txRow(id, 'OFF-TX');
    assert.deepEqual([tx.state, tx.meter_start_wh, tx.meter_stop_wh, tx.energy_wh, tx.offline], ['ended', 2_000, 9_000, 7_000, 1]);
    const evs = await csms.db.kysely
      .selectFrom('transaction_events')
      .select(['seq_no', 'event_type', 'offline'])
      .where('transaction_id', '=', tx.id)
      .orderBy('seq_no')
      .execute();
    assert.deepEqual(evs.map((e) => [e.seq_no, e.event_type, e.offline]), [
      [0, 'Started', 1],
      [1, 'Updated', 1],
      [2, 'Ended', 0],
    ]);
    const evse = await csms.db.kysely.selectFrom('evses').selectAll().where('station_id', '=', id).where('evse_id', '=', 1).executeTakeFirstOrThrow();
    assert.equal(evse.last_energy_wh, 9_000);
  });

  test('offline events: a late Updated after Ended changes neither state nor energy', async () => {
    const { id, cli } = await booted('LATEUPD');
    const t0 = Date.now() - 3_600_000;
    const base = { evse: { id: 1, connectorId: 1 } };
    await vcall(cli, 'TransactionEvent', {
      ...base,
      eventType: 'Started',
      timestamp: iso(t0),
      triggerReason: 'Authorized',
      seqNo: 0,
      transactionInfo: { transactionId: 'LU-TX', chargingState: 'Charging' },
      idToken: { idToken: 'LU', type: 'ISO14443' },
      meterValue: [energy(iso(t0), 0, 'Transaction.Begin')],
    });
    await vcall(cli, 'TransactionEvent', {
      eventType: 'Ended',
      timestamp: iso(t0 + 1_000_000),
      triggerReason: 'StopAuthorized',
      seqNo: 2,
      transactionInfo: { transactionId: 'LU-TX', chargingState: 'Idle', stoppedReason: 'Local' },
      meterValue: [energy(iso(t0 + 1_000_000), 8_000, 'Transaction.End')],
    });
    await vcall(cli, 'TransactionEvent', {
      eventType: 'Updated',
      timestamp: iso(t0 + 500_000),
      triggerReason: 'MeterValuePeriodic',
      seqNo: 1,
      offline: true,
      transactionInfo: { transactionId: 'LU-TX', chargingState: 'Charging' },
      meterValue: [energy(iso(t0 + 500_000), 4_000, 'Sample.Periodic')],
    });
    const tx = await txRow(id, 'LU-TX');
    assert.deepEqual([tx.state, tx.charging_state, tx.energy_wh, tx.meter_stop_wh, tx.seq_no], ['ended', 'Idle', 8_000, 8_000, 2]);
    const mvs = await csms.db.kysely.selectFrom('meter_values').select('value').where('transaction_id', '=', tx.id).orderBy('timestamp').execute();
    assert.deepEqual(mvs.map((m) => m.value), [0, 4_000, 8_000], 'the late sample is still stored');
    const evse = await csms.db.kysely.selectFrom('evses').selectAll().where('station_id', '=', id).where('evse_id', '=', 1).executeTakeFirstOrThrow();
    assert.equal(evse.last_energy_wh, 8_000, 'EVSE keeps the newest register');
  });
});

describe('OCPP 2.0.1 OCTT scenarios (restrictive policies)', () => {
  test('TC_B_02 boot Pending when AMPLINE_UNKNOWN_STATIONS=Pending; interval = retry interval', async () => {
    const csms = await startTestCsms({ env: { AMPLINE_UNKNOWN_STATIONS: 'Pending', AMPLINE_BOOT_RETRY_INTERVAL_S: '17' } });
    let cli: RawClient | undefined;
    try {
      const id = uniqueId('TCB02');
      cli = await rawClient(csms, id, 'ocpp2.0.1');
      const boot = await vcall<BootConf>(cli, 'BootNotification', BOOT201);
      assert.equal(boot.status, 'Pending');
      assert.equal(boot.interval, 17);
      const again = await vcall<BootConf>(cli, 'BootNotification', BOOT201);
      assert.equal(again.status, 'Pending', 'still pending until an operator accepts it');
      const st = await csms.db.kysely.selectFrom('stations').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
      assert.equal(st.registration_status, 'Pending');

      // The operator accepts the station: the next boot is Accepted with the heartbeat interval.
      await csms.db.kysely.updateTable('stations').set({ registration_status: 'Accepted' }).where('id', '=', id).execute();
      const ok = await vcall<BootConf>(cli, 'BootNotification', BOOT201);
      assert.equal(ok.status, 'Accepted');
      assert.equal(ok.interval, 300);
    } finally {
      await cli?.close({ force: true }).catch(() => undefined);
      await csms.destroy();
    }
  });

  test('boot Rejected: other messages get SecurityError until a new boot', async () => {
    const csms = await startTestCsms({ env: { AMPLINE_UNKNOWN_STATIONS: 'Rejected' } });
    let cli: RawClient | undefined;
    try {
      cli = await rawClient(csms, uniqueId('REJ'), 'ocpp2.0.1');
      const boot = await vcall<BootConf>(cli, 'BootNotification', BOOT201);
      assert.equal(boot.status, 'Rejected');
      assert.equal(boot.interval, 30);
      const err = await callError(cli.call('Heartbeat', {}));
      assert.equal(err.code, 'SecurityError');
    } finally {
      await cli?.close({ force: true }).catch(() => undefined);
      await csms.destroy();
    }
  });

  test('TC_C_06 Authorize unknown token with reject policy → Invalid', async () => {
    const csms = await startTestCsms({ env: { AMPLINE_UNKNOWN_TOKENS: 'reject' } });
    let cli: RawClient | undefined;
    try {
      const id = uniqueId('TCC06');
      cli = await rawClient(csms, id, 'ocpp2.0.1');
      await vcall(cli, 'BootNotification', BOOT201);
      const a = await vcall<{ idTokenInfo: IdTokenInfo }>(cli, 'Authorize', { idToken: { idToken: 'NOBODY', type: 'ISO14443' } });
      assert.deepEqual(a.idTokenInfo, { status: 'Invalid' });
      // A transaction started with it is still recorded (the station decides to stop it).
      const r = await vcall<{ idTokenInfo?: IdTokenInfo }>(cli, 'TransactionEvent', {
        eventType: 'Started',
        timestamp: iso(Date.now()),
        triggerReason: 'Authorized',
        seqNo: 0,
        transactionInfo: { transactionId: 'C06-TX' },
        evse: { id: 1, connectorId: 1 },
        idToken: { idToken: 'NOBODY', type: 'ISO14443' },
      });
      assert.equal(r.idTokenInfo?.status, 'Invalid');
      const tx = await csms.db.kysely.selectFrom('transactions').selectAll().where('station_id', '=', id).executeTakeFirstOrThrow();
      assert.equal(tx.auth_status, 'Invalid');
    } finally {
      await cli?.close({ force: true }).catch(() => undefined);
      await csms.destroy();
    }
  });
});
