/**
 * OCPP-J CALLERROR codes per negotiated subprotocol, in one table.
 *
 * OCPP 1.6J §4.2.3 (with the 1.6J errata v1.0 §5 spelling fixes) and OCPP 2.0.1 Part 4 §4.3 use different
 * names for the same thing; libraries mix them. Everything Ampline sends goes through `errorCodeFor`.
 */
import type { OcppProtocol } from './protocol.js';

/** Version-neutral error kinds used inside Ampline. */
export type OcppErrorKind =
  | 'NotImplemented'
  | 'NotSupported'
  | 'InternalError'
  | 'ProtocolError'
  | 'SecurityError'
  | 'FormatViolation'
  | 'PropertyConstraintViolation'
  | 'OccurrenceConstraintViolation'
  | 'TypeConstraintViolation'
  | 'GenericError'
  | 'RpcFrameworkError'
  | 'MessageTypeNotSupported';

const TABLE: Record<OcppProtocol, Record<OcppErrorKind, string>> = {
  'ocpp1.6': {
    NotImplemented: 'NotImplemented',
    NotSupported: 'NotSupported',
    InternalError: 'InternalError',
    ProtocolError: 'ProtocolError',
    SecurityError: 'SecurityError',
    FormatViolation: 'FormationViolation',
    PropertyConstraintViolation: 'PropertyConstraintViolation',
    OccurrenceConstraintViolation: 'OccurrenceConstraintViolation',
    TypeConstraintViolation: 'TypeConstraintViolation',
    GenericError: 'GenericError',
    // 1.6 has no framework-level codes: an unparseable frame does not conform to the PDU structure.
    RpcFrameworkError: 'FormationViolation',
    MessageTypeNotSupported: 'FormationViolation',
  },
  'ocpp2.0.1': {
    NotImplemented: 'NotImplemented',
    NotSupported: 'NotSupported',
    InternalError: 'InternalError',
    ProtocolError: 'ProtocolError',
    SecurityError: 'SecurityError',
    FormatViolation: 'FormatViolation',
    PropertyConstraintViolation: 'PropertyConstraintViolation',
    OccurrenceConstraintViolation: 'OccurrenceConstraintViolation',
    TypeConstraintViolation: 'TypeConstraintViolation',
    GenericError: 'GenericError',
    RpcFrameworkError: 'RpcFrameworkError',
    MessageTypeNotSupported: 'MessageTypeNotSupported',
  },
};

/** Aliases seen on the wire (other libraries, other versions, misspellings) → the neutral kind. */
const ALIASES: Record<string, OcppErrorKind> = {
  FormationViolation: 'FormatViolation',
  FormatViolation: 'FormatViolation',
  OccurenceConstraintViolation: 'OccurrenceConstraintViolation',
  OccurrenceConstraintViolation: 'OccurrenceConstraintViolation',
};

export function errorKindOf(code: string): OcppErrorKind {
  // Own keys only: `in` would also match inherited names ('toString', 'constructor') and yield no code.
  if (Object.hasOwn(ALIASES, code)) return ALIASES[code]!;
  if (Object.hasOwn(TABLE['ocpp2.0.1'], code)) return code as OcppErrorKind;
  return 'GenericError';
}

/** The code to put on the wire for `kindOrCode` under `protocol`. */
export function errorCodeFor(protocol: OcppProtocol, kindOrCode: string): string {
  return TABLE[protocol][errorKindOf(kindOrCode)];
}

/**
 * JSON-schema keyword → error kind, by the definitions in OCPP 2.0.1 Part 4 §4.3:
 * type → TypeConstraint; cardinality (required, min/maxItems) → OccurrenceConstraint; a field with an
 * invalid value (enum, pattern, lengths, ranges, format) → PropertyConstraint; a payload that does not
 * have the PDU's structure (unknown property, not an object) → FormatViolation.
 */
export function errorKindForSchemaKeyword(keyword: string): OcppErrorKind {
  switch (keyword) {
    case 'type':
      return 'TypeConstraintViolation';
    case 'required':
    case 'minItems':
    case 'maxItems':
    case 'minProperties':
    case 'maxProperties':
    case 'additionalItems':
      return 'OccurrenceConstraintViolation';
    case 'enum':
    case 'const':
    case 'pattern':
    case 'format':
    case 'maxLength':
    case 'minLength':
    case 'minimum':
    case 'maximum':
    case 'exclusiveMinimum':
    case 'exclusiveMaximum':
    case 'multipleOf':
      return 'PropertyConstraintViolation';
    default:
      return 'FormatViolation';
  }
}

/** An error a handler (or the pipeline) throws to answer with a specific CALLERROR. */
export class OcppCallError extends Error {
  constructor(
    readonly kind: OcppErrorKind,
    message: string,
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = 'OcppCallError';
  }
}

/** A CALLERROR received from a charger in answer to one of our CALLs. */
export class ChargerCallError extends Error {
  constructor(
    readonly code: string,
    readonly description: string,
    readonly details: unknown,
  ) {
    super(`charger answered CALLERROR ${code}${description ? `: ${description}` : ''}`);
    this.name = 'ChargerCallError';
  }
}

/** Our CALL got no answer in time (queued too long or in flight too long). */
export class CallTimeoutError extends Error {
  constructor(readonly phase: 'queued' | 'in-flight', ms: number) {
    super(`no answer from charger within ${ms} ms (${phase})`);
    this.name = 'CallTimeoutError';
  }
}

/** The station is not connected (or the connection dropped while we waited). */
export class StationOfflineError extends Error {
  constructor(readonly stationId: string) {
    super(`station ${stationId} is not connected`);
    this.name = 'StationOfflineError';
  }
}
