/** src/services/auth.ts: the pure token rule and the 1.6 status mapping, table-driven. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { tokenStatus, toStatus16, DEFAULT_AUTH_POLICY, type AuthPolicy } from '../../src/services/auth.js';
import type { AuthorizationStatus } from '../../src/domain/model.js';

const NOW = new Date('2025-06-01T12:00:00.000Z');
const accept: AuthPolicy = { unknownTokens: 'accept', concurrentTx: 'allow' };
const reject: AuthPolicy = { unknownTokens: 'reject', concurrentTx: 'allow' };

describe('tokenStatus', () => {
  const cases: Array<{ name: string; row: { status: string; expiry_date: string | null } | undefined; policy: AuthPolicy; expect: AuthorizationStatus }> = [
    { name: 'unknown token, accept policy → Accepted', row: undefined, policy: accept, expect: 'Accepted' },
    { name: 'unknown token, reject policy → Invalid', row: undefined, policy: reject, expect: 'Invalid' },
    { name: 'Accepted without expiry → Accepted', row: { status: 'Accepted', expiry_date: null }, policy: reject, expect: 'Accepted' },
    { name: 'Accepted, expiry in the future → Accepted', row: { status: 'Accepted', expiry_date: '2025-06-01T12:00:01.000Z' }, policy: accept, expect: 'Accepted' },
    { name: 'Accepted, expiry in the past → Expired', row: { status: 'Accepted', expiry_date: '2025-06-01T11:59:59.000Z' }, policy: accept, expect: 'Expired' },
    { name: 'Accepted, expiry exactly now → Expired', row: { status: 'Accepted', expiry_date: NOW.toISOString() }, policy: accept, expect: 'Expired' },
    { name: 'Accepted, expiry with an offset in the past → Expired', row: { status: 'Accepted', expiry_date: '2025-06-01T13:30:00+02:00' }, policy: accept, expect: 'Expired' },
    { name: 'Blocked → Blocked (known tokens ignore the unknown-token policy)', row: { status: 'Blocked', expiry_date: null }, policy: accept, expect: 'Blocked' },
    { name: 'Blocked with past expiry stays Blocked', row: { status: 'Blocked', expiry_date: '2020-01-01T00:00:00Z' }, policy: accept, expect: 'Blocked' },
    { name: 'Invalid row → Invalid even with accept policy', row: { status: 'Invalid', expiry_date: null }, policy: accept, expect: 'Invalid' },
    { name: 'NoCredit (2.0.1 only) passes through', row: { status: 'NoCredit', expiry_date: null }, policy: accept, expect: 'NoCredit' },
  ];
  for (const c of cases) test(c.name, () => assert.equal(tokenStatus(c.row, c.policy, NOW), c.expect));

  test('the default policy accepts unknown tokens and allows concurrent transactions', () => {
    assert.deepEqual(DEFAULT_AUTH_POLICY, { unknownTokens: 'accept', concurrentTx: 'allow' });
  });
});

describe('toStatus16', () => {
  const cases: Array<[AuthorizationStatus, string]> = [
    ['Accepted', 'Accepted'],
    ['Blocked', 'Blocked'],
    ['Expired', 'Expired'],
    ['Invalid', 'Invalid'],
    ['ConcurrentTx', 'ConcurrentTx'],
    ['NoCredit', 'Invalid'],
    ['NotAllowedTypeEVSE', 'Invalid'],
    ['NotAtThisLocation', 'Invalid'],
    ['NotAtThisTime', 'Invalid'],
    ['Unknown', 'Invalid'],
  ];
  for (const [input, out] of cases) test(`${input} → ${out}`, () => assert.equal(toStatus16(input), out));
});
