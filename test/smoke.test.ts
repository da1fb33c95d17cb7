import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startTestCsms, rawClient } from './helpers/csms.js';

test('boot, status, start, meter, stop over a real socket (1.6)', async () => {
  const csms = await startTestCsms();
  try {
    const cli = await rawClient(csms, 'CP1', 'ocpp1.6');
    const boot = (await cli.call('BootNotification', { chargePointVendor: 'V', chargePointModel: 'M' })) as { status: string };
    assert.equal(boot.status, 'Accepted');
    await cli.call('StatusNotification', { connectorId: 1, errorCode: 'NoError', status: 'Available' });
    const st = (await cli.call('StartTransaction', { connectorId: 1, idTag: 'TAG1', meterStart: 100, timestamp: new Date().toISOString() })) as { transactionId: number; idTagInfo: { status: string } };
    assert.equal(st.idTagInfo.status, 'Accepted');
    await cli.call('MeterValues', { connectorId: 1, transactionId: st.transactionId, meterValue: [{ timestamp: new Date().toISOString(), sampledValue: [{ value: '1100' }, { value: '7000', measurand: 'Power.Active.Import', unit: 'W' }] }] });
    await cli.call('StopTransaction', { transactionId: st.transactionId, meterStop: 2100, timestamp: new Date().toISOString() });
    const tx = await csms.db.kysely.selectFrom('transactions').selectAll().executeTakeFirstOrThrow();
    assert.equal(tx.state, 'ended');
    assert.equal(tx.energy_wh, 2000);
    await cli.close();
  } finally {
    await csms.destroy();
  }
});
