/**
 * Table row types for Kysely. Timestamps are ISO-8601 UTC strings (sortable, identical in SQLite and
 * PostgreSQL); booleans are 0/1 integers; JSON columns are text.
 */
import type { Generated, Insertable, Selectable, Updateable } from 'kysely';
import type { OcpiPartnersTable } from '../ocpi/storage.js';

export interface StationsTable {
  id: string;
  protocol: string | null;
  name: string | null;
  vendor: string | null;
  model: string | null;
  serial_number: string | null;
  firmware_version: string | null;
  iccid: string | null;
  imsi: string | null;
  meter_type: string | null;
  meter_serial_number: string | null;
  registration_status: string | null;
  boot_reason: string | null;
  last_boot_at: string | null;
  last_seen_at: string | null;
  online: number;
  node_id: string | null;
  connected_at: string | null;
  disconnected_at: string | null;
  firmware_status: string | null;
  diagnostics_status: string | null;
  log_status: string | null;
  created_at: string;
  updated_at: string;
}

export interface EvsesTable {
  station_id: string;
  evse_id: number;
  last_energy_wh: number | null;
  last_power_w: number | null;
  last_soc: number | null;
  last_meter_at: string | null;
  created_at: string;
}

export interface ConnectorsTable {
  station_id: string;
  evse_id: number;
  connector_id: number;
  status: string;
  ocpp_status: string;
  error_code: string | null;
  info: string | null;
  vendor_error_code: string | null;
  status_at: string | null;
  power_type: string | null;
  phases: number | null;
  max_voltage_v: number | null;
  max_current_a: number | null;
  created_at: string;
}

export interface IdTokensTable {
  id_token: string;
  type: string;
  status: string;
  group_id: string | null;
  parent_id_tag: string | null;
  expiry_date: string | null;
  created_at: string;
  updated_at: string;
}

export interface TransactionsTable {
  id: string;
  station_id: string;
  evse_id: number;
  connector_id: number | null;
  ocpp_tx_id: string;
  tx_number: number | null;
  protocol: string;
  id_token: string | null;
  id_token_type: string | null;
  auth_status: string | null;
  group_id: string | null;
  state: string;
  charging_state: string | null;
  started_at: string;
  stopped_at: string | null;
  meter_start_wh: number | null;
  meter_stop_wh: number | null;
  energy_wh: number | null;
  power_w: number | null;
  soc: number | null;
  last_meter_at: string | null;
  stop_reason: string | null;
  trigger_reason: string | null;
  seq_no: number | null;
  offline: number;
  remote_start_id: number | null;
  reservation_id: number | null;
  charging_needs: string | null;
  updated_at: string;
}

export interface TransactionEventsTable {
  id: Generated<number>;
  transaction_id: string;
  station_id: string;
  seq_no: number;
  event_type: string;
  trigger_reason: string;
  timestamp: string;
  offline: number;
  charging_state: string | null;
  stopped_reason: string | null;
  id_token: string | null;
  received_at: string;
}

export interface MeterValuesTable {
  id: Generated<number>;
  station_id: string;
  evse_id: number;
  connector_id: number | null;
  transaction_id: string | null;
  timestamp: string;
  measurand: string;
  phase: string | null;
  unit: string;
  context: string;
  location: string | null;
  value: number | null;
  signed: string | null;
}

export interface StationEventsTable {
  id: Generated<number>;
  station_id: string;
  type: string;
  timestamp: string;
  payload: string;
}

export interface DeviceModelTable {
  station_id: string;
  component: string;
  component_instance: string;
  evse_id: number;
  connector_id: number;
  variable: string;
  variable_instance: string;
  attribute_type: string;
  value: string | null;
  mutability: string | null;
  data_type: string | null;
  updated_at: string;
}

export interface ChargerRoutesTable {
  charger_id: string;
  server_ip: string | null;
  server_port: number | null;
  request_id: string;
  updated_at: string;
}

/** Management API keys (/api/v1): only a hash of each key is stored; the key itself is shown once. */
export interface ApiKeysTable {
  id: string;
  name: string;
  /** First characters of the key, for display ("which key is this?"); not secret, not unique. */
  prefix: string;
  /** Hex SHA-256 of the full key (unique): keys are 192-bit random, so a fast hash suffices. */
  hash: string;
  /** Comma-separated scopes: read, command, admin. */
  scopes: string;
  created_at: string;
  /** Id of the key that created this one, or 'bootstrap' for the configured AMPLINE_API_KEY. */
  created_by: string | null;
  last_used_at: string | null;
  revoked_at: string | null;
}

export interface CountersTable {
  name: string;
  value: number;
}

export interface Database {
  stations: StationsTable;
  evses: EvsesTable;
  connectors: ConnectorsTable;
  id_tokens: IdTokensTable;
  transactions: TransactionsTable;
  transaction_events: TransactionEventsTable;
  meter_values: MeterValuesTable;
  station_events: StationEventsTable;
  device_model: DeviceModelTable;
  counters: CountersTable;
  charger_routes: ChargerRoutesTable;
  api_keys: ApiKeysTable;
  charging_profiles: ChargingProfilesTable;
  scsp_partners: ScspPartnersTable;
  pairing_codes: PairingCodesTable;
  pairings: PairingsTable;
  outbox: OutboxTable;
  ocpi_partners: OcpiPartnersTable;
  ocpi_sessions: OcpiSessionsTable;
}

/**
 * Per OCPI partner and session (`session_id` = transactions.id, Ampline's stable session id): what the
 * Sessions sender pushed, and the ChargingProfiles state the partner set (migration 0008).
 */
export interface OcpiSessionsTable {
  partner_id: string;
  session_id: string;
  station_id: string;
  evse_id: number;
  /** Last status pushed successfully (ACTIVE, COMPLETED …); null = never pushed. */
  pushed_status: string | null;
  pushed_at: string | null;
  pushed_kwh: number | null;
  /** Charging periods the partner has (PATCH appends only the newer ones). */
  periods_pushed: number;
  push_attempt_at: string | null;
  push_error: string | null;
  /** null: the partner never set a profile (no ActiveChargingProfile PUTs) · `set` · `cleared`. */
  profile_state: string | null;
  profile_set_at: string | null;
  /** Last PUT/DELETE/GET of the partner on this session (TOO_OFTEN). */
  profile_request_at: string | null;
  /** JSON of the last ActiveChargingProfile PUT to the partner (only changes are sent). */
  active_profile: string | null;
  active_profile_at: string | null;
  created_at: string;
  updated_at: string;
}

export interface ScspPartnersTable {
  id: string;
  name: string;
  /** The SCSP's API root; Ampline calls `${base_url}/v1/scsp/...`. */
  base_url: string;
  token_url: string;
  client_id: string;
  client_secret: string;
  audience: string | null;
  /** Static `ApiKey` header Ampline sends on every call to the SCSP. */
  api_key: string;
  payload_protocol: string;
  /** SHA-256 (hex) of the bearer token the SCSP presents on Ampline's `/v1/cpo/...` routes. */
  inbound_token_hash: string;
  enabled: number;
  created_at: string;
  updated_at: string;
  /** The partner's OCPI registration (ocpi_partners.id): paired stations' sessions go there as OCPI Sessions. */
  ocpi_partner_id: string | null;
  /** `ocpp` (seed 001 OCPP-format events) | `ocpi` (OCPI Sessions only). */
  session_data: Generated<string>;
}

export interface PairingCodesTable {
  code: string;
  station_id: string;
  created_at: string;
  expires_at: string;
  used_at: string | null;
  used_by: string | null;
}

export interface PairingsTable {
  station_id: string;
  partner_id: string;
  payload_protocol: string;
  /** `cpo-code` (the SCSP verified Ampline's code) or `scsp-code` (Ampline sent the SCSP's code). */
  origin: string;
  paired_at: string;
}

export interface OutboxTable {
  id: Generated<number>;
  partner_id: string;
  station_id: string;
  /** TransactionEvent | MeterValues | … (the OCPP action forwarded). */
  kind: string;
  /** Path below the partner's base URL. */
  path: string;
  payload: string;
  idempotency_key: string;
  /** pending | delivered | dead | cancelled (src/scsp-link/outbox.ts) */
  state: string;
  attempts: number;
  next_attempt_at: string;
  last_error: string | null;
  created_at: string;
  delivered_at: string | null;
}

export interface ChargingProfilesTable {
  station_id: string;
  profile_id: number;
  evse_id: number;
  purpose: string;
  stack_level: number;
  /** TxProfile: the transaction it belongs to (2.0.1 id; 1.6 integer as text); null until a remote-start profile is bound. */
  transaction_id: string | null;
  /** Who installed it: api, management, balancer, scsp, remote-start, station (reported, not sent by Ampline). */
  source: string;
  /** The version-neutral model (src/smart/profile.ts) as JSON. */
  profile: string;
  installed_at: string;
}

export type StationRow = Selectable<StationsTable>;
export type ConnectorRow = Selectable<ConnectorsTable>;
export type EvseRow = Selectable<EvsesTable>;
export type TransactionRow = Selectable<TransactionsTable>;
export type NewTransaction = Insertable<TransactionsTable>;
export type TransactionUpdate = Updateable<TransactionsTable>;
export type MeterValueRow = Selectable<MeterValuesTable>;
export type IdTokenRow = Selectable<IdTokensTable>;
export type TransactionEventRow = Selectable<TransactionEventsTable>;
export type StationEventRow = Selectable<StationEventsTable>;
export type ApiKeyRow = Selectable<ApiKeysTable>;

/** OCPI 2.2.1 partners (src/ocpi/storage.ts; the SCSP's database has the same table). */
export type { OcpiPartnersTable };
