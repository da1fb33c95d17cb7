/**
 * The same store and services on PostgreSQL: migrations on a throwaway schema, then a full 1.6 and 2.0.1
 * session over real sockets. Skips (with the reason) when no PostgreSQL is reachable.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { startTestCsms, rawClient } from './helpers/csms.js';
import { testDatabaseUrl } from './helpers/services.js';

const target = await testDatabaseUrl();

test('CSMS on PostgreSQL: migrations, 1.6 and 2.0.1 sessions persisted', { skip: 'skip' in target ? target.skip : false }, async () => {
  if ('skip' in target) return;
  const schema = `ampline_t_${randomBytes(4).toString('hex')}`;
  const csms = await startTestCsms({ env: { DATABASE_URL: target.url, AMPLINE_PG_SCHEMA: schema } });
  try {
    assert.equal(csms.db.dialect, 'postgres');
    const c16 = await rawClient(csms, 'PG16', 'ocpp1.6');
    await c16.call('BootNotification', { chargePointVendor: 'V', chargePointModel: 'M' });
    await c16.call('StatusNotification', { connectorId: 0, errorCode: 'NoError', status: 'Available' });
    const st = (await c16.call('StartTransaction', { connectorId: 1, idTag: 'T', meterStart: 0, timestamp: new Date().toISOString() })) as { transactionId: number };
    const st2 = (await c16.call('StartTransaction', { connectorId: 2, idTag: 'T', meterStart: 5, timestamp: new Date().toISOString() })) as { transactionId: number };
    assert.ok(st2.transactionId > st.transactionId);
    await c16.call('StopTransaction', { transactionId: st.transactionId, meterStop: 1500, timestamp: new Date().toISOString() });

    const c201 = await rawClient(csms, 'PG201', 'ocpp2.0.1');
    await c201.call('BootNotification', { reason: 'PowerUp', chargingStation: { model: 'M', vendorName: 'V' } });
    const ts = new Date().toISOString();
    const ev = { timestamp: ts, triggerReason: 'Authorized', evse: { id: 1, connectorId: 1 }, transactionInfo: { transactionId: 'tx-1' } };
    await c201.call('TransactionEvent', { ...ev, eventType: 'Started', seqNo: 0, meterValue: [{ timestamp: ts, sampledValue: [{ value: 10, context: 'Transaction.Begin' }] }] });
    await c201.call('TransactionEvent', { ...ev, eventType: 'Started', seqNo: 0 }); // retransmission
    await c201.call('TransactionEvent', { ...ev, eventType: 'Ended', seqNo: 1, triggerReason: 'StopAuthorized', transactionInfo: { transactionId: 'tx-1', stoppedReason: 'Local' }, meterValue: [{ timestamp: ts, sampledValue: [{ value: 1010, context: 'Transaction.End' }] }] });

    const txs = await csms.db.kysely.selectFrom('transactions').selectAll().orderBy('started_at').execute();
    assert.equal(txs.length, 3);
    const t201 = txs.find((t) => t.ocpp_tx_id === 'tx-1')!;
    assert.equal(t201.state, 'ended');
    assert.equal(t201.energy_wh, 1000);
    const evs = await csms.db.kysely.selectFrom('transaction_events').selectAll().where('transaction_id', '=', t201.id).execute();
    assert.equal(evs.length, 2);
    await c16.close();
    await c201.close();
  } finally {
    await csms.destroy();
    const c = new pg.Client({ connectionString: target.url });
    await c.connect();
    await c.query(`drop schema if exists ${schema} cascade`);
    await c.end();
  }
});
