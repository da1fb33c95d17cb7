/** Authorization of id tokens against the token table, with a configurable policy for unknown tokens. */
import type { Kysely } from 'kysely';
import type { Database, IdTokenRow } from '../store/schema.js';
import type { AuthorizationStatus, IdToken, IdTokenInfo } from '../domain/model.js';
import type { Clock } from '../util/clock.js';

export interface AuthPolicy {
  /** What an id token that is not in the token table gets. */
  unknownTokens: 'accept' | 'reject';
  /** Whether a token may start a transaction while it already has one running. */
  concurrentTx: 'allow' | 'reject';
}

export const DEFAULT_AUTH_POLICY: AuthPolicy = { unknownTokens: 'accept', concurrentTx: 'allow' };

/** Pure rule: the status of a token row at `now` (Expired overrides Accepted when past expiry). */
export function tokenStatus(row: Pick<IdTokenRow, 'status' | 'expiry_date'> | undefined, policy: AuthPolicy, now: Date): AuthorizationStatus {
  if (!row) return policy.unknownTokens === 'accept' ? 'Accepted' : 'Invalid';
  const status = row.status as AuthorizationStatus;
  if (status === 'Accepted' && row.expiry_date && new Date(row.expiry_date).getTime() <= now.getTime()) return 'Expired';
  return status;
}

export class AuthService {
  constructor(
    private readonly deps: { db: Kysely<Database>; clock: Clock; policy: AuthPolicy },
  ) {}

  async authorize(token: IdToken, db: Kysely<Database> = this.deps.db): Promise<IdTokenInfo> {
    // 2.0.1 NoAuthorization / Central tokens carry no credential to check.
    if (token.type === 'NoAuthorization') return { status: 'Accepted' };
    const row = await db.selectFrom('id_tokens').selectAll().where('id_token', '=', token.idToken).executeTakeFirst();
    const status = tokenStatus(row, this.deps.policy, this.deps.clock.now());
    return { status, groupId: row?.group_id ?? undefined, expiryDate: row?.expiry_date ?? undefined };
  }

  async hasActiveTransaction(idToken: string, exceptOcppTxId: string | undefined, db: Kysely<Database> = this.deps.db): Promise<boolean> {
    let q = db.selectFrom('transactions').select('id').where('id_token', '=', idToken).where('state', '=', 'active');
    if (exceptOcppTxId !== undefined) q = q.where('ocpp_tx_id', '!=', exceptOcppTxId);
    return (await q.executeTakeFirst()) !== undefined;
  }

  get policy(): AuthPolicy {
    return this.deps.policy;
  }
}

/** 1.6 AuthorizationStatus has five values; the 2.0.1-only ones map to Invalid. */
export function toStatus16(s: AuthorizationStatus): 'Accepted' | 'Blocked' | 'Expired' | 'Invalid' | 'ConcurrentTx' {
  switch (s) {
    case 'Accepted':
    case 'Blocked':
    case 'Expired':
    case 'Invalid':
    case 'ConcurrentTx':
      return s;
    default:
      return 'Invalid';
  }
}
