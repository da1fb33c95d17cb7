/**
 * Read-only resources: stations with their EVSEs and connectors, transactions with their meter values,
 * and the station event log. (Charging profiles: charging-profiles.ts.) Rows are snake_case in the
 * store and camelCase here; timestamps are the ISO-8601 strings the store keeps. Every list is one query
 * for the page and one for the count.
 */
import { sql, type Kysely, type SelectQueryBuilder } from 'kysely';
import type { ConnectorRow, Database, EvseRow, MeterValueRow, StationEventRow, StationRow, TransactionRow } from '../../store/schema.js';
import { PROTOCOLS } from '../../ocpp/protocol.js';
import { ApiError } from '../errors.js';
import {
  type JsonSchema,
  type RouteSpec,
  likePattern,
  linkHeaderDoc,
  nullable,
  pageOf,
  pageSchema,
  paginationProps,
  parseJson,
  ref,
  sendPage,
  stationOr404,
} from './http.js';

export interface ResourceDeps {
  db: Kysely<Database>;
}

// --- JSON views -----------------------------------------------------------------------------------

export function stationView(r: StationRow) {
  return {
    id: r.id,
    protocol: r.protocol,
    name: r.name,
    vendor: r.vendor,
    model: r.model,
    serialNumber: r.serial_number,
    firmwareVersion: r.firmware_version,
    iccid: r.iccid,
    imsi: r.imsi,
    meterType: r.meter_type,
    meterSerialNumber: r.meter_serial_number,
    registrationStatus: r.registration_status,
    bootReason: r.boot_reason,
    online: r.online === 1,
    nodeId: r.node_id,
    lastBootAt: r.last_boot_at,
    lastSeenAt: r.last_seen_at,
    connectedAt: r.connected_at,
    disconnectedAt: r.disconnected_at,
    firmwareStatus: r.firmware_status,
    diagnosticsStatus: r.diagnostics_status,
    logStatus: r.log_status,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}

export function connectorView(r: ConnectorRow) {
  return {
    evseId: r.evse_id,
    connectorId: r.connector_id,
    status: r.status,
    ocppStatus: r.ocpp_status,
    errorCode: r.error_code,
    info: r.info,
    vendorErrorCode: r.vendor_error_code,
    statusAt: r.status_at,
    powerType: r.power_type,
    phases: r.phases,
    maxVoltageV: r.max_voltage_v,
    maxCurrentA: r.max_current_a,
  };
}

export function evseViews(evses: EvseRow[], connectors: ConnectorRow[]) {
  return evses.map((e) => ({
    evseId: e.evse_id,
    lastEnergyWh: e.last_energy_wh,
    lastPowerW: e.last_power_w,
    lastSoc: e.last_soc,
    lastMeterAt: e.last_meter_at,
    connectors: connectors.filter((c) => c.evse_id === e.evse_id).map(connectorView),
  }));
}

export function transactionView(r: TransactionRow) {
  return {
    id: r.id,
    stationId: r.station_id,
    evseId: r.evse_id,
    connectorId: r.connector_id,
    protocol: r.protocol,
    ocppTransactionId: r.ocpp_tx_id,
    transactionNumber: r.tx_number,
    state: r.state,
    chargingState: r.charging_state,
    idToken: r.id_token,
    idTokenType: r.id_token_type,
    authStatus: r.auth_status,
    groupId: r.group_id,
    startedAt: r.started_at,
    stoppedAt: r.stopped_at,
    meterStartWh: r.meter_start_wh,
    meterStopWh: r.meter_stop_wh,
    energyWh: r.energy_wh,
    powerW: r.power_w,
    soc: r.soc,
    lastMeterAt: r.last_meter_at,
    stopReason: r.stop_reason,
    triggerReason: r.trigger_reason,
    seqNo: r.seq_no,
    offline: r.offline === 1,
    remoteStartId: r.remote_start_id,
    reservationId: r.reservation_id,
    chargingNeeds: parseJson(r.charging_needs),
    updatedAt: r.updated_at,
  };
}

export function meterValueView(r: MeterValueRow) {
  return {
    id: Number(r.id),
    stationId: r.station_id,
    evseId: r.evse_id,
    connectorId: r.connector_id,
    transactionId: r.transaction_id,
    timestamp: r.timestamp,
    measurand: r.measurand,
    phase: r.phase,
    unit: r.unit,
    context: r.context,
    location: r.location,
    value: r.value,
    signed: r.signed,
  };
}

export function stationEventView(r: StationEventRow) {
  return { id: Number(r.id), stationId: r.station_id, type: r.type, timestamp: r.timestamp, payload: parseJson(r.payload) };
}

// --- component schemas (documentation; responses are checked against them in the tests) -----------

const str = { type: 'string' };
const ts = nullable('string', { format: 'date-time' });
const int = { type: 'integer' };

export const resourceComponents: Record<string, JsonSchema> = {
  Station: {
    type: 'object',
    required: ['id', 'protocol', 'online', 'createdAt', 'updatedAt'],
    properties: {
      id: { ...str, description: 'Charging station identity (last path segment of its OCPP URL).' },
      protocol: nullable('string', { enum: [...PROTOCOLS, null], description: 'Subprotocol of the last connection.' }),
      name: nullable('string'),
      vendor: nullable('string'),
      model: nullable('string'),
      serialNumber: nullable('string'),
      firmwareVersion: nullable('string'),
      iccid: nullable('string'),
      imsi: nullable('string'),
      meterType: nullable('string'),
      meterSerialNumber: nullable('string'),
      registrationStatus: nullable('string', { description: 'Last BootNotification answer (Accepted, Pending, Rejected).' }),
      bootReason: nullable('string'),
      online: { type: 'boolean', description: 'Connected to a CSMS node now.' },
      nodeId: nullable('string', { description: 'CSMS node holding the connection.' }),
      lastBootAt: ts,
      lastSeenAt: ts,
      connectedAt: ts,
      disconnectedAt: ts,
      firmwareStatus: nullable('string'),
      diagnosticsStatus: nullable('string'),
      logStatus: nullable('string'),
      createdAt: { ...str, format: 'date-time' },
      updatedAt: { ...str, format: 'date-time' },
    },
  },
  Connector: {
    type: 'object',
    required: ['evseId', 'connectorId', 'status', 'ocppStatus'],
    properties: {
      evseId: { ...int, description: 'EVSE id (1.6: the connector id; 0 = the whole station).' },
      connectorId: { ...int, description: 'Connector id within the EVSE (1.6: always 1, or 0 for the station).' },
      status: { ...str, enum: ['Available', 'Occupied', 'Reserved', 'Unavailable', 'Faulted'], description: 'Normalized (2.0.1) status.' },
      ocppStatus: { ...str, description: 'The status word the station sent (1.6 ChargePointStatus, 2.0.1 ConnectorStatus).' },
      errorCode: nullable('string'),
      info: nullable('string'),
      vendorErrorCode: nullable('string'),
      statusAt: ts,
      powerType: nullable('string'),
      phases: nullable('integer'),
      maxVoltageV: nullable('number'),
      maxCurrentA: nullable('number'),
    },
  },
  Evse: {
    type: 'object',
    required: ['evseId', 'connectors'],
    properties: {
      evseId: int,
      lastEnergyWh: nullable('number', { description: 'Last energy register reading (Wh).' }),
      lastPowerW: nullable('number'),
      lastSoc: nullable('number'),
      lastMeterAt: ts,
      connectors: { type: 'array', items: ref('Connector') },
    },
  },
  StationDetail: {
    allOf: [ref('Station'), { type: 'object', required: ['evses'], properties: { evses: { type: 'array', items: ref('Evse') } } }],
  },
  Transaction: {
    type: 'object',
    required: ['id', 'stationId', 'evseId', 'protocol', 'ocppTransactionId', 'state', 'startedAt'],
    properties: {
      id: { ...str, format: 'uuid', description: "Ampline's id of the transaction." },
      stationId: str,
      evseId: int,
      connectorId: nullable('integer'),
      protocol: { ...str, enum: [...PROTOCOLS] },
      ocppTransactionId: { ...str, description: 'The transaction id on the wire (1.6: the integer as text; 2.0.1: the station-made id).' },
      transactionNumber: nullable('integer', { description: '1.6 transactionId Ampline assigned.' }),
      state: { ...str, enum: ['active', 'ended'] },
      chargingState: nullable('string'),
      idToken: nullable('string'),
      idTokenType: nullable('string'),
      authStatus: nullable('string'),
      groupId: nullable('string'),
      startedAt: { ...str, format: 'date-time' },
      stoppedAt: ts,
      meterStartWh: nullable('number'),
      meterStopWh: nullable('number'),
      energyWh: nullable('number'),
      powerW: nullable('number'),
      soc: nullable('number'),
      lastMeterAt: ts,
      stopReason: nullable('string'),
      triggerReason: nullable('string'),
      seqNo: nullable('integer'),
      offline: { type: 'boolean' },
      remoteStartId: nullable('integer'),
      reservationId: nullable('integer'),
      chargingNeeds: { description: '2.0.1 NotifyEVChargingNeeds data, when reported.' },
      updatedAt: { ...str, format: 'date-time' },
    },
  },
  MeterValue: {
    type: 'object',
    required: ['id', 'stationId', 'evseId', 'timestamp', 'measurand', 'unit', 'context'],
    properties: {
      id: int,
      stationId: str,
      evseId: int,
      connectorId: nullable('integer'),
      transactionId: nullable('string'),
      timestamp: { ...str, format: 'date-time' },
      measurand: str,
      phase: nullable('string'),
      unit: { ...str, description: 'Unit after applying the multiplier (Wh, W, A, V, Percent, …).' },
      context: str,
      location: nullable('string'),
      value: nullable('number'),
      signed: nullable('string', { description: 'Signed meter data as sent, when present.' }),
    },
  },
  StationEvent: {
    type: 'object',
    required: ['id', 'stationId', 'type', 'timestamp', 'payload'],
    properties: {
      id: int,
      stationId: str,
      type: { ...str, description: 'The notification action (FirmwareStatusNotification, SecurityEventNotification, NotifyEvent, …).' },
      timestamp: { ...str, format: 'date-time' },
      payload: { description: 'The notification as the station sent it (or a summary for large reports).' },
    },
  },
};

// --- routes ---------------------------------------------------------------------------------------

const stationParams = {
  type: 'object',
  required: ['id'],
  additionalProperties: false,
  properties: { id: { type: 'string', minLength: 1, maxLength: 255, description: 'Charging station identity.' } },
};

const timeRange = (what: string) => ({
  from: { type: 'string', format: 'date-time', description: `Only items with ${what} at or after this time.` },
  to: { type: 'string', format: 'date-time', description: `Only items with ${what} before this time.` },
});

/** ISO text in the store's form (UTC, milliseconds) so that text comparison orders correctly. */
const utc = (s: string): string => new Date(s).toISOString();

function applyRange<DB, TB extends keyof DB, O>(
  q: SelectQueryBuilder<DB, TB, O>,
  column: string,
  range: { from?: string; to?: string },
): SelectQueryBuilder<DB, TB, O> {
  let out = q;
  if (range.from) out = out.where(sql<boolean>`${sql.ref(column)} >= ${utc(range.from)}`);
  if (range.to) out = out.where(sql<boolean>`${sql.ref(column)} < ${utc(range.to)}`);
  return out;
}

async function countOf<DB, TB extends keyof DB, O>(q: SelectQueryBuilder<DB, TB, O>): Promise<number> {
  const row = await q.select(sql<number | string>`count(*)`.as('n')).executeTakeFirst();
  return Number((row as { n?: number | string } | undefined)?.n ?? 0);
}

export function resourceRoutes(deps: ResourceDeps): RouteSpec[] {
  const { db } = deps;

  async function topology(id: string) {
    const [evses, connectors] = await Promise.all([
      db.selectFrom('evses').selectAll().where('station_id', '=', id).orderBy('evse_id').execute(),
      db.selectFrom('connectors').selectAll().where('station_id', '=', id).orderBy('evse_id').orderBy('connector_id').execute(),
    ]);
    return { evses, connectors };
  }

  return [
    {
      method: 'GET',
      url: '/api/v1/stations',
      operationId: 'listStations',
      summary: 'List charging stations',
      tag: 'Stations',
      scope: 'read',
      schema: {
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            online: { type: 'boolean', description: 'Only stations connected now (true) or not (false).' },
            protocol: { type: 'string', enum: [...PROTOCOLS] },
            q: { type: 'string', minLength: 1, maxLength: 100, description: 'Case-insensitive substring of id, name, vendor, model or serial number.' },
            ...paginationProps,
          },
        },
      },
      responses: { 200: { description: 'A page of stations, ordered by id.', schema: pageSchema('#/components/schemas/Station'), headers: linkHeaderDoc } },
      async handler(req, reply) {
        const q = req.query as { online?: boolean; protocol?: string; q?: string };
        const page = pageOf(req.query);
        let base = db.selectFrom('stations');
        if (q.online !== undefined) base = base.where('online', '=', q.online ? 1 : 0);
        if (q.protocol) base = base.where('protocol', '=', q.protocol);
        if (q.q) {
          const pattern = likePattern(q.q);
          base = base.where((eb) =>
            eb.or(
              (['id', 'name', 'vendor', 'model', 'serial_number'] as const).map((c) => sql<boolean>`lower(${sql.ref(c)}) like ${pattern} escape '\\'`),
            ),
          );
        }
        const [rows, total] = await Promise.all([base.selectAll().orderBy('id').limit(page.limit).offset(page.offset).execute(), countOf(base)]);
        return sendPage(req, reply, rows.map(stationView), total, page);
      },
    },
    {
      method: 'GET',
      url: '/api/v1/stations/:id',
      operationId: 'getStation',
      summary: 'Get a charging station with its EVSEs and connectors',
      tag: 'Stations',
      scope: 'read',
      schema: { params: stationParams },
      responses: { 200: { description: 'The station.', schema: ref('StationDetail') } },
      errors: [404],
      async handler(req) {
        const station = await stationOr404(db, req);
        const { evses, connectors } = await topology(station.id);
        return { ...stationView(station), evses: evseViews(evses, connectors) };
      },
    },
    {
      method: 'GET',
      url: '/api/v1/stations/:id/evses',
      operationId: 'listStationEvses',
      summary: "List a station's EVSEs with their connectors",
      description: 'EVSE 0 stands for the whole station. OCPP 1.6 connectors are modelled as EVSEs with one connector.',
      tag: 'Stations',
      scope: 'read',
      schema: { params: stationParams },
      responses: { 200: { description: 'All EVSEs (not paginated: a station has few).', schema: { type: 'object', required: ['data'], properties: { data: { type: 'array', items: ref('Evse') } } } } },
      errors: [404],
      async handler(req) {
        const { id } = await stationOr404(db, req);
        const { evses, connectors } = await topology(id);
        return { data: evseViews(evses, connectors) };
      },
    },
    {
      method: 'GET',
      url: '/api/v1/stations/:id/connectors',
      operationId: 'listStationConnectors',
      summary: "List a station's connectors",
      tag: 'Stations',
      scope: 'read',
      schema: { params: stationParams },
      responses: { 200: { description: 'All connectors (not paginated).', schema: { type: 'object', required: ['data'], properties: { data: { type: 'array', items: ref('Connector') } } } } },
      errors: [404],
      async handler(req) {
        const { id } = await stationOr404(db, req);
        const rows = await db.selectFrom('connectors').selectAll().where('station_id', '=', id).orderBy('evse_id').orderBy('connector_id').execute();
        return { data: rows.map(connectorView) };
      },
    },
    {
      method: 'GET',
      url: '/api/v1/stations/:id/events',
      operationId: 'listStationEvents',
      summary: "A station's event log (notifications it sent), newest first",
      tag: 'Stations',
      scope: 'read',
      schema: {
        params: stationParams,
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: { type: { type: 'string', minLength: 1, maxLength: 100, description: 'Only events of this type (e.g. SecurityEventNotification).' }, ...timeRange('a timestamp'), ...paginationProps },
        },
      },
      responses: { 200: { description: 'A page of events.', schema: pageSchema('#/components/schemas/StationEvent'), headers: linkHeaderDoc } },
      errors: [404],
      async handler(req, reply) {
        const { id } = await stationOr404(db, req);
        const q = req.query as { type?: string; from?: string; to?: string };
        const page = pageOf(req.query);
        let base = db.selectFrom('station_events').where('station_id', '=', id);
        if (q.type) base = base.where('type', '=', q.type);
        base = applyRange(base, 'timestamp', q);
        const [rows, total] = await Promise.all([
          base.selectAll().orderBy('timestamp', 'desc').orderBy('id', 'desc').limit(page.limit).offset(page.offset).execute(),
          countOf(base),
        ]);
        return sendPage(req, reply, rows.map(stationEventView), total, page);
      },
    },
    {
      method: 'GET',
      url: '/api/v1/transactions',
      operationId: 'listTransactions',
      summary: 'List transactions, newest first',
      tag: 'Transactions',
      scope: 'read',
      schema: {
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            stationId: { type: 'string', minLength: 1, maxLength: 255 },
            evseId: { type: 'integer', minimum: 0 },
            state: { type: 'string', enum: ['active', 'ended'] },
            idToken: { type: 'string', minLength: 1, maxLength: 255 },
            ...timeRange('startedAt'),
            ...paginationProps,
          },
        },
      },
      responses: { 200: { description: 'A page of transactions.', schema: pageSchema('#/components/schemas/Transaction'), headers: linkHeaderDoc } },
      async handler(req, reply) {
        const q = req.query as { stationId?: string; evseId?: number; state?: string; idToken?: string; from?: string; to?: string };
        const page = pageOf(req.query);
        let base = db.selectFrom('transactions');
        if (q.stationId) base = base.where('station_id', '=', q.stationId);
        if (q.evseId !== undefined) base = base.where('evse_id', '=', q.evseId);
        if (q.state) base = base.where('state', '=', q.state);
        if (q.idToken) base = base.where('id_token', '=', q.idToken);
        base = applyRange(base, 'started_at', q);
        const [rows, total] = await Promise.all([
          base.selectAll().orderBy('started_at', 'desc').orderBy('id').limit(page.limit).offset(page.offset).execute(),
          countOf(base),
        ]);
        return sendPage(req, reply, rows.map(transactionView), total, page);
      },
    },
    {
      method: 'GET',
      url: '/api/v1/transactions/:id',
      operationId: 'getTransaction',
      summary: 'Get a transaction by its Ampline id',
      tag: 'Transactions',
      scope: 'read',
      schema: { params: { type: 'object', required: ['id'], additionalProperties: false, properties: { id: { type: 'string', minLength: 1, maxLength: 64 } } } },
      responses: { 200: { description: 'The transaction.', schema: ref('Transaction') } },
      errors: [404],
      async handler(req) {
        const { id } = req.params as { id: string };
        const row = await db.selectFrom('transactions').selectAll().where('id', '=', id).executeTakeFirst();
        if (!row) throw new ApiError('UnknownTransaction', `Unknown transaction '${id}'`);
        return transactionView(row);
      },
    },
    {
      method: 'GET',
      url: '/api/v1/transactions/:id/meter-values',
      operationId: 'listTransactionMeterValues',
      summary: "A transaction's meter values, oldest first",
      description: 'One item per sampled value (the multiplier applied, the unit normalized).',
      tag: 'Transactions',
      scope: 'read',
      schema: {
        params: { type: 'object', required: ['id'], additionalProperties: false, properties: { id: { type: 'string', minLength: 1, maxLength: 64 } } },
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            measurand: { type: 'string', minLength: 1, maxLength: 100, description: 'e.g. Energy.Active.Import.Register, Power.Active.Import, SoC.' },
            ...timeRange('a timestamp'),
            ...paginationProps,
          },
        },
      },
      responses: { 200: { description: 'A page of meter values.', schema: pageSchema('#/components/schemas/MeterValue'), headers: linkHeaderDoc } },
      errors: [404],
      async handler(req, reply) {
        const { id } = req.params as { id: string };
        const q = req.query as { measurand?: string; from?: string; to?: string };
        const page = pageOf(req.query);
        const tx = await db.selectFrom('transactions').select('id').where('id', '=', id).executeTakeFirst();
        if (!tx) throw new ApiError('UnknownTransaction', `Unknown transaction '${id}'`);
        let base = db.selectFrom('meter_values').where('transaction_id', '=', id);
        if (q.measurand) base = base.where('measurand', '=', q.measurand);
        base = applyRange(base, 'timestamp', q);
        const [rows, total] = await Promise.all([
          base.selectAll().orderBy('timestamp').orderBy('id').limit(page.limit).offset(page.offset).execute(),
          countOf(base),
        ]);
        return sendPage(req, reply, rows.map(meterValueView), total, page);
      },
    },
  ];
}
