/**
 * The OCPI response envelope and status codes (status_codes.asciidoc, transport_and_format.asciidoc
 * §Response format), and the one catalogue that maps every OCPI failure to its HTTP status and
 * `status_code`.
 *
 * HTTP rules (2.2.1 + the 2.2.1 bug-fix errata, protocols.md §2.1):
 * - a body that is not JSON → 400;
 * - a missing or unknown credentials token → 401; a CREDENTIALS_TOKEN_A on any module but `versions`
 *   and `credentials` → 401;
 * - GET of a resource that does not exist → 404 (also any unknown path under /ocpi);
 * - credentials POST when already registered, PUT/DELETE when not registered → 405;
 * - otherwise an authenticated, syntactically valid request to an existing resource gets **no HTTP
 *   error**: 200 (or 201 for a created pushed object) with the OCPI `status_code` saying what happened
 *   (2001, 3001, 3002, 3003 …).
 * Every answer, errors included, carries the envelope `{data?, status_code, status_message?, timestamp}`.
 */
import { formatDateTime } from './datetime.js';

export const OcpiStatus = {
  /** 1000 Generic success. */
  Success: 1000,
  /** 2000 Generic client error. */
  ClientError: 2000,
  /** 2001 Invalid or missing parameters (also: object id ≠ URL id, PATCH without `last_updated`). */
  InvalidParameters: 2001,
  /** 2002 Not enough information. */
  NotEnoughInformation: 2002,
  /** 2003 Unknown Location. */
  UnknownLocation: 2003,
  /** 2004 Unknown Token. */
  UnknownToken: 2004,
  /** 3000 Generic server error. */
  ServerError: 3000,
  /** 3001 Unable to use the client's API (e.g. the GETs back during a credentials POST failed). */
  UnableToUseClientApi: 3001,
  /** 3002 Unsupported version. */
  UnsupportedVersion: 3002,
  /** 3003 No matching endpoints or expected endpoints missing between parties. */
  NoMatchingEndpoints: 3003,
  /** 4000 Generic hub error. */
  HubError: 4000,
  /** 4001 Unknown receiver (TO address unknown). */
  HubUnknownReceiver: 4001,
  /** 4002 Timeout on forwarded request. */
  HubTimeout: 4002,
  /** 4003 Connection problem (receiving party not connected). */
  HubConnectionProblem: 4003,
} as const;

export type OcpiStatusCode = (typeof OcpiStatus)[keyof typeof OcpiStatus];

export type StatusClass = 'success' | 'client-error' | 'server-error' | 'hub-error' | 'unknown';

/** 1xxx success, 2xxx client errors, 3xxx server errors, 4xxx hub errors (x9xx: custom in each range). */
export function statusClass(code: number): StatusClass {
  if (!Number.isInteger(code)) return 'unknown';
  if (code >= 1000 && code < 2000) return 'success';
  if (code >= 2000 && code < 3000) return 'client-error';
  if (code >= 3000 && code < 4000) return 'server-error';
  if (code >= 4000 && code < 5000) return 'hub-error';
  return 'unknown';
}

export const isSuccess = (code: number | undefined): boolean => code !== undefined && statusClass(code) === 'success';

/** The response format. `data` is left out when the spec defines none (errors, Session pushes, results). */
export interface OcpiEnvelope<T = unknown> {
  data?: T;
  status_code: number;
  status_message?: string;
  timestamp: string;
}

export function envelope<T>(now: Date, statusCode: number, opts: { data?: T; message?: string } = {}): OcpiEnvelope<T> {
  return {
    ...(opts.data !== undefined ? { data: opts.data } : {}),
    status_code: statusCode,
    ...(opts.message !== undefined ? { status_message: opts.message } : {}),
    timestamp: formatDateTime(now),
  };
}

/** Is this parsed body an OCPI envelope? Lenient: `timestamp` may be missing or malformed. */
export function isEnvelope(body: unknown): body is OcpiEnvelope {
  return typeof body === 'object' && body !== null && !Array.isArray(body) && Number.isInteger((body as { status_code?: unknown }).status_code);
}

/**
 * The catalogue of failures that have a fixed HTTP status (transport and configuration-module rules).
 * Everything else is an OCPI-layer outcome answered with HTTP 200 and its own status code.
 */
export const OCPI_TRANSPORT_ERRORS = {
  /** No or malformed `Authorization: Token …` header, or a token no party has. */
  Unauthorized: { http: 401, statusCode: OcpiStatus.ClientError },
  /** A CREDENTIALS_TOKEN_A on a functional module. */
  TokenANotAllowed: { http: 401, statusCode: OcpiStatus.ClientError },
  /** The body is not JSON. */
  InvalidJson: { http: 400, statusCode: OcpiStatus.ClientError },
  /** The body is larger than the server takes. */
  PayloadTooLarge: { http: 413, statusCode: OcpiStatus.ClientError },
  /** Unknown path under /ocpi, or GET of an object that does not exist. */
  NotFound: { http: 404, statusCode: OcpiStatus.ClientError },
  /** Credentials POST when registered; PUT/DELETE when not registered. */
  MethodNotAllowed: { http: 405, statusCode: OcpiStatus.ClientError },
  /** Anything unexpected on our side. */
  Internal: { http: 500, statusCode: OcpiStatus.ServerError },
} as const;

export type OcpiTransportError = keyof typeof OCPI_TRANSPORT_ERRORS;

/**
 * An OCPI failure a handler throws. The plugin turns it into the envelope with `statusCode` and the
 * HTTP status: by default 200 (the request reached the OCPI layer), or `httpStatus` where the spec asks
 * for one (e.g. 404 + 2001 for charging preferences on an EVSE that cannot take them).
 */
export class OcpiError extends Error {
  readonly statusCode: number;
  readonly httpStatus: number;
  readonly data: unknown;
  constructor(statusCode: number, message: string, opts: { httpStatus?: number; data?: unknown } = {}) {
    super(message);
    this.name = 'OcpiError';
    this.statusCode = statusCode;
    this.httpStatus = opts.httpStatus ?? 200;
    this.data = opts.data;
  }

  /** One of the catalogued transport failures (401, 404, 405 …). */
  static transport(kind: OcpiTransportError, message: string): OcpiError {
    const e = OCPI_TRANSPORT_ERRORS[kind];
    return new OcpiError(e.statusCode, message, { httpStatus: e.http });
  }

  static invalid(message: string): OcpiError {
    return new OcpiError(OcpiStatus.InvalidParameters, message);
  }
}
