/**
 * OCPI 2.2.1 (2.2.1-d2 errata) objects shared by every module: versions, endpoints, credentials, roles.
 * Field names are the wire names. Spec references: `version_information_endpoint.asciidoc`,
 * `credentials.asciidoc`, `types.asciidoc`.
 */

/** The version Ampline implements and advertises (2.2 is deprecated; accepted leniently from peers). */
export const OCPI_VERSION = '2.2.1';

/** Versions Ampline can talk, best first: 2.2.1, and 2.2 peers leniently (the same objects on the wire). */
export const SUPPORTED_VERSIONS = ['2.2.1', '2.2'] as const;
export type SupportedVersion = (typeof SUPPORTED_VERSIONS)[number];

/** Role _enum_ (types.asciidoc). */
export const ROLES = ['CPO', 'EMSP', 'HUB', 'NAP', 'NSP', 'OTHER', 'SCSP'] as const;
export type Role = (typeof ROLES)[number];

/** InterfaceRole _enum_: SENDER = the data owner's interface, RECEIVER = the interface data is pushed to. */
export const INTERFACE_ROLES = ['SENDER', 'RECEIVER'] as const;
export type InterfaceRole = (typeof INTERFACE_ROLES)[number];

/** ModuleID _enum_ (custom modules are allowed, hence `string` too). */
export const MODULE_IDS = ['cdrs', 'chargingprofiles', 'commands', 'credentials', 'hubclientinfo', 'locations', 'sessions', 'tariffs', 'tokens'] as const;
export type ModuleId = (typeof MODULE_IDS)[number];

/** Modules that are not routed (no OCPI-to/from headers) and on which a CREDENTIALS_TOKEN_A is accepted. */
export const CONFIGURATION_MODULES = ['versions', 'credentials', 'hubclientinfo'] as const;

/** Version _class_. */
export interface Version {
  version: string;
  url: string;
}

/** Endpoint _class_. */
export interface Endpoint {
  identifier: string;
  role: InterfaceRole;
  url: string;
}

/** Version details: `{version, endpoints}`. */
export interface VersionDetails {
  version: string;
  endpoints: Endpoint[];
}

/** BusinessDetails _class_ (mod_locations); `logo` kept as whatever the peer sent. */
export interface BusinessDetails {
  name: string;
  website?: string;
  logo?: unknown;
}

/** CredentialsRole _class_. */
export interface CredentialsRole {
  role: string;
  business_details: BusinessDetails;
  /** CiString(3). */
  party_id: string;
  /** CiString(2), ISO-3166 alpha-2. */
  country_code: string;
}

/** Credentials object: the token is raw here (only the Authorization header carries it Base64-encoded). */
export interface Credentials {
  token: string;
  /** The versions endpoint of the party the credentials describe. */
  url: string;
  roles: CredentialsRole[];
}

/** One OCPI party this platform acts as: what goes in our `roles` and in routing headers. */
export interface PartyIdentity {
  role: Role;
  countryCode: string;
  partyId: string;
  businessDetails: BusinessDetails;
}

/** `{country_code, party_id}` of a routing header pair. */
export interface PartyRef {
  countryCode: string;
  partyId: string;
}
