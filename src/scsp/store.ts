/**
 * The SCSP's own database: a SQLite file (`scsp.sqlite`, WAL) in the SCSP data directory, with its own
 * versioned migrations. Nothing is shared with the CSMS's database: the two parties are different
 * companies and meet only over HTTP.
 *
 * Conventions as in src/store: timestamps are ISO-8601 UTC strings, booleans 0/1 integers, JSON columns
 * text. Append migrations; never edit a released one.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import SQLite from 'better-sqlite3';
import { type Generated, Kysely, type Migration, type MigrationProvider, Migrator, SqliteDialect } from 'kysely';
import { type OcpiPartnersTable, createOcpiPartnersTable } from '../ocpi/storage.js';

/** CPO clients: who may ask for tokens and call `/v1/scsp`, and how the SCSP calls them back. */
export interface CposTable {
  id: string;
  name: string;
  client_id: string;
  /** SHA-256 (hex) of the client secret. */
  client_secret_hash: string;
  /** SHA-256 (hex) of the static `ApiKey` header value. */
  api_key_hash: string;
  /** The CPO's base URL; `/v1/cpo/...` is appended. */
  base_url: string;
  /** Bearer token the SCSP presents on the CPO's `/v1/cpo/...` routes (kept in clear: it is sent). */
  cpo_token: string;
  payload_protocol: string;
  enabled: number;
  created_at: string;
  updated_at: string;
  /** The CPO's OCPI registration at this SCSP (`ocpi_partners.id`); null: no OCPI link (migration 0003). */
  ocpi_partner_id: string | null;
  /** How plans reach the CPO: `ocpp-format` (protocols.md §1.6) or `ocpi` (OCPI ChargingProfiles) (migration 0003). */
  profile_route: string;
}

export interface AccessTokensTable {
  /** SHA-256 (hex) of the opaque bearer token. */
  token_hash: string;
  cpo_id: string;
  audience: string | null;
  issued_at: string;
  expires_at: string;
}

export interface PairingCodesTable {
  code: string;
  /** Who asked for the code (the SCSP's user; free text). */
  user_id: string | null;
  /** Only this CPO may redeem it (null: any). */
  cpo_id: string | null;
  created_at: string;
  expires_at: string;
  used_at: string | null;
  used_by_cpo: string | null;
  used_uid: string | null;
}

/** Paired charging stations, keyed by CPO and the CPO's uid. */
export interface StationsTable {
  cpo_id: string;
  uid: string;
  payload_protocol: string;
  /** The seed's `charging_station` object (JSON). */
  charging_station: string;
  user_id: string | null;
  /** `scsp-code` (the CPO sent our code) or `cpo-code` (we redeemed the CPO's code). */
  origin: string;
  paired_at: string;
}

export interface SitesTable {
  id: string;
  name: string;
  max_power_w: number;
  created_at: string;
  updated_at: string;
}

export interface SiteMembersTable {
  cpo_id: string;
  uid: string;
  site_id: string;
}

/** Latest state per EVSE (also when no session is running). */
export interface EvsesTable {
  cpo_id: string;
  uid: string;
  evse_id: number;
  status: string | null;
  status_at: string | null;
  meter_wh: number | null;
  power_w: number | null;
  soc: number | null;
  meter_at: string | null;
  updated_at: string;
}

export interface SessionsTable {
  id: string;
  cpo_id: string;
  uid: string;
  /** 0 while not known (a 1.6 StopTransaction for a transaction never seen starting). */
  evse_id: number;
  /** The CPO's transaction id (2.0.1 string; 1.6 integer as text); null until a 1.6 start is correlated. */
  transaction_id: string | null;
  /** Payload protocol of the events that built the session, or `ocpi` (built from OCPI Sessions; transaction_id = the OCPI session id). */
  protocol: string;
  state: string;
  charging_state: string | null;
  charging_state_at: string | null;
  meter_start_wh: number | null;
  meter_wh: number | null;
  energy_wh: number | null;
  power_w: number | null;
  soc: number | null;
  meter_at: string | null;
  started_at: string;
  ended_at: string | null;
  stopped_reason: string | null;
  /** Timestamp of the newest event applied (event time, not arrival). */
  last_event_at: string;
  /** The session's own planned schedule (JSON `[{start, powerW}]`) and when it was planned. */
  plan: string | null;
  planned_at: string | null;
  created_at: string;
  updated_at: string;
}

/** Driver preferences: `station:<cpo>/<uid>`, `evse:<cpo>/<uid>/<evse>` or `session:<id>`. */
export interface PreferencesTable {
  scope: string;
  cpo_id: string | null;
  uid: string | null;
  evse_id: number | null;
  session_id: string | null;
  prefs: string;
  updated_at: string;
}

/** Received events: the idempotency record (and a short-lived audit trail). */
export interface IngestEventsTable {
  id: Generated<number>;
  cpo_id: string;
  idem_key: string;
  /** SHA-256 of protocol, action and body: a reused Idempotency-Key with another body is refused. */
  body_hash: string;
  uid: string;
  protocol: string;
  action: string;
  body: string;
  session_id: string | null;
  received_at: string;
}

export interface ProfileDeliveriesTable {
  id: Generated<number>;
  cpo_id: string;
  uid: string;
  payload_protocol: string;
  /** The SetChargingProfileRequest (JSON). */
  request: string;
  /** pending | retrying | delivered | failed | superseded | cancelled | abandoned */
  status: string;
  attempts: number;
  http_status: number | null;
  last_error: string | null;
  /** The CPO's last answer body (truncated). */
  response: string | null;
  next_attempt_at: string | null;
  created_at: string;
  updated_at: string;
  /** The profile route that prepared and sent the request (`ocpp-format` | `ocpi`; migration 0003). */
  route: string;
}

/**
 * OCPI Sessions a CPO pushed to our `sessions` RECEIVER endpoint (src/ocpi/scsp/sessions.ts), with what
 * the SCSP made of them and the ChargingProfiles state of each (migration 0003). Key: the OCPI partner and
 * the session's URL ids (`country_code`/`party_id` upper-case, `session_key` = the id lower-cased:
 * CiStrings are case-insensitive).
 */
export interface OcpiSessionsTable {
  partner_id: string;
  country_code: string;
  party_id: string;
  session_key: string;
  /** The id as the CPO sent it. */
  session_id: string;
  /** The CPO record the partner was linked to when the session arrived. */
  cpo_id: string;
  location_id: string;
  evse_uid: string;
  connector_id: string;
  status: string;
  /** `last_updated` of the stored object (ISO, UTC). */
  last_updated: string;
  /** The stored Session object (JSON): PUT replaces it, PATCH merges (charging_periods appended). */
  object: string;
  /** The paired station (`stations.uid`) and EVSE the session maps to; null when none. */
  uid: string | null;
  evse_id: number | null;
  /** The SCSP session (`sessions.id`) it feeds or is the twin of. */
  scsp_session_id: string | null;
  /** Why it is not (or not itself) mapped, for operators. */
  map_note: string | null;
  /** ChargingProfiles: `set` (the CPO accepted our last profile) · `rejected` · `cleared`; null: never sent. */
  profile_state: string | null;
  /** The last ChargingProfile accepted (JSON) and when. */
  profile: string | null;
  profile_at: string | null;
  /** The latest ActiveChargingProfile the CPO reported (JSON: PUT on our sender endpoint or a GET's result). */
  active_profile: string | null;
  active_profile_at: string | null;
  created_at: string;
  updated_at: string;
}

/** ChargingProfiles requests we sent (PUT / DELETE / GET), addressed by the `response_url` we generated. */
export interface OcpiProfileRequestsTable {
  request_id: string;
  /** `set` | `clear` | `get`. */
  kind: string;
  partner_id: string;
  /** The OCPI session (its key in `ocpi_sessions` and the id sent in the URL). */
  country_code: string;
  party_id: string;
  session_key: string;
  session_id: string;
  /** The charging_profile sent (JSON), for `set`. */
  body: string | null;
  /** The CPO's synchronous ChargingProfileResponse `result` (or why none). */
  sync_result: string | null;
  /** The asynchronous result (`ACCEPTED` | `REJECTED` | `UNKNOWN`) and its body (JSON). */
  result: string | null;
  result_body: string | null;
  answered_at: string | null;
  created_at: string;
  expires_at: string;
}

export interface ScspDatabase {
  cpos: CposTable;
  access_tokens: AccessTokensTable;
  pairing_codes: PairingCodesTable;
  stations: StationsTable;
  sites: SitesTable;
  site_members: SiteMembersTable;
  evses: EvsesTable;
  sessions: SessionsTable;
  preferences: PreferencesTable;
  ingest_events: IngestEventsTable;
  profile_deliveries: ProfileDeliveriesTable;
  ocpi_sessions: OcpiSessionsTable;
  ocpi_profile_requests: OcpiProfileRequestsTable;
  /** OCPI 2.2.1 partners (src/ocpi/storage.ts; the CSMS's database has the same table). */
  ocpi_partners: OcpiPartnersTable;
}

export type ScspKysely = Kysely<ScspDatabase>;

const MIGRATIONS: Record<string, Migration> = {
  '0001_scsp': {
    async up(db: Kysely<any>) {
      await db.schema
        .createTable('cpos')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('client_id', 'text', (c) => c.notNull().unique())
        .addColumn('client_secret_hash', 'text', (c) => c.notNull())
        .addColumn('api_key_hash', 'text', (c) => c.notNull())
        .addColumn('base_url', 'text', (c) => c.notNull())
        .addColumn('cpo_token', 'text', (c) => c.notNull())
        .addColumn('payload_protocol', 'text', (c) => c.notNull())
        .addColumn('enabled', 'integer', (c) => c.notNull().defaultTo(1))
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('access_tokens')
        .addColumn('token_hash', 'text', (c) => c.primaryKey())
        .addColumn('cpo_id', 'text', (c) => c.notNull())
        .addColumn('audience', 'text')
        .addColumn('issued_at', 'text', (c) => c.notNull())
        .addColumn('expires_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('access_tokens_expiry').on('access_tokens').column('expires_at').execute();
      await db.schema
        .createTable('pairing_codes')
        .addColumn('code', 'text', (c) => c.primaryKey())
        .addColumn('user_id', 'text')
        .addColumn('cpo_id', 'text')
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('expires_at', 'text', (c) => c.notNull())
        .addColumn('used_at', 'text')
        .addColumn('used_by_cpo', 'text')
        .addColumn('used_uid', 'text')
        .execute();
      await db.schema
        .createTable('stations')
        .addColumn('cpo_id', 'text', (c) => c.notNull())
        .addColumn('uid', 'text', (c) => c.notNull())
        .addColumn('payload_protocol', 'text', (c) => c.notNull())
        .addColumn('charging_station', 'text', (c) => c.notNull())
        .addColumn('user_id', 'text')
        .addColumn('origin', 'text', (c) => c.notNull())
        .addColumn('paired_at', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('stations_pk', ['cpo_id', 'uid'])
        .execute();
      await db.schema
        .createTable('sites')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('max_power_w', 'real', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('site_members')
        .addColumn('cpo_id', 'text', (c) => c.notNull())
        .addColumn('uid', 'text', (c) => c.notNull())
        .addColumn('site_id', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('site_members_pk', ['cpo_id', 'uid'])
        .execute();
      await db.schema.createIndex('site_members_site').on('site_members').column('site_id').execute();
      await db.schema
        .createTable('evses')
        .addColumn('cpo_id', 'text', (c) => c.notNull())
        .addColumn('uid', 'text', (c) => c.notNull())
        .addColumn('evse_id', 'integer', (c) => c.notNull())
        .addColumn('status', 'text')
        .addColumn('status_at', 'text')
        .addColumn('meter_wh', 'real')
        .addColumn('power_w', 'real')
        .addColumn('soc', 'real')
        .addColumn('meter_at', 'text')
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('evses_pk', ['cpo_id', 'uid', 'evse_id'])
        .execute();
      await db.schema
        .createTable('sessions')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('cpo_id', 'text', (c) => c.notNull())
        .addColumn('uid', 'text', (c) => c.notNull())
        .addColumn('evse_id', 'integer', (c) => c.notNull())
        .addColumn('transaction_id', 'text')
        .addColumn('protocol', 'text', (c) => c.notNull())
        .addColumn('state', 'text', (c) => c.notNull())
        .addColumn('charging_state', 'text')
        .addColumn('charging_state_at', 'text')
        .addColumn('meter_start_wh', 'real')
        .addColumn('meter_wh', 'real')
        .addColumn('energy_wh', 'real')
        .addColumn('power_w', 'real')
        .addColumn('soc', 'real')
        .addColumn('meter_at', 'text')
        .addColumn('started_at', 'text', (c) => c.notNull())
        .addColumn('ended_at', 'text')
        .addColumn('stopped_reason', 'text')
        .addColumn('last_event_at', 'text', (c) => c.notNull())
        .addColumn('plan', 'text')
        .addColumn('planned_at', 'text')
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('sessions_tx').on('sessions').columns(['cpo_id', 'uid', 'transaction_id']).unique().execute();
      await db.schema.createIndex('sessions_station_state').on('sessions').columns(['cpo_id', 'uid', 'state']).execute();
      await db.schema
        .createTable('preferences')
        .addColumn('scope', 'text', (c) => c.primaryKey())
        .addColumn('cpo_id', 'text')
        .addColumn('uid', 'text')
        .addColumn('evse_id', 'integer')
        .addColumn('session_id', 'text')
        .addColumn('prefs', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('ingest_events')
        .addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
        .addColumn('cpo_id', 'text', (c) => c.notNull())
        .addColumn('idem_key', 'text', (c) => c.notNull())
        .addColumn('body_hash', 'text', (c) => c.notNull())
        .addColumn('uid', 'text', (c) => c.notNull())
        .addColumn('protocol', 'text', (c) => c.notNull())
        .addColumn('action', 'text', (c) => c.notNull())
        .addColumn('body', 'text', (c) => c.notNull())
        .addColumn('session_id', 'text')
        .addColumn('received_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('ingest_events_key').on('ingest_events').columns(['cpo_id', 'idem_key']).unique().execute();
      await db.schema.createIndex('ingest_events_received').on('ingest_events').column('received_at').execute();
      await db.schema
        .createTable('profile_deliveries')
        .addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
        .addColumn('cpo_id', 'text', (c) => c.notNull())
        .addColumn('uid', 'text', (c) => c.notNull())
        .addColumn('payload_protocol', 'text', (c) => c.notNull())
        .addColumn('request', 'text', (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('attempts', 'integer', (c) => c.notNull())
        .addColumn('http_status', 'integer')
        .addColumn('last_error', 'text')
        .addColumn('response', 'text')
        .addColumn('next_attempt_at', 'text')
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('profile_deliveries_station').on('profile_deliveries').columns(['cpo_id', 'uid', 'id']).execute();
    },
  },
  '0002_ocpi_partners': {
    // OCPI 2.2.1 partners (issue 8), the same table as the CSMS's.
    async up(db: Kysely<any>) {
      await createOcpiPartnersTable(db);
    },
  },
  '0003_ocpi_sessions': {
    // OCPI second wave (issue 8 §5): a CPO record names its OCPI registration and its profile route;
    // deliveries say which route sent them; received OCPI Sessions and ChargingProfiles requests.
    async up(db: Kysely<any>) {
      await db.schema.alterTable('cpos').addColumn('ocpi_partner_id', 'text').execute();
      await db.schema.alterTable('cpos').addColumn('profile_route', 'text', (c) => c.notNull().defaultTo('ocpp-format')).execute();
      await db.schema.createIndex('cpos_ocpi_partner').on('cpos').column('ocpi_partner_id').unique().execute(); // SQLite: NULLs never clash
      await db.schema.alterTable('profile_deliveries').addColumn('route', 'text', (c) => c.notNull().defaultTo('ocpp-format')).execute();
      await db.schema
        .createTable('ocpi_sessions')
        .addColumn('partner_id', 'text', (c) => c.notNull())
        .addColumn('country_code', 'text', (c) => c.notNull())
        .addColumn('party_id', 'text', (c) => c.notNull())
        .addColumn('session_key', 'text', (c) => c.notNull())
        .addColumn('session_id', 'text', (c) => c.notNull())
        .addColumn('cpo_id', 'text', (c) => c.notNull())
        .addColumn('location_id', 'text', (c) => c.notNull())
        .addColumn('evse_uid', 'text', (c) => c.notNull())
        .addColumn('connector_id', 'text', (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('last_updated', 'text', (c) => c.notNull())
        .addColumn('object', 'text', (c) => c.notNull())
        .addColumn('uid', 'text')
        .addColumn('evse_id', 'integer')
        .addColumn('scsp_session_id', 'text')
        .addColumn('map_note', 'text')
        .addColumn('profile_state', 'text')
        .addColumn('profile', 'text')
        .addColumn('profile_at', 'text')
        .addColumn('active_profile', 'text')
        .addColumn('active_profile_at', 'text')
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('ocpi_sessions_pk', ['partner_id', 'country_code', 'party_id', 'session_key'])
        .execute();
      await db.schema.createIndex('ocpi_sessions_station').on('ocpi_sessions').columns(['cpo_id', 'uid', 'status']).execute();
      await db.schema.createIndex('ocpi_sessions_scsp_session').on('ocpi_sessions').column('scsp_session_id').execute();
      await db.schema
        .createTable('ocpi_profile_requests')
        .addColumn('request_id', 'text', (c) => c.primaryKey())
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('partner_id', 'text', (c) => c.notNull())
        .addColumn('country_code', 'text', (c) => c.notNull())
        .addColumn('party_id', 'text', (c) => c.notNull())
        .addColumn('session_key', 'text', (c) => c.notNull())
        .addColumn('session_id', 'text', (c) => c.notNull())
        .addColumn('body', 'text')
        .addColumn('sync_result', 'text')
        .addColumn('result', 'text')
        .addColumn('result_body', 'text')
        .addColumn('answered_at', 'text')
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('expires_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('ocpi_profile_requests_expiry').on('ocpi_profile_requests').column('expires_at').execute();
    },
  },
};

class StaticProvider implements MigrationProvider {
  async getMigrations(): Promise<Record<string, Migration>> {
    return MIGRATIONS;
  }
}

export interface ScspDb {
  kysely: ScspKysely;
  /** The SQLite file, for logs. */
  location: string;
  close(): Promise<void>;
}

export async function openScspDb(opts: { dataDir: string; migrate?: boolean }): Promise<ScspDb> {
  mkdirSync(opts.dataDir, { recursive: true });
  const file = join(opts.dataDir, 'scsp.sqlite');
  const sqlite = new SQLite(file);
  sqlite.pragma('journal_mode = WAL');
  sqlite.pragma('synchronous = NORMAL');
  sqlite.pragma('busy_timeout = 5000');
  sqlite.pragma('foreign_keys = ON');
  const kysely = new Kysely<ScspDatabase>({ dialect: new SqliteDialect({ database: sqlite }) });
  if (opts.migrate !== false) {
    const { error } = await new Migrator({ db: kysely as Kysely<any>, provider: new StaticProvider() }).migrateToLatest();
    if (error) {
      await kysely.destroy();
      throw error instanceof Error ? error : new Error(String(error));
    }
  }
  return {
    kysely,
    location: file,
    close: async () => {
      await kysely.destroy();
    },
  };
}
