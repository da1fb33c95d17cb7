/**
 * The OCPI partner repository contract, run against every implementation: in memory, the CSMS's
 * database (SQLite; PostgreSQL when AMPLINE_TEST_DATABASE_URL is set) and the SCSP's own database —
 * each through its real migrations on a throwaway database.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import pg from 'pg';
import { openDb } from '../../src/store/db.js';
import { openScspDb } from '../../src/scsp/store.js';
import { DuplicatePartnerError, type OcpiPartner, type OcpiPartnerRepository, kyselyPartnerRepository, memoryPartnerRepository } from '../../src/ocpi/storage.js';
import { tempDir } from '../helpers/csms.js';
import { testDatabaseUrl } from '../helpers/services.js';

const T0 = new Date('2025-01-01T00:00:00Z');
const T1 = new Date('2025-01-01T00:01:00Z');

const partner = (id: string, over: Partial<OcpiPartner> = {}): Omit<OcpiPartner, 'createdAt' | 'updatedAt'> => ({
  id,
  name: id,
  state: 'pending',
  ourTokenHash: `hash-${id}`,
  ourTokenKind: 'A',
  ourTokenHint: 'abcd…',
  ourNextTokenHash: null,
  theirToken: null,
  versionsUrl: null,
  version: null,
  tokenEncoding: 'auto',
  endpoints: [],
  roles: [],
  auth: null,
  registeredAt: null,
  ...over,
});

async function contract(repo: OcpiPartnerRepository): Promise<void> {
  const a = await repo.insert(partner('a'), T0);
  assert.equal(a.createdAt, T0.toISOString());
  await assert.rejects(repo.insert(partner('a', { ourTokenHash: 'other' }), T0), DuplicatePartnerError);
  await repo.insert(
    partner('b', {
      state: 'registered',
      ourTokenHash: 'hash-b',
      ourTokenKind: 'C',
      theirToken: 'their-b',
      version: '2.2.1',
      endpoints: [{ identifier: 'credentials', role: 'SENDER', url: 'https://b/ocpi/2.2.1/credentials' }],
      roles: [{ role: 'CPO', party_id: 'EXA', country_code: 'NL', business_details: { name: 'B' } }],
      auth: { type: 'oauth2', tokenUrl: 'https://idp/token', clientId: 'c', clientSecret: 's' },
    }),
    T0,
  );
  assert.deepEqual((await repo.list()).map((p) => p.id), ['a', 'b']);
  const b = (await repo.get('b'))!;
  assert.deepEqual(b.endpoints, [{ identifier: 'credentials', role: 'SENDER', url: 'https://b/ocpi/2.2.1/credentials' }]);
  assert.equal(b.roles[0]!.party_id, 'EXA');
  assert.equal(b.auth?.type, 'oauth2');

  assert.equal((await repo.findByTokenHash('hash-a'))?.partner.id, 'a');
  assert.equal((await repo.findByTokenHash('hash-a'))?.slot, 'current');
  assert.equal(await repo.findByTokenHash('nope'), undefined);
  await repo.update('b', { ourNextTokenHash: 'next-b' }, T1);
  assert.deepEqual([(await repo.findByTokenHash('next-b'))?.partner.id, (await repo.findByTokenHash('next-b'))?.slot], ['b', 'next']);

  // Compare-and-set on the current token hash.
  assert.equal(await repo.update('a', { state: 'registered' }, T1, 'stale-hash'), undefined);
  assert.equal((await repo.get('a'))!.state, 'pending');
  const updated = await repo.update('a', { state: 'registered', ourTokenHash: 'hash-a2', ourTokenKind: 'C', roles: [], auth: null }, T1, 'hash-a');
  assert.equal(updated?.state, 'registered');
  assert.equal(updated?.updatedAt, T1.toISOString());
  assert.equal(await repo.findByTokenHash('hash-a'), undefined, 'the old token is gone');
  await repo.update('a', { ourTokenHash: null, ourTokenKind: null }, T1);
  assert.equal((await repo.update('a', { name: 'x' }, T1, null))?.name, 'x', 'CAS on a cleared token');
  assert.equal(await repo.update('zzz', { name: 'x' }, T1), undefined);

  assert.equal(await repo.remove('a'), true);
  assert.equal(await repo.remove('a'), false);
  assert.equal(await repo.get('a'), undefined);
}

test('in-memory partner repository', async () => {
  await contract(memoryPartnerRepository());
});

test('CSMS database (SQLite, migration 0006_ocpi_partners)', async () => {
  const dir = tempDir();
  const db = await openDb({ dataDir: dir });
  try {
    await contract(kyselyPartnerRepository(db.kysely));
  } finally {
    await db.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('SCSP database (SQLite, migration 0002_ocpi_partners)', async () => {
  const dir = tempDir();
  const db = await openScspDb({ dataDir: dir });
  try {
    await contract(kyselyPartnerRepository(db.kysely));
  } finally {
    await db.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

const target = await testDatabaseUrl();

test('CSMS database on PostgreSQL', { skip: 'skip' in target ? target.skip : false }, async () => {
  if ('skip' in target) return;
  const schema = `ocpi_${randomBytes(4).toString('hex')}`;
  const db = await openDb({ dataDir: tempDir(), databaseUrl: target.url, pgSchema: schema });
  try {
    await contract(kyselyPartnerRepository(db.kysely));
  } finally {
    await db.close();
    const c = new pg.Client({ connectionString: target.url });
    await c.connect();
    await c.query(`drop schema if exists ${schema} cascade`);
    await c.end();
  }
});
