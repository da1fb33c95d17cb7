/**
 * JSON-schema validation of OCPP payloads with Ajv 8 and the OCA schemas shipped by `typed-ocpp`
 * (1.6 incl. the security extension, 2.0.1). Our own strict Ajv instance: unknown properties are
 * errors (typed-ocpp's bundled validator silently strips them), formats are checked, and multipleOf
 * tolerates binary floating point (0.1 steps).
 */
import { Ajv, type ValidateFunction, type ErrorObject } from 'ajv';
import addFormatsModule from 'ajv-formats';
// The schema modules directly: the package's main entry compiles every validator of three OCPP
// versions at import time (~6 s), which Ampline does not use.
import * as schemas16 from 'typed-ocpp/dist/ocpp16/schemas.js';
import * as schemas201 from 'typed-ocpp/dist/ocpp20/schemas.js';
import type { OcppProtocol } from './protocol.js';
import { type OcppErrorKind, errorKindForSchemaKeyword } from './errors.js';

const addFormats = addFormatsModule as unknown as (ajv: Ajv) => Ajv;

type SchemaSet = Record<string, object>;

const SCHEMAS: Record<OcppProtocol, SchemaSet> = {
  'ocpp1.6': schemas16 as unknown as SchemaSet,
  'ocpp2.0.1': schemas201 as unknown as SchemaSet,
};

export type Direction = 'req' | 'conf';

export type ValidationResult =
  | { ok: true }
  | { ok: false; kind: OcppErrorKind; message: string; errors: ErrorObject[] };

function actionsOf(set: SchemaSet): string[] {
  return Object.keys(set)
    .filter((k) => k.endsWith('Request'))
    .map((k) => k.slice(0, -'Request'.length))
    .sort();
}

/** The OCA JSON schema of `{Action}{Request|Response}` for a version (for documentation generators). */
export function schemaOf(protocol: OcppProtocol, name: string): object | undefined {
  return SCHEMAS[protocol][name];
}

/** Every action defined by a protocol version (both directions). */
export const ACTIONS: Record<OcppProtocol, ReadonlySet<string>> = {
  'ocpp1.6': new Set(actionsOf(SCHEMAS['ocpp1.6'])),
  'ocpp2.0.1': new Set(actionsOf(SCHEMAS['ocpp2.0.1'])),
};

export function isKnownAction(protocol: OcppProtocol, action: string): boolean {
  return ACTIONS[protocol].has(action);
}

function makeAjv(): Ajv {
  const ajv = new Ajv({
    strict: false,
    allErrors: false,
    multipleOfPrecision: 6,
    validateSchema: false,
    addUsedSchema: false,
  });
  addFormats(ajv);
  return ajv;
}

class ProtocolValidator {
  private readonly ajv = makeAjv();
  private readonly cache = new Map<string, ValidateFunction>();
  constructor(private readonly schemas: SchemaSet) {}

  get(action: string, dir: Direction): ValidateFunction | undefined {
    const key = `${action}${dir === 'req' ? 'Request' : 'Response'}`;
    let fn = this.cache.get(key);
    if (!fn) {
      const schema = this.schemas[key];
      if (!schema) return undefined;
      const { $id: _id, $schema: _s, ...rest } = schema as Record<string, unknown>;
      fn = this.ajv.compile(rest);
      this.cache.set(key, fn);
    }
    return fn;
  }
}

const validators: Record<OcppProtocol, ProtocolValidator> = {
  'ocpp1.6': new ProtocolValidator(SCHEMAS['ocpp1.6']),
  'ocpp2.0.1': new ProtocolValidator(SCHEMAS['ocpp2.0.1']),
};

function describe(e: ErrorObject): string {
  const path = e.instancePath || '(payload)';
  if (e.keyword === 'additionalProperties') {
    return `${path}: unknown property '${String((e.params as { additionalProperty?: string }).additionalProperty)}'`;
  }
  if (e.keyword === 'enum') {
    return `${path}: must be one of ${JSON.stringify((e.params as { allowedValues?: unknown }).allowedValues)}`;
  }
  return `${path}: ${e.message ?? e.keyword}`;
}

/** Validate one payload of `action` in `dir`ection. Unknown actions are reported as NotImplemented. */
export function validatePayload(
  protocol: OcppProtocol,
  action: string,
  dir: Direction,
  payload: unknown,
): ValidationResult {
  const fn = validators[protocol].get(action, dir);
  if (!fn) return { ok: false, kind: 'NotImplemented', message: `unknown action ${action}`, errors: [] };
  if (fn(payload)) return { ok: true };
  const errors = fn.errors ?? [];
  const first = errors[0];
  // A payload that is not an object at all does not have the PDU's structure (FormatViolation), which is
  // different from one field of the wrong type (TypeConstraintViolation).
  const notAnObject = first?.keyword === 'type' && first.instancePath === '';
  return {
    ok: false,
    kind: first && !notAnObject ? errorKindForSchemaKeyword(first.keyword) : 'FormatViolation',
    message: errors.map(describe).join('; ') || 'invalid payload',
    errors,
  };
}

/** Compile every schema up front (start-up cost instead of first-message latency). */
export function warmValidators(): void {
  for (const protocol of ['ocpp1.6', 'ocpp2.0.1'] as const) {
    for (const action of ACTIONS[protocol]) {
      validators[protocol].get(action, 'req');
      validators[protocol].get(action, 'conf');
    }
  }
}
