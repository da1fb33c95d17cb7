/**
 * Version-neutral commands for /api/v1: the caller speaks the domain (EVSE ids, tokens, on/off) and
 * Ampline picks the action and payload of the station's version. Where `CommandService` already has
 * the mapping (reset, unlock, remote start) it is used; the rest is the small per-version mapping here.
 *
 * Each command is *planned* before anything is sent: everything that can be refused (no open
 * transaction, a trigger the version lacks) is refused synchronously, then the plan runs either while
 * the HTTP request waits or in the background for a callback.
 */
import type { Kysely } from 'kysely';
import type { Database } from '../../store/schema.js';
import type { CommandOptions, CommandService } from '../../services/commands.js';
import { ProfileRejectedError, type SmartChargingService } from '../../services/smart-charging.js';
import type { OcppProtocol } from '../../ocpp/protocol.js';
import { ApiError } from '../errors.js';
import { definitionEnum, requestEnum } from './actions.js';
import { REMOTE_START_PROFILE_INPUT, profileFromJson, type ProfileJson } from './charging-profiles.js';
import type { JsonSchema } from './http.js';

export interface PlannedCommand {
  /** The OCPP action that goes out (in the station's version). */
  action: string;
  run(opts: CommandOptions): Promise<Record<string, unknown>>;
}

export interface NeutralDeps {
  db: Kysely<Database>;
  commands: CommandService;
  smart: SmartChargingService;
}

interface NeutralContext extends NeutralDeps {
  stationId: string;
  protocol: OcppProtocol;
}

export interface NeutralCommand {
  name: string;
  summary: string;
  description: string;
  /** Properties of the body besides the common `timeoutS`/`callbackUrl`. */
  properties: Record<string, JsonSchema>;
  required?: string[];
  /** The action per version, for the documentation. */
  actions: Record<OcppProtocol, string>;
  /** Error statuses besides the common command errors (documentation). */
  errors?: number[];
  plan(ctx: NeutralContext, body: Record<string, unknown>): Promise<PlannedCommand>;
}

// --- TriggerMessage: names from the OCA enums of both versions --------------------------------------

const TRIGGER16 = requestEnum('ocpp1.6', 'TriggerMessage', 'requestedMessage');
const EXTENDED_TRIGGER16 = requestEnum('ocpp1.6', 'ExtendedTriggerMessage', 'requestedMessage');
const TRIGGER201 = definitionEnum('ocpp2.0.1', 'TriggerMessage', 'MessageTriggerEnumType');
/** The same message under its 1.6 security-extension and 2.0.1 names. */
const TRIGGER_ALIASES: Record<OcppProtocol, Record<string, string>> = {
  'ocpp1.6': { SignChargingStationCertificate: 'SignChargePointCertificate' },
  'ocpp2.0.1': { SignChargePointCertificate: 'SignChargingStationCertificate' },
};
export const TRIGGER_MESSAGES: readonly string[] = [...new Set([...TRIGGER201, ...TRIGGER16, ...EXTENDED_TRIGGER16])].sort();

const evseId = (min: number, description: string): JsonSchema => ({ type: 'integer', minimum: min, maximum: 10_000, description });

export const NEUTRAL_COMMANDS: readonly NeutralCommand[] = [
  {
    name: 'remote-start',
    summary: 'Start a transaction remotely',
    description:
      '1.6 RemoteStartTransaction `{connectorId, idTag}`; 2.0.1 RequestStartTransaction `{evseId, idToken: {idToken, type: ISO14443}, remoteStartId}`. ' +
      'Without `evseId` the station chooses. The station authorizes the token itself (AuthorizeRemoteTxRequests).\n\n' +
      'With `chargingProfile` (a TxProfile without transactionId, in the model of POST /api/v1/stations/{id}/charging-profiles; `evseId` ' +
      'required) the profile is checked first (422 ProfileRejected with `violations`, nothing sent), travels inside the remote start, ' +
      'and is recorded as installed for the transaction that starts (source `remote-start`).',
    properties: {
      evseId: evseId(1, 'EVSE (1.6: connector) to start on.'),
      idTag: { type: 'string', minLength: 1, maxLength: 36, description: '1.6 allows at most 20 characters.' },
      chargingProfile: { ...REMOTE_START_PROFILE_INPUT, description: 'A TxProfile for the transaction to start (1.6 TC_059, 2.0.1 K05).' },
    },
    required: ['idTag'],
    actions: { 'ocpp1.6': 'RemoteStartTransaction', 'ocpp2.0.1': 'RequestStartTransaction' },
    errors: [422],
    async plan(ctx, body) {
      const idTag = body.idTag as string;
      const evse = body.evseId as number | undefined;
      const action = ctx.protocol === 'ocpp1.6' ? 'RemoteStartTransaction' : 'RequestStartTransaction';
      const json = body.chargingProfile as ProfileJson | undefined;
      if (json !== undefined) {
        if (evse === undefined) throw new ApiError('BadRequest', 'body: evseId is required with chargingProfile');
        if (json.evseId !== undefined && json.evseId !== evse) {
          throw new ApiError('BadRequest', `body/chargingProfile/evseId: ${json.evseId} is not the command's evseId ${evse}`);
        }
        const profile = profileFromJson(json, evse, 'body/chargingProfile');
        // Refuse before anything is sent (also with callbackUrl, where the send happens after the 202).
        const { violations } = await ctx.smart.check(ctx.stationId, profile, 'RemoteStart');
        if (violations.length > 0) throw new ProfileRejectedError(ctx.stationId, violations);
        return { action, run: async (o) => ({ ...(await ctx.smart.remoteStartWithProfile(ctx.stationId, evse, idTag, profile, o)) }) };
      }
      if (evse === undefined && ctx.protocol === 'ocpp1.6') {
        return { action, run: (o) => ctx.commands.send(ctx.stationId, action, { idTag }, o) };
      }
      return { action, run: (o) => ctx.commands.remoteStart(ctx.stationId, evse ?? 0, idTag, o) };
    },
  },
  {
    name: 'remote-stop',
    summary: 'Stop a transaction remotely',
    description:
      'Give either `transactionId` (Ampline\'s transaction id, as in /api/v1/transactions) or `evseId` (the latest active transaction on it). ' +
      '1.6 RemoteStopTransaction `{transactionId: <number>}`; 2.0.1 RequestStopTransaction `{transactionId: <station id>}`. 424 when the transaction is not active.',
    properties: {
      evseId: evseId(0, 'Stop the latest active transaction on this EVSE.'),
      transactionId: { type: 'string', minLength: 1, maxLength: 64, description: "Ampline's transaction id." },
    },
    actions: { 'ocpp1.6': 'RemoteStopTransaction', 'ocpp2.0.1': 'RequestStopTransaction' },
    async plan(ctx, body) {
      const byEvse = body.evseId as number | undefined;
      const byId = body.transactionId as string | undefined;
      if ((byEvse === undefined) === (byId === undefined)) throw new ApiError('BadRequest', 'body: give exactly one of evseId and transactionId');
      let q = ctx.db.selectFrom('transactions').select(['id', 'ocpp_tx_id', 'tx_number', 'state', 'station_id', 'evse_id']);
      q = byId !== undefined ? q.where('id', '=', byId) : q.where('station_id', '=', ctx.stationId).where('evse_id', '=', byEvse!).where('state', '=', 'active');
      const tx = await q.orderBy('started_at', 'desc').executeTakeFirst();
      if (byId !== undefined && (!tx || tx.station_id !== ctx.stationId)) {
        throw new ApiError('UnknownTransaction', `Charging station '${ctx.stationId}' has no transaction '${byId}'`);
      }
      if (!tx || tx.state !== 'active') {
        throw new ApiError('NoOpenTransaction', byId !== undefined ? `Transaction '${byId}' is not active` : `No active transaction on ${ctx.stationId} EVSE ${byEvse}`);
      }
      const action = ctx.protocol === 'ocpp1.6' ? 'RemoteStopTransaction' : 'RequestStopTransaction';
      return { action, run: (o) => ctx.commands.stopTransaction(ctx.stationId, ctx.protocol, tx, o) };
    },
  },
  {
    name: 'reset',
    summary: 'Reset the station',
    description: '`soft`: 1.6 Soft, 2.0.1 OnIdle (after transactions end). `hard`: 1.6 Hard, 2.0.1 Immediate.',
    properties: { type: { type: 'string', enum: ['soft', 'hard'], default: 'soft' } },
    actions: { 'ocpp1.6': 'Reset', 'ocpp2.0.1': 'Reset' },
    async plan(ctx, body) {
      const kind = body.type === 'hard' ? 'hard' : 'soft';
      return { action: 'Reset', run: (o) => ctx.commands.reset(ctx.stationId, kind, o) };
    },
  },
  {
    name: 'unlock',
    summary: 'Unlock a connector',
    description: '1.6 UnlockConnector `{connectorId: evseId}`; 2.0.1 `{evseId, connectorId}` (default: the EVSE\'s first connector).',
    properties: { evseId: evseId(1, 'EVSE (1.6: connector).'), connectorId: { type: 'integer', minimum: 1, maximum: 100, description: '2.0.1 only.' } },
    required: ['evseId'],
    actions: { 'ocpp1.6': 'UnlockConnector', 'ocpp2.0.1': 'UnlockConnector' },
    async plan(ctx, body) {
      const evse = body.evseId as number;
      const connector = body.connectorId as number | undefined;
      return { action: 'UnlockConnector', run: (o) => ctx.commands.unlock(ctx.stationId, evse, connector, o) };
    },
  },
  {
    name: 'change-availability',
    summary: 'Make an EVSE (or the whole station, evseId 0) operative or inoperative',
    description: '1.6 ChangeAvailability `{connectorId, type: Operative|Inoperative}`; 2.0.1 `{operationalStatus, evse?: {id}}` (no evse for 0).',
    properties: { evseId: evseId(0, '0 = the whole station.'), operative: { type: 'boolean' } },
    required: ['evseId', 'operative'],
    actions: { 'ocpp1.6': 'ChangeAvailability', 'ocpp2.0.1': 'ChangeAvailability' },
    async plan(ctx, body) {
      const evse = body.evseId as number;
      const status = body.operative ? 'Operative' : 'Inoperative';
      const payload =
        ctx.protocol === 'ocpp1.6' ? { connectorId: evse, type: status } : { operationalStatus: status, ...(evse > 0 ? { evse: { id: evse } } : {}) };
      return { action: 'ChangeAvailability', run: (o) => ctx.commands.send(ctx.stationId, 'ChangeAvailability', payload, o) };
    },
  },
  {
    name: 'trigger-message',
    summary: 'Ask the station to send a message now',
    description:
      '1.6 TriggerMessage (or ExtendedTriggerMessage for LogStatusNotification and SignChargePointCertificate); 2.0.1 TriggerMessage. ' +
      'SignChargePointCertificate and SignChargingStationCertificate are the same message. A message the version lacks is a 400.',
    properties: { message: { type: 'string', enum: [...TRIGGER_MESSAGES] }, evseId: evseId(0, '1.6 connectorId / 2.0.1 evse.id.') },
    required: ['message'],
    actions: { 'ocpp1.6': 'TriggerMessage', 'ocpp2.0.1': 'TriggerMessage' },
    async plan(ctx, body) {
      const wanted = body.message as string;
      const message = TRIGGER_ALIASES[ctx.protocol][wanted] ?? wanted;
      const evse = body.evseId as number | undefined;
      let action: string;
      let payload: Record<string, unknown>;
      if (ctx.protocol === 'ocpp1.6') {
        action = TRIGGER16.includes(message) ? 'TriggerMessage' : EXTENDED_TRIGGER16.includes(message) ? 'ExtendedTriggerMessage' : '';
        payload = { requestedMessage: message, ...(evse !== undefined ? { connectorId: evse } : {}) };
      } else {
        action = TRIGGER201.includes(message) ? 'TriggerMessage' : '';
        payload = { requestedMessage: message, ...(evse !== undefined ? { evse: { id: evse } } : {}) };
      }
      if (!action) throw new ApiError('InvalidOcppRequest', `OCPP ${ctx.protocol.slice(4)} cannot trigger '${wanted}'`);
      return { action, run: (o) => ctx.commands.send(ctx.stationId, action, payload, o) };
    },
  },
  {
    name: 'clear-cache',
    summary: "Clear the station's authorization cache",
    description: 'ClearCache in both versions.',
    properties: {},
    actions: { 'ocpp1.6': 'ClearCache', 'ocpp2.0.1': 'ClearCache' },
    async plan(ctx) {
      return { action: 'ClearCache', run: (o) => ctx.commands.send(ctx.stationId, 'ClearCache', {}, o) };
    },
  },
  {
    name: 'data-transfer',
    summary: 'Send a vendor-specific DataTransfer',
    description: '1.6 carries `data` as a string: other JSON values are sent JSON-encoded. 2.0.1 carries any JSON value.',
    properties: {
      vendorId: { type: 'string', minLength: 1, maxLength: 255 },
      messageId: { type: 'string', minLength: 1, maxLength: 50 },
      data: { description: 'Any JSON value.' },
    },
    required: ['vendorId'],
    actions: { 'ocpp1.6': 'DataTransfer', 'ocpp2.0.1': 'DataTransfer' },
    async plan(ctx, body) {
      const payload: Record<string, unknown> = { vendorId: body.vendorId };
      if (body.messageId !== undefined) payload.messageId = body.messageId;
      if (body.data !== undefined) payload.data = ctx.protocol === 'ocpp1.6' && typeof body.data !== 'string' ? JSON.stringify(body.data) : body.data;
      return { action: 'DataTransfer', run: (o) => ctx.commands.send(ctx.stationId, 'DataTransfer', payload, o) };
    },
  },
];
