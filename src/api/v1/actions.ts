/**
 * Which OCPP actions the CSMS may initiate, per version: every action the version's OCA schemas define,
 * minus the charger-initiated ones the router handles, plus the actions both sides may initiate.
 * Derived, not listed by hand: a new schema or handler changes the set; a test pins it to the spec's list.
 */
import { ACTIONS, schemaOf } from '../../ocpp/schemas.js';
import { HANDLED_ACTIONS } from '../../ocpp/router.js';
import { PROTOCOLS, type OcppProtocol } from '../../ocpp/protocol.js';

/** Actions either side may initiate (1.6 §5.6/§4.3, 2.0.1 P01/P02). */
export const BIDIRECTIONAL_ACTIONS: ReadonlySet<string> = new Set(['DataTransfer']);

function csmsActions(protocol: OcppProtocol): ReadonlySet<string> {
  const handled = new Set(HANDLED_ACTIONS[protocol]);
  return new Set([...ACTIONS[protocol]].filter((a) => BIDIRECTIONAL_ACTIONS.has(a) || !handled.has(a)).sort());
}

export const CSMS_ACTIONS: Record<OcppProtocol, ReadonlySet<string>> = {
  'ocpp1.6': csmsActions('ocpp1.6'),
  'ocpp2.0.1': csmsActions('ocpp2.0.1'),
};

/** Union over both versions, sorted: the `{action}` values of the generic command route. */
export const ALL_CSMS_ACTIONS: readonly string[] = [...new Set(PROTOCOLS.flatMap((p) => [...CSMS_ACTIONS[p]]))].sort();

/** Short version tag used in component names (`ocpp16.ResetRequest`, `ocpp201.ResetRequest`). */
export const VERSION_TAG: Record<OcppProtocol, 'ocpp16' | 'ocpp201'> = { 'ocpp1.6': 'ocpp16', 'ocpp2.0.1': 'ocpp201' };

function schemaSet(protocol: OcppProtocol): Readonly<Record<string, object>> {
  const out: Record<string, object> = {};
  for (const action of ACTIONS[protocol]) {
    for (const dir of ['Request', 'Response']) {
      const schema = schemaOf(protocol, `${action}${dir}`);
      if (schema) out[`${action}${dir}`] = schema;
    }
  }
  return out;
}

/** The OCA JSON schemas by `{Action}{Request|Response}`: the very objects `validatePayload` compiles. */
export const OCA_SCHEMAS: Record<OcppProtocol, Readonly<Record<string, object>>> = {
  'ocpp1.6': schemaSet('ocpp1.6'),
  'ocpp2.0.1': schemaSet('ocpp2.0.1'),
};

type JsonObject = Record<string, unknown>;

/** Follow `#/definitions/X` inside one OCA schema file. */
function deref(root: JsonObject, node: unknown): JsonObject {
  let n = node as JsonObject;
  for (let i = 0; i < 10 && typeof n?.$ref === 'string'; i++) {
    const m = /^#\/definitions\/(.+)$/.exec(n.$ref as string);
    if (!m) break;
    n = (root.definitions as Record<string, JsonObject>)[m[1]!]!;
  }
  return n;
}

/** The `enum` of `property` in an action's request schema (following refs); [] when absent. */
export function requestEnum(protocol: OcppProtocol, action: string, property: string): string[] {
  const root = OCA_SCHEMAS[protocol][`${action}Request`] as JsonObject | undefined;
  if (!root) return [];
  const props = root.properties as Record<string, unknown> | undefined;
  const node = deref(root, props?.[property]);
  return Array.isArray(node?.enum) ? (node.enum as string[]) : [];
}

/** The `enum` of a named definition in a version's schema set (all files share one definitions blob). */
export function definitionEnum(protocol: OcppProtocol, action: string, definition: string): string[] {
  const root = OCA_SCHEMAS[protocol][`${action}Request`] as JsonObject | undefined;
  const node = (root?.definitions as Record<string, JsonObject> | undefined)?.[definition];
  return Array.isArray(node?.enum) ? (node.enum as string[]) : [];
}
