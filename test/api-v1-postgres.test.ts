/**
 * /api/v1 on PostgreSQL: the dialect-sensitive SQL (count(*) as bigint, LIKE … ESCAPE, ON CONFLICT …
 * RETURNING, IS NULL filters) and hashed API keys, on a throwaway schema. Skips when PostgreSQL is absent.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { startTestCsms, rawClient } from './helpers/csms.js';
import { testDatabaseUrl } from './helpers/services.js';

const target = await testDatabaseUrl();
const ADMIN = 'test-api-key-123';

test('/api/v1 on PostgreSQL: lists, filters, counts, id-token writes, API keys', { skip: 'skip' in target ? target.skip : false }, async () => {
  if ('skip' in target) return;
  const schema = `ampline_v1_${randomBytes(4).toString('hex')}`;
  const csms = await startTestCsms({ env: { DATABASE_URL: target.url, AMPLINE_PG_SCHEMA: schema } });
  const api = async (path: string, opts: { method?: string; body?: unknown; key?: string } = {}) => {
    const res = await fetch(csms.url + path, {
      method: opts.method ?? 'GET',
      headers: { 'x-api-key': opts.key ?? ADMIN, ...(opts.body !== undefined ? { 'content-type': 'application/json' } : {}) },
      ...(opts.body !== undefined ? { body: JSON.stringify(opts.body) } : {}),
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : undefined, link: res.headers.get('link') };
  };
  try {
    const cli = await rawClient(csms, 'PG_100%', 'ocpp1.6');
    await cli.call('BootNotification', { chargePointVendor: 'VendorPG', chargePointModel: 'M' });
    await cli.call('StatusNotification', { connectorId: 1, errorCode: 'NoError', status: 'Available' });
    const st = (await cli.call('StartTransaction', { connectorId: 1, idTag: 'T', meterStart: 0, timestamp: '2025-01-01T10:00:00.000Z' })) as { transactionId: number };
    await cli.call('MeterValues', { connectorId: 1, transactionId: st.transactionId, meterValue: [{ timestamp: '2025-01-01T10:05:00.000Z', sampledValue: [{ value: '100' }] }] });
    const now = new Date().toISOString();
    for (const id of ['pgA', 'pgB', 'pgC']) await csms.db.kysely.insertInto('stations').values({ id, online: 0, created_at: now, updated_at: now }).execute();

    const page = await api('/api/v1/stations?limit=2');
    assert.deepEqual([page.body.total, page.body.data.length], [4, 2]);
    assert.equal(typeof page.body.total, 'number');
    assert.match(page.link!, /rel="next"/);
    assert.deepEqual((await api('/api/v1/stations?q=vendorpg')).body.data.map((s: any) => s.id), ['PG_100%']);
    assert.deepEqual((await api('/api/v1/stations?q=100%25')).body.data.map((s: any) => s.id), ['PG_100%'], 'a literal %');
    assert.deepEqual((await api('/api/v1/stations?q=p_')).body.data, [], '_ is literal');
    const detail = await api('/api/v1/stations/PG_100%25');
    assert.deepEqual(detail.body.evses.map((e: any) => e.evseId), [1]);

    const txs = await api('/api/v1/transactions?state=active&from=2025-01-01T09:00:00Z');
    assert.equal(txs.body.total, 1);
    const mv = await api(`/api/v1/transactions/${txs.body.data[0].id}/meter-values?measurand=Energy.Active.Import.Register`);
    assert.ok(mv.body.total >= 1);
    assert.ok(mv.body.data.every((v: any) => typeof v.id === 'number'));

    assert.equal((await api('/api/v1/id-tokens', { method: 'POST', body: { idToken: 'PG-1', status: 'Accepted' } })).status, 201);
    assert.equal((await api('/api/v1/id-tokens', { method: 'POST', body: { idToken: 'PG-1', status: 'Accepted' } })).status, 409);
    assert.equal((await api('/api/v1/id-tokens/PG-1', { method: 'PUT', body: { status: 'Blocked' } })).status, 200);
    assert.equal((await api('/api/v1/id-tokens?q=pg-')).body.total, 1);
    assert.equal((await api('/api/v1/id-tokens/PG-1', { method: 'DELETE' })).status, 204);

    const key = await api('/api/v1/api-keys', { method: 'POST', body: { name: 'pg', scopes: ['read'] } });
    assert.equal(key.status, 201);
    assert.equal((await api('/api/v1/stations', { key: key.body.key })).status, 200);
    assert.equal((await api(`/api/v1/api-keys/${key.body.id}`, { method: 'DELETE' })).status, 204);
    assert.equal((await api('/api/v1/stations', { key: key.body.key })).status, 401);
    assert.equal((await api('/api/v1/api-keys?revoked=true')).body.total, 1);
    assert.equal((await api('/api/v1/api-keys?revoked=false')).body.total, 0);
    await cli.close();
  } finally {
    await csms.destroy();
    const c = new pg.Client({ connectionString: target.url });
    await c.connect();
    try {
      await c.query(`drop schema if exists ${schema} cascade`);
    } finally {
      await c.end();
    }
  }
});
