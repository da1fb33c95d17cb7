/**
 * Schema validation of CSMS requests, as a real charger does before acting on them, and the one table
 * mapping a schema failure to the OCPP-J CALLERROR code of the negotiated version.
 *
 * Schemas: typed-ocpp's JSON schemas (OCA-derived; the same objects as `OCPP16.schemas` / `OCPP20.schemas`). Validators compile lazily, once per process, and are
 * shared by every simulated station.
 */
import AjvModule from 'ajv';
import type { ErrorObject, ValidateFunction } from 'ajv';
import formatsModule from 'ajv-formats';
// The schema modules alone: importing typed-ocpp's index compiles every validator of three OCPP
// versions at load time (≈ 6 s), which a fleet process or a test file should not pay for.
import * as schemas16 from 'typed-ocpp/dist/ocpp16/schemas.js';
import * as schemas201 from 'typed-ocpp/dist/ocpp20/schemas.js';
import type { OcppProtocol } from '../ocpp/protocol.js';

const Ajv = AjvModule.default;
const addFormats = formatsModule.default;

/** Version-neutral error classes from the OCPP-J RPC framework (1.6J §4.2.3, 2.0.1 Part 4 §4.3). */
export type SchemaErrorClass =
  | 'FormatViolation'
  | 'PropertyConstraintViolation'
  | 'OccurrenceConstraintViolation'
  | 'TypeConstraintViolation';

/**
 * Ajv keyword → error class. FormatViolation: the payload is not the PDU (unknown field);
 * PropertyConstraint: a value is out of range/enum/length; OccurrenceConstraint: a field is missing or
 * repeated too often; TypeConstraint: wrong JSON type.
 */
export const KEYWORD_ERROR: Readonly<Record<string, SchemaErrorClass>> = {
  type: 'TypeConstraintViolation',
  required: 'OccurrenceConstraintViolation',
  minItems: 'OccurrenceConstraintViolation',
  maxItems: 'OccurrenceConstraintViolation',
  additionalProperties: 'FormatViolation',
  additionalItems: 'FormatViolation',
  enum: 'PropertyConstraintViolation',
  const: 'PropertyConstraintViolation',
  pattern: 'PropertyConstraintViolation',
  format: 'PropertyConstraintViolation',
  minimum: 'PropertyConstraintViolation',
  maximum: 'PropertyConstraintViolation',
  exclusiveMinimum: 'PropertyConstraintViolation',
  exclusiveMaximum: 'PropertyConstraintViolation',
  minLength: 'PropertyConstraintViolation',
  maxLength: 'PropertyConstraintViolation',
  multipleOf: 'PropertyConstraintViolation',
};

/**
 * The wire spelling per version: 1.6J calls FormatViolation "FormationViolation"; the 1.6J errata (§5)
 * corrects "OccurenceConstraintViolation" to "OccurrenceConstraintViolation", which 2.0.1 also uses.
 */
export function errorCodeFor(protocol: OcppProtocol, cls: SchemaErrorClass): string {
  if (protocol === 'ocpp1.6' && cls === 'FormatViolation') return 'FormationViolation';
  return cls;
}

export function classify(errors: readonly ErrorObject[] | null | undefined): SchemaErrorClass {
  const first = errors?.[0];
  return (first && KEYWORD_ERROR[first.keyword]) || 'FormatViolation';
}

let ajv: InstanceType<typeof Ajv> | undefined;
const compiled = new Map<string, ValidateFunction | null>();

function schemaTable(protocol: OcppProtocol): Record<string, object | undefined> {
  // typed-ocpp declares its schema constants as `any`; they are plain JSON-schema objects.
  return (protocol === 'ocpp1.6' ? schemas16 : schemas201) as unknown as Record<string, object | undefined>;
}

/** The validator for `${action}Request` / `${action}Response`, or null when the schema is unknown. */
export function validatorFor(protocol: OcppProtocol, name: string): ValidateFunction | null {
  const key = `${protocol}:${name}`;
  const hit = compiled.get(key);
  if (hit !== undefined) return hit;
  const schema = schemaTable(protocol)[name];
  let fn: ValidateFunction | null = null;
  if (schema) {
    if (!ajv) {
      ajv = new Ajv({ strict: false, allErrors: false, multipleOfPrecision: 6 });
      addFormats(ajv);
    }
    fn = ajv.compile(schema);
  }
  compiled.set(key, fn);
  return fn;
}

export type Validation = { ok: true } | { ok: false; code: string; message: string };

/** Validate a CSMS request payload. Unknown schemas pass (the action router decides about those). */
export function validateRequest(protocol: OcppProtocol, action: string, payload: unknown): Validation {
  const fn = validatorFor(protocol, `${action}Request`);
  if (!fn || fn(payload)) return { ok: true };
  const first = fn.errors?.[0];
  const where = first ? `${first.instancePath || '/'} ${first.message ?? ''}`.trim() : 'invalid payload';
  return { ok: false, code: errorCodeFor(protocol, classify(fn.errors)), message: where };
}
