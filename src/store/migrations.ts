/**
 * Versioned schema migrations, written once with Kysely's schema builder for SQLite and PostgreSQL.
 * Append new migrations; never edit a released one.
 */
import { type Kysely, type Migration, type MigrationProvider, Migrator, sql } from 'kysely';
import { createOcpiPartnersTable } from '../ocpi/storage.js';

export type Dialect = 'sqlite' | 'postgres';

function migrations(dialect: Dialect): Record<string, Migration> {
  const autoId = dialect === 'sqlite' ? ('integer' as const) : ('bigserial' as const);
  const real = dialect === 'sqlite' ? ('real' as const) : ('double precision' as const);
  return {
    '0001_core': {
      async up(db: Kysely<any>) {
        await db.schema
          .createTable('stations')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('protocol', 'text')
          .addColumn('name', 'text')
          .addColumn('vendor', 'text')
          .addColumn('model', 'text')
          .addColumn('serial_number', 'text')
          .addColumn('firmware_version', 'text')
          .addColumn('iccid', 'text')
          .addColumn('imsi', 'text')
          .addColumn('meter_type', 'text')
          .addColumn('meter_serial_number', 'text')
          .addColumn('registration_status', 'text')
          .addColumn('boot_reason', 'text')
          .addColumn('last_boot_at', 'text')
          .addColumn('last_seen_at', 'text')
          .addColumn('online', 'integer', (c) => c.notNull().defaultTo(0))
          .addColumn('node_id', 'text')
          .addColumn('connected_at', 'text')
          .addColumn('disconnected_at', 'text')
          .addColumn('firmware_status', 'text')
          .addColumn('diagnostics_status', 'text')
          .addColumn('log_status', 'text')
          .addColumn('created_at', 'text', (c) => c.notNull())
          .addColumn('updated_at', 'text', (c) => c.notNull())
          .execute();

        await db.schema
          .createTable('evses')
          .addColumn('station_id', 'text', (c) => c.notNull())
          .addColumn('evse_id', 'integer', (c) => c.notNull())
          .addColumn('last_energy_wh', real)
          .addColumn('last_power_w', real)
          .addColumn('last_soc', real)
          .addColumn('last_meter_at', 'text')
          .addColumn('created_at', 'text', (c) => c.notNull())
          .addPrimaryKeyConstraint('evses_pk', ['station_id', 'evse_id'])
          .execute();

        await db.schema
          .createTable('connectors')
          .addColumn('station_id', 'text', (c) => c.notNull())
          .addColumn('evse_id', 'integer', (c) => c.notNull())
          .addColumn('connector_id', 'integer', (c) => c.notNull())
          .addColumn('status', 'text', (c) => c.notNull())
          .addColumn('ocpp_status', 'text', (c) => c.notNull())
          .addColumn('error_code', 'text')
          .addColumn('info', 'text')
          .addColumn('vendor_error_code', 'text')
          .addColumn('status_at', 'text')
          .addColumn('power_type', 'text')
          .addColumn('phases', 'integer')
          .addColumn('max_voltage_v', real)
          .addColumn('max_current_a', real)
          .addColumn('created_at', 'text', (c) => c.notNull())
          .addPrimaryKeyConstraint('connectors_pk', ['station_id', 'evse_id', 'connector_id'])
          .execute();

        await db.schema
          .createTable('id_tokens')
          .addColumn('id_token', 'text', (c) => c.primaryKey())
          .addColumn('type', 'text', (c) => c.notNull())
          .addColumn('status', 'text', (c) => c.notNull())
          .addColumn('group_id', 'text')
          .addColumn('parent_id_tag', 'text')
          .addColumn('expiry_date', 'text')
          .addColumn('created_at', 'text', (c) => c.notNull())
          .addColumn('updated_at', 'text', (c) => c.notNull())
          .execute();

        await db.schema
          .createTable('transactions')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('station_id', 'text', (c) => c.notNull())
          .addColumn('evse_id', 'integer', (c) => c.notNull())
          .addColumn('connector_id', 'integer')
          .addColumn('ocpp_tx_id', 'text', (c) => c.notNull())
          .addColumn('tx_number', 'integer')
          .addColumn('protocol', 'text', (c) => c.notNull())
          .addColumn('id_token', 'text')
          .addColumn('id_token_type', 'text')
          .addColumn('auth_status', 'text')
          .addColumn('group_id', 'text')
          .addColumn('state', 'text', (c) => c.notNull())
          .addColumn('charging_state', 'text')
          .addColumn('started_at', 'text', (c) => c.notNull())
          .addColumn('stopped_at', 'text')
          .addColumn('meter_start_wh', real)
          .addColumn('meter_stop_wh', real)
          .addColumn('energy_wh', real)
          .addColumn('power_w', real)
          .addColumn('soc', real)
          .addColumn('last_meter_at', 'text')
          .addColumn('stop_reason', 'text')
          .addColumn('trigger_reason', 'text')
          .addColumn('seq_no', 'integer')
          .addColumn('offline', 'integer', (c) => c.notNull().defaultTo(0))
          .addColumn('remote_start_id', 'integer')
          .addColumn('reservation_id', 'integer')
          .addColumn('charging_needs', 'text')
          .addColumn('updated_at', 'text', (c) => c.notNull())
          .execute();
        await db.schema
          .createIndex('transactions_station_tx')
          .on('transactions')
          .columns(['station_id', 'ocpp_tx_id'])
          .unique()
          .execute();
        await db.schema.createIndex('transactions_tx_number').on('transactions').column('tx_number').unique().execute();
        await db.schema
          .createIndex('transactions_active')
          .on('transactions')
          .columns(['station_id', 'evse_id', 'state'])
          .execute();
        await db.schema.createIndex('transactions_started').on('transactions').column('started_at').execute();

        await db.schema
          .createTable('transaction_events')
          .addColumn('id', autoId, (c) => (dialect === 'sqlite' ? c.primaryKey().autoIncrement() : c.primaryKey()))
          .addColumn('transaction_id', 'text', (c) => c.notNull())
          .addColumn('station_id', 'text', (c) => c.notNull())
          .addColumn('seq_no', 'integer', (c) => c.notNull())
          .addColumn('event_type', 'text', (c) => c.notNull())
          .addColumn('trigger_reason', 'text', (c) => c.notNull())
          .addColumn('timestamp', 'text', (c) => c.notNull())
          .addColumn('offline', 'integer', (c) => c.notNull().defaultTo(0))
          .addColumn('charging_state', 'text')
          .addColumn('stopped_reason', 'text')
          .addColumn('id_token', 'text')
          .addColumn('received_at', 'text', (c) => c.notNull())
          .execute();
        await db.schema
          .createIndex('transaction_events_seq')
          .on('transaction_events')
          .columns(['transaction_id', 'seq_no'])
          .unique()
          .execute();

        await db.schema
          .createTable('meter_values')
          .addColumn('id', autoId, (c) => (dialect === 'sqlite' ? c.primaryKey().autoIncrement() : c.primaryKey()))
          .addColumn('station_id', 'text', (c) => c.notNull())
          .addColumn('evse_id', 'integer', (c) => c.notNull())
          .addColumn('connector_id', 'integer')
          .addColumn('transaction_id', 'text')
          .addColumn('timestamp', 'text', (c) => c.notNull())
          .addColumn('measurand', 'text', (c) => c.notNull())
          .addColumn('phase', 'text')
          .addColumn('unit', 'text', (c) => c.notNull())
          .addColumn('context', 'text', (c) => c.notNull())
          .addColumn('location', 'text')
          .addColumn('value', real)
          .addColumn('signed', 'text')
          .execute();
        // One secondary index only: every meter value costs a B-tree entry per index, and MeterValues are
        // the hottest write path. Readings are read per transaction; a per-EVSE index can come with a
        // query that needs it.
        await db.schema.createIndex('meter_values_tx').on('meter_values').columns(['transaction_id', 'timestamp']).execute();

        await db.schema
          .createTable('station_events')
          .addColumn('id', autoId, (c) => (dialect === 'sqlite' ? c.primaryKey().autoIncrement() : c.primaryKey()))
          .addColumn('station_id', 'text', (c) => c.notNull())
          .addColumn('type', 'text', (c) => c.notNull())
          .addColumn('timestamp', 'text', (c) => c.notNull())
          .addColumn('payload', 'text', (c) => c.notNull())
          .execute();
        await db.schema
          .createIndex('station_events_station')
          .on('station_events')
          .columns(['station_id', 'type', 'timestamp'])
          .execute();

        await db.schema
          .createTable('device_model')
          .addColumn('station_id', 'text', (c) => c.notNull())
          .addColumn('component', 'text', (c) => c.notNull())
          .addColumn('component_instance', 'text', (c) => c.notNull())
          .addColumn('evse_id', 'integer', (c) => c.notNull())
          .addColumn('connector_id', 'integer', (c) => c.notNull())
          .addColumn('variable', 'text', (c) => c.notNull())
          .addColumn('variable_instance', 'text', (c) => c.notNull())
          .addColumn('attribute_type', 'text', (c) => c.notNull())
          .addColumn('value', 'text')
          .addColumn('mutability', 'text')
          .addColumn('data_type', 'text')
          .addColumn('updated_at', 'text', (c) => c.notNull())
          .addPrimaryKeyConstraint('device_model_pk', [
            'station_id',
            'component',
            'component_instance',
            'evse_id',
            'connector_id',
            'variable',
            'variable_instance',
            'attribute_type',
          ])
          .execute();

        await db.schema
          .createTable('counters')
          .addColumn('name', 'text', (c) => c.primaryKey())
          .addColumn('value', 'integer', (c) => c.notNull())
          .execute();
        await db.insertInto('counters').values({ name: 'tx_number', value: 0 }).execute();
        void sql;
      },
    },
    '0002_charger_routes': {
      // Seed 004 charger-connect: which CSMS node (address + REST port) serves a charger.
      async up(db: Kysely<any>) {
        await db.schema
          .createTable('charger_routes')
          .addColumn('charger_id', 'text', (c) => c.primaryKey())
          .addColumn('server_ip', 'text')
          .addColumn('server_port', 'integer')
          .addColumn('request_id', 'text', (c) => c.notNull())
          .addColumn('updated_at', 'text', (c) => c.notNull())
          .execute();
      },
    },
    '0003_api_keys': {
      // /api/v1 management API keys: hashed, with scopes; revoked keys are kept for the audit trail.
      async up(db: Kysely<any>) {
        await db.schema
          .createTable('api_keys')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('name', 'text', (c) => c.notNull())
          .addColumn('prefix', 'text', (c) => c.notNull())
          .addColumn('hash', 'text', (c) => c.notNull().unique())
          .addColumn('scopes', 'text', (c) => c.notNull())
          .addColumn('created_at', 'text', (c) => c.notNull())
          .addColumn('created_by', 'text')
          .addColumn('last_used_at', 'text')
          .addColumn('revoked_at', 'text')
          .execute();
      },
    },
    '0004_charging_profiles': {
      // The CSMS's shadow of the charging profiles installed on each station (issue 5): written when a
      // station accepts a SetChargingProfile / ClearChargingProfile and from 2.0.1 ReportChargingProfiles.
      async up(db: Kysely<any>) {
        await db.schema
          .createTable('charging_profiles')
          .addColumn('station_id', 'text', (c) => c.notNull())
          .addColumn('profile_id', 'integer', (c) => c.notNull())
          .addColumn('evse_id', 'integer', (c) => c.notNull())
          .addColumn('purpose', 'text', (c) => c.notNull())
          .addColumn('stack_level', 'integer', (c) => c.notNull())
          .addColumn('transaction_id', 'text')
          .addColumn('source', 'text', (c) => c.notNull())
          .addColumn('profile', 'text', (c) => c.notNull())
          .addColumn('installed_at', 'text', (c) => c.notNull())
          .addPrimaryKeyConstraint('charging_profiles_pk', ['station_id', 'profile_id'])
          .execute();
      },
    },
    '0005_scsp_link': {
      // CPO ↔ SCSP link (seeds 000/001/002): partners, pairing codes, pairings and the durable outbox of
      // events to forward (written in the same transaction as the state change it reports).
      async up(db: Kysely<any>) {
        await db.schema
          .createTable('scsp_partners')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('name', 'text', (c) => c.notNull())
          .addColumn('base_url', 'text', (c) => c.notNull())
          .addColumn('token_url', 'text', (c) => c.notNull())
          .addColumn('client_id', 'text', (c) => c.notNull())
          .addColumn('client_secret', 'text', (c) => c.notNull())
          .addColumn('audience', 'text')
          .addColumn('api_key', 'text', (c) => c.notNull())
          .addColumn('payload_protocol', 'text', (c) => c.notNull())
          .addColumn('inbound_token_hash', 'text', (c) => c.notNull().unique())
          .addColumn('enabled', 'integer', (c) => c.notNull())
          .addColumn('created_at', 'text', (c) => c.notNull())
          .addColumn('updated_at', 'text', (c) => c.notNull())
          .execute();
        await db.schema
          .createTable('pairing_codes')
          .addColumn('code', 'text', (c) => c.primaryKey())
          .addColumn('station_id', 'text', (c) => c.notNull())
          .addColumn('created_at', 'text', (c) => c.notNull())
          .addColumn('expires_at', 'text', (c) => c.notNull())
          .addColumn('used_at', 'text')
          .addColumn('used_by', 'text')
          .execute();
        await db.schema
          .createTable('pairings')
          .addColumn('station_id', 'text', (c) => c.primaryKey())
          .addColumn('partner_id', 'text', (c) => c.notNull())
          .addColumn('payload_protocol', 'text', (c) => c.notNull())
          .addColumn('origin', 'text', (c) => c.notNull())
          .addColumn('paired_at', 'text', (c) => c.notNull())
          .execute();
        await db.schema
          .createTable('outbox')
          .addColumn('id', autoId, (c) => (dialect === 'sqlite' ? c.primaryKey().autoIncrement() : c.primaryKey()))
          .addColumn('partner_id', 'text', (c) => c.notNull())
          .addColumn('station_id', 'text', (c) => c.notNull())
          .addColumn('kind', 'text', (c) => c.notNull())
          .addColumn('path', 'text', (c) => c.notNull())
          .addColumn('payload', 'text', (c) => c.notNull())
          .addColumn('idempotency_key', 'text', (c) => c.notNull().unique())
          .addColumn('state', 'text', (c) => c.notNull())
          .addColumn('attempts', 'integer', (c) => c.notNull())
          .addColumn('next_attempt_at', 'text', (c) => c.notNull())
          .addColumn('last_error', 'text')
          .addColumn('created_at', 'text', (c) => c.notNull())
          .addColumn('delivered_at', 'text')
          .execute();
        await db.schema.createIndex('outbox_pending').on('outbox').columns(['state', 'station_id', 'id']).execute();
      },
    },
    '0006_ocpi_partners': {
      // OCPI 2.2.1 partners (issue 8): credentials handshake state, tokens, the partner's endpoints.
      // The same table as the SCSP's (src/ocpi/storage.ts).
      async up(db: Kysely<any>) {
        await createOcpiPartnersTable(db);
      },
    },
    '0007_open_transactions': {
      // "All active transactions" (dashboard, load balancer, SCSP forwarding) without scanning history:
      // a partial index holds only the open ones, so it stays small and cheap to maintain.
      async up(db: Kysely<any>) {
        await db.schema.createIndex('transactions_open').on('transactions').column('station_id').where(sql<boolean>`state = 'active'`).execute();
      },
    },
    '0008_ocpi_sessions': {
      // OCPI second wave (issue 8). An SCSP partner may be linked to its OCPI registration: the sessions of
      // stations paired with it are then pushed as OCPI Sessions to that OCPI partner, which may steer them
      // through OCPI ChargingProfiles. `session_data` says how the partner gets session data: `ocpp`
      // (seed 001 OCPP-format events, the default) or `ocpi` (OCPI Sessions only; no OCPP-format events).
      // `ocpi_sessions` holds, per OCPI partner and session (= transactions.id), what was pushed and the
      // ChargingProfiles state the partner set.
      async up(db: Kysely<any>) {
        await db.schema.alterTable('scsp_partners').addColumn('ocpi_partner_id', 'text').execute();
        await db.schema.alterTable('scsp_partners').addColumn('session_data', 'text', (c) => c.notNull().defaultTo('ocpp')).execute();
        await db.schema
          .createTable('ocpi_sessions')
          .addColumn('partner_id', 'text', (c) => c.notNull())
          .addColumn('session_id', 'text', (c) => c.notNull())
          .addColumn('station_id', 'text', (c) => c.notNull())
          .addColumn('evse_id', 'integer', (c) => c.notNull())
          .addColumn('pushed_status', 'text')
          .addColumn('pushed_at', 'text')
          .addColumn('pushed_kwh', real)
          .addColumn('periods_pushed', 'integer', (c) => c.notNull().defaultTo(0))
          .addColumn('push_attempt_at', 'text')
          .addColumn('push_error', 'text')
          .addColumn('profile_state', 'text')
          .addColumn('profile_set_at', 'text')
          .addColumn('profile_request_at', 'text')
          .addColumn('active_profile', 'text')
          .addColumn('active_profile_at', 'text')
          .addColumn('created_at', 'text', (c) => c.notNull())
          .addColumn('updated_at', 'text', (c) => c.notNull())
          .addPrimaryKeyConstraint('ocpi_sessions_pk', ['partner_id', 'session_id'])
          .execute();
        await db.schema.createIndex('ocpi_sessions_updated').on('ocpi_sessions').columns(['partner_id', 'updated_at']).execute();
        await db.schema.createIndex('ocpi_sessions_session').on('ocpi_sessions').column('session_id').execute();
      },
    },
    '0009_ocpi_charging_preferences': {
      // OCPI Sessions (issue 8 §3): the ChargingPreferences an OCPI partner PUT on a session it sees
      // (`PUT {sessions}/{session_id}/charging_preferences`), the latest per partner and session.
      // `discharge_allowed` is 0/1/null; `energy_need` kWh; `departure_time` an ISO date-time.
      async up(db: Kysely<any>) {
        await db.schema
          .createTable('ocpi_charging_preferences')
          .addColumn('partner_id', 'text', (c) => c.notNull())
          .addColumn('session_id', 'text', (c) => c.notNull())
          .addColumn('profile_type', 'text', (c) => c.notNull())
          .addColumn('departure_time', 'text')
          .addColumn('energy_need', real)
          .addColumn('discharge_allowed', 'integer')
          .addColumn('result', 'text', (c) => c.notNull())
          .addColumn('received_at', 'text', (c) => c.notNull())
          .addPrimaryKeyConstraint('ocpi_charging_preferences_pk', ['partner_id', 'session_id'])
          .execute();
      },
    },
  };
}

class StaticProvider implements MigrationProvider {
  constructor(private readonly dialect: Dialect) {}
  async getMigrations(): Promise<Record<string, Migration>> {
    return migrations(this.dialect);
  }
}

export async function migrateToLatest(db: Kysely<any>, dialect: Dialect, schema?: string): Promise<string[]> {
  // With a PostgreSQL schema, Kysely's bookkeeping tables must live there too: its existence check looks
  // across all schemas, so another schema's lock table would otherwise be mistaken for ours.
  const migrator = new Migrator({ db, provider: new StaticProvider(dialect), ...(schema ? { migrationTableSchema: schema } : {}) });
  const { error, results } = await migrator.migrateToLatest();
  if (error) throw error instanceof Error ? error : new Error(String(error));
  return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
}
