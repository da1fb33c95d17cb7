/**
 * The Versions module (version_information_endpoint.asciidoc): the versions endpoint
 * (`GET {prefix}/versions` → `[{version, url}]`) and the 2.2.1 details endpoint
 * (`GET {prefix}/2.2.1` → `{version, endpoints: [{identifier, role, url}]}`), both configuration
 * modules (a CREDENTIALS_TOKEN_A may read them), plus the pure rules for reading a peer's answers:
 * which version to use and whether the endpoints we need are there.
 */
import type { OcpiModule, OcpiPrincipal } from './core/plugin.js';
import { type Endpoint, type InterfaceRole, OCPI_VERSION, SUPPORTED_VERSIONS, type SupportedVersion, type Version } from './core/types.js';
import { joinUrl } from './core/strings.js';

/** The highest version both sides speak: 2.2.1, else 2.2 (lenient); undefined → 3002. */
export function pickVersion(theirs: readonly Version[]): (Version & { version: SupportedVersion }) | undefined {
  for (const v of SUPPORTED_VERSIONS) {
    const hit = theirs.find((t) => t.version.trim() === v);
    if (hit) return { version: v, url: hit.url };
  }
  return undefined;
}

/** An endpoint we need the peer to have; `role` absent = any (always so for `credentials`). */
export interface EndpointRequirement {
  identifier: string;
  role?: InterfaceRole;
}

/** The requirements `endpoints` does not meet (empty = all met). For `credentials` the role is ignored (spec NOTE). */
export function missingEndpoints(endpoints: readonly Endpoint[], required: readonly EndpointRequirement[]): EndpointRequirement[] {
  return required.filter(
    (r) => !endpoints.some((e) => e.identifier === r.identifier && (r.identifier === 'credentials' || r.role === undefined || e.role === r.role)),
  );
}

/** The peer's endpoint for a module in the given interface role (credentials: any role). */
export function findEndpoint(endpoints: readonly Endpoint[], identifier: string, role?: InterfaceRole): Endpoint | undefined {
  return endpoints.find((e) => e.identifier === identifier && (identifier === 'credentials' || role === undefined || e.role === role));
}

/** Our endpoint list for version details: every mounted module that has an interface role. */
export function ourEndpoints(modules: readonly OcpiModule<never>[], ocpiBaseUrl: string): Endpoint[] {
  return modules
    .filter((m): m is OcpiModule<never> & { interfaceRole: InterfaceRole } => m.interfaceRole !== undefined)
    .map((m) => ({ identifier: m.identifier, role: m.interfaceRole, url: joinUrl(ocpiBaseUrl, m.path) }));
}

export interface VersionsModuleDeps {
  /** `{public base}{prefix}`, e.g. `https://cpo.example.com/ocpi`. */
  ocpiBaseUrl: () => string;
  /** Every module mounted (for the details endpoint list). */
  modules: () => readonly OcpiModule<never>[];
}

export const VERSIONS_PATH = 'versions';
export const DETAILS_PATH = OCPI_VERSION;

/** `GET {prefix}/versions` and `GET {prefix}/2.2.1`. */
export function versionsModules<P extends OcpiPrincipal>(deps: VersionsModuleDeps): OcpiModule<P>[] {
  return [
    {
      identifier: 'versions',
      kind: 'configuration',
      path: VERSIONS_PATH,
      routes: [{ method: 'GET', url: '', handler: async () => ({ data: [{ version: OCPI_VERSION, url: joinUrl(deps.ocpiBaseUrl(), DETAILS_PATH) }] }) }],
    },
    {
      identifier: 'versions',
      kind: 'configuration',
      path: DETAILS_PATH,
      routes: [{ method: 'GET', url: '', handler: async () => ({ data: { version: OCPI_VERSION, endpoints: ourEndpoints(deps.modules(), deps.ocpiBaseUrl()) } }) }],
    },
  ];
}
