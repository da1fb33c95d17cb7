/**
 * One error catalogue for the REST APIs: stable codes, each with its HTTP status, and the mapping from
 * domain/transport errors. Bodies are always JSON: {"error": CODE, "message": "..."} (+ details).
 */
import type { FastifyReply } from 'fastify';
import { CallTimeoutError, ChargerCallError, StationOfflineError } from '../ocpp/errors.js';
import { InvalidResponseError, OutboundValidationError } from '../ocpp/transport.js';
import { UnknownStationError } from '../services/commands.js';
import { NotSupportedByProtocolError, ProfileRejectedError } from '../services/smart-charging.js';

export const API_ERRORS = {
  Unauthorized: 401,
  Forbidden: 403,
  BadRequest: 400,
  InvalidLimit: 400,
  InvalidConnector: 400,
  MissingParameter: 400,
  UnknownCommand: 404,
  UnknownStation: 404,
  UnknownConnector: 404,
  NotFound: 404,
  UnknownTransaction: 404,
  UnknownIdToken: 404,
  UnknownChargingProfile: 404,
  StationOffline: 409,
  AlreadyExists: 409,
  NoOpenTransaction: 424,
  ProfileRejected: 422,
  NotSupportedByProtocol: 409,
  InvalidOcppRequest: 400,
  ChargerCallError: 502,
  ChargerInvalidResponse: 502,
  Timeout: 504,
  UnsupportedMediaType: 415,
  PayloadTooLarge: 413,
  Internal: 500,
  // SCSP partners and pairing (src/api/v1/scsp.ts)
  UnknownPartner: 404,
  NotPaired: 404,
  IncorrectPairingCode: 404,
  PairingConflict: 409,
  PartnerDisabled: 409,
  PartnerInUse: 409,
  NoEvsesKnown: 409,
  PayloadProtocolMismatch: 409,
  ScspUnavailable: 502,
  // SCSP event forwarding (src/api/v1/outbox.ts)
  OutboxEntryNotDead: 409,
  // OCPI partners (src/api/v1/ocpi.ts)
  UnknownOcpiPartner: 404,
  OcpiPartnerState: 409,
  OcpiRegistrationFailed: 502,
} as const;

export type ApiErrorCode = keyof typeof API_ERRORS;

export class ApiError extends Error {
  constructor(
    readonly code: ApiErrorCode,
    message: string,
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = 'ApiError';
  }
  get status(): number {
    return API_ERRORS[this.code];
  }
}

/** Map any error from the command path to an ApiError (unknown errors become Internal, without internals). */
export function toApiError(err: unknown): ApiError {
  if (err instanceof ApiError) return err;
  if (err instanceof UnknownStationError) return new ApiError('UnknownStation', `Unknown charging station '${err.stationId}'`);
  if (err instanceof StationOfflineError) return new ApiError('StationOffline', `Charging station '${err.stationId}' is not connected`);
  if (err instanceof ChargerCallError) {
    return new ApiError('ChargerCallError', `The charging station answered with a CALLERROR: ${err.code}`, {
      errorCode: err.code,
      errorDescription: err.description,
    });
  }
  if (err instanceof InvalidResponseError) return new ApiError('ChargerInvalidResponse', err.message);
  if (err instanceof OutboundValidationError) return new ApiError('InvalidOcppRequest', err.message);
  if (err instanceof CallTimeoutError) return new ApiError('Timeout', `The charging station did not answer in time (${err.phase})`);
  if (err instanceof ProfileRejectedError) {
    const list = err.violations.map((v) => `${v.code} (${v.requirement}) at ${v.path}: ${v.detail}`).join('; ');
    return new ApiError('ProfileRejected', `Refused before anything was sent to '${err.stationId}': ${list}`, {
      violations: err.violations.map((v) => ({ code: v.code, requirement: v.requirement, path: v.path, detail: v.detail })),
    });
  }
  if (err instanceof NotSupportedByProtocolError) {
    return new ApiError('NotSupportedByProtocol', `${err.operation} does not exist in OCPP ${err.protocol.slice(4)}; '${err.stationId}' speaks ${err.protocol}`, {
      protocol: err.protocol,
      operation: err.operation,
    });
  }
  return new ApiError('Internal', 'Internal error');
}

export function sendApiError(reply: FastifyReply, err: ApiError): FastifyReply {
  return reply.code(err.status).send({ error: err.code, message: err.message, ...err.details });
}

export { CallTimeoutError };

/** Fastify-level failures (malformed JSON, wrong media type, oversized body, unknown route) in the same shape. */
export function installErrorHandlers(http: import('fastify').FastifyInstance): void {
  http.setErrorHandler((err: { statusCode?: number; message?: string } & Error, req, reply) => {
    if (err instanceof ApiError) return sendApiError(reply, err);
    const status = err.statusCode ?? 500;
    if (status === 415) return sendApiError(reply, new ApiError('UnsupportedMediaType', err.message));
    if (status === 413) return sendApiError(reply, new ApiError('PayloadTooLarge', err.message));
    if (status >= 400 && status < 500) return sendApiError(reply, new ApiError('BadRequest', err.message || 'Bad request'));
    req.log.error({ err }, 'request failed');
    return sendApiError(reply, new ApiError('Internal', 'Internal error'));
  });
  http.setNotFoundHandler((req, reply) => sendApiError(reply, new ApiError('NotFound', `No route ${req.method} ${req.url.split('?')[0]}`)));
}
