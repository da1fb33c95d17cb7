/**
 * One OCPI platform ("node"): who we are (one party role), our partners, the typed client, the
 * credentials handshake and the modules we mount under `/ocpi`. Both Ampline roles build one — the CSMS
 * as CPO (src/ocpi/cpo.ts), the SCSP service as SCSP (src/ocpi/scsp.ts) — and differ only in identity,
 * storage and functional modules.
 *
 * For the functional modules (Sessions, ChargingProfiles …):
 * - a module is an {@link OcpiModule} returned by `modules(node)`; it is mounted at
 *   `/ocpi/2.2.1/<path>`, listed in version details with its interface role, authenticated (token B/C
 *   only; TOKEN_A → 401), enveloped, with routing headers;
 * - `req.principal.partner` is the calling partner;
 * - {@link OcpiNode.partnerClient} calls a partner's module endpoint with the right auth and headers;
 * - pagination: src/ocpi/core/pagination.ts (`parsePageQuery`, `pageOf`, `pageHeaders` with `req.url`).
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { AddressInfo } from 'node:net';
import type { Clock } from '../util/clock.js';
import type { Logger } from '../util/log.js';
import { OAuth2ClientCredentials, type OutboundAuth, type PartnerAuthConfig, type TokenCandidate, hashToken } from './core/auth.js';
import { type HttpMethod, type OcpiAnswer, OcpiClient } from './core/client.js';
import { type OcpiModule, registerOcpiPlugin } from './core/plugin.js';
import { joinUrl } from './core/strings.js';
import type { Endpoint, InterfaceRole, PartyIdentity, PartyRef } from './core/types.js';
import { CredentialsService, type PartnerPrincipal, credentialsModule } from './credentials.js';
import type { OcpiPartner, OcpiPartnerRepository } from './storage.js';
import { type EndpointRequirement, DETAILS_PATH, VERSIONS_PATH, findEndpoint, ourEndpoints, versionsModules } from './versions.js';

export const OCPI_PREFIX = '/ocpi';

export interface OcpiNodeOptions {
  identity: PartyIdentity;
  /** Our public base URL (no trailing slash); default: the HTTP server's listening address. */
  publicUrl?: string | undefined;
  partners: OcpiPartnerRepository;
  clock: Clock;
  log: Logger;
  /** Outgoing HTTP (tests). */
  fetch?: typeof fetch;
  /** Bound on each outgoing OCPI request (default 30 s). */
  timeoutMs?: number;
  /** The role's functional modules (the second wave: sessions, chargingprofiles). */
  modules?: (node: OcpiNode) => OcpiModule<PartnerPrincipal>[];
  /** Endpoints a peer must offer to be accepted (3003 otherwise); `credentials` is always required. */
  requiredPeerEndpoints?: EndpointRequirement[];
}

/** Calls to one partner's module endpoints, authenticated and with routing headers. */
export interface PartnerClient {
  readonly partner: OcpiPartner;
  /** The partner's endpoint for a module in an interface role. */
  endpoint(identifier: string, role?: InterfaceRole): Endpoint | undefined;
  /** Call `{endpoint url}{path}`; throws when the partner has no such endpoint. */
  call<T = unknown>(args: {
    module: string;
    role: InterfaceRole;
    method: HttpMethod;
    /** Appended to the endpoint URL with one `/` (e.g. `NL/AMP/1234`). */
    path?: string;
    query?: Record<string, string | number | undefined>;
    body?: unknown;
    correlationId?: string;
  }): Promise<OcpiAnswer<T>>;
  /** Another absolute URL of the partner's (a `response_url`), same auth, no routing headers unless given. */
  callUrl<T = unknown>(args: { method: HttpMethod; url: string; body?: unknown; correlationId?: string; routing?: boolean }): Promise<OcpiAnswer<T>>;
}

export class NoSuchEndpointError extends Error {
  constructor(
    readonly partnerId: string,
    readonly module: string,
    readonly role: InterfaceRole,
  ) {
    super(`OCPI partner '${partnerId}' has no ${module} ${role} endpoint`);
    this.name = 'NoSuchEndpointError';
  }
}

export class OcpiNode {
  readonly identity: PartyIdentity;
  readonly partners: OcpiPartnerRepository;
  readonly client: OcpiClient;
  readonly credentials: CredentialsService;
  private readonly oauth = new Map<string, { key: string; auth: OutboundAuth }>();
  private http: FastifyInstance | undefined;
  private mountedModules: OcpiModule<PartnerPrincipal>[] = [];

  constructor(private readonly opts: OcpiNodeOptions) {
    this.identity = opts.identity;
    this.partners = opts.partners;
    this.client = new OcpiClient({ ...(opts.fetch ? { fetch: opts.fetch } : {}), timeoutMs: opts.timeoutMs ?? 30_000, userAgent: 'Ampline-OCPI/2.2.1' });
    this.credentials = new CredentialsService({
      partners: opts.partners,
      client: this.client,
      clock: opts.clock,
      log: opts.log,
      identity: () => this.identity,
      versionsUrl: () => this.versionsUrl(),
      requiredPeerEndpoints: opts.requiredPeerEndpoints ?? [],
      oauth: (id, config) => this.oauthFor(id, config),
    });
  }

  /** Public base URL: configured, else the listening address (0.0.0.0 → 127.0.0.1). */
  baseUrl(): string {
    if (this.opts.publicUrl) return this.opts.publicUrl.replace(/\/+$/, '');
    const addr = this.http?.server.address() as AddressInfo | null | undefined;
    if (!addr || typeof addr !== 'object') return 'http://127.0.0.1';
    const host = addr.address === '0.0.0.0' || addr.address === '::' ? '127.0.0.1' : addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
    return `http://${host}:${addr.port}`;
  }

  ocpiBaseUrl(): string {
    return joinUrl(this.baseUrl(), OCPI_PREFIX);
  }

  versionsUrl(): string {
    return joinUrl(this.ocpiBaseUrl(), VERSIONS_PATH);
  }

  versionDetailsUrl(): string {
    return joinUrl(this.ocpiBaseUrl(), DETAILS_PATH);
  }

  /** The endpoints our version details list. */
  endpoints(): Endpoint[] {
    return ourEndpoints(this.mountedModules, this.ocpiBaseUrl());
  }

  /** Mount `/ocpi/...` on the server (before it listens). */
  mount(http: FastifyInstance): void {
    if (this.http) throw new Error('OCPI node already mounted');
    this.http = http;
    const functional = this.opts.modules?.(this) ?? [];
    for (const m of functional) if (m.kind !== 'functional') throw new Error(`OCPI module ${m.identifier} must be functional`);
    this.mountedModules = [credentialsModule(() => this.credentials), ...functional];
    const all = [...versionsModules<PartnerPrincipal>({ ocpiBaseUrl: () => this.ocpiBaseUrl(), modules: () => this.mountedModules }), ...this.mountedModules];
    registerOcpiPlugin<PartnerPrincipal>(http, {
      prefix: OCPI_PREFIX,
      clock: this.opts.clock,
      log: this.opts.log,
      identity: () => this.identity,
      publicUrl: () => this.baseUrl(),
      authenticate: (candidates, req) => this.authenticate(candidates, req),
      modules: () => all,
    });
  }

  /**
   * The partner a token belongs to. `Token` credentials: any partner; `Bearer`: only partners that use
   * the OAuth2 strategy (the token we issued them, presented the Jedlix way).
   */
  private async authenticate(candidates: TokenCandidate[], _req: FastifyRequest): Promise<{ principal: PartnerPrincipal; credential: TokenCandidate } | undefined> {
    for (const c of candidates) {
      const hit = await this.partners.findByTokenHash(hashToken(c.token));
      if (!hit) continue;
      if (c.scheme === 'Bearer' && hit.partner.auth?.type !== 'oauth2') continue;
      const kind = hit.slot === 'next' ? 'B' : (hit.partner.ourTokenKind ?? 'C');
      const role = hit.partner.roles[0];
      const party: PartyRef | undefined = role ? { countryCode: role.country_code, partyId: role.party_id } : undefined;
      return { principal: { partner: hit.partner, tokenKind: kind, slot: hit.slot, registrationOnly: kind === 'A', party }, credential: c };
    }
    return undefined;
  }

  /** The OAuth2 strategy object of a partner (one per partner and configuration, so its token is cached). */
  private oauthFor(partnerId: string, config: PartnerAuthConfig): OutboundAuth {
    const key = JSON.stringify(config);
    const hit = this.oauth.get(partnerId);
    if (hit && hit.key === key) return hit.auth;
    const auth = new OAuth2ClientCredentials(config, { clock: this.opts.clock, ...(this.opts.fetch ? { fetch: this.opts.fetch } : {}) });
    this.oauth.set(partnerId, { key, auth });
    return auth;
  }

  /** How we authenticate to a registered partner. */
  outboundAuth(p: OcpiPartner): OutboundAuth {
    return this.credentials.authFor(p, p.theirToken);
  }

  /** A client bound to one partner (the second wave calls Sessions / ChargingProfiles with it). */
  partnerClient(p: OcpiPartner): PartnerClient {
    const routing = () => {
      const role = p.roles[0];
      return role
        ? { from: { countryCode: this.identity.countryCode, partyId: this.identity.partyId }, to: { countryCode: role.country_code, partyId: role.party_id } }
        : undefined;
    };
    return {
      partner: p,
      endpoint: (identifier, role) => findEndpoint(p.endpoints, identifier, role),
      call: async (a) => {
        const ep = findEndpoint(p.endpoints, a.module, a.role);
        if (!ep) throw new NoSuchEndpointError(p.id, a.module, a.role);
        const r = routing();
        return this.client.call({
          method: a.method,
          url: a.path ? joinUrl(ep.url, a.path) : ep.url,
          auth: this.outboundAuth(p),
          ...(a.query ? { query: a.query } : {}),
          ...(a.body !== undefined ? { body: a.body } : {}),
          ...(a.correlationId ? { correlationId: a.correlationId } : {}),
          ...(r ? { routing: r } : {}),
        });
      },
      callUrl: async (a) => {
        const r = a.routing ? routing() : undefined;
        return this.client.call({
          method: a.method,
          url: a.url,
          auth: this.outboundAuth(p),
          ...(a.body !== undefined ? { body: a.body } : {}),
          ...(a.correlationId ? { correlationId: a.correlationId } : {}),
          ...(r ? { routing: r } : {}),
        });
      },
    };
  }
}

/** What both roles pass to {@link mountOcpiNode}: their party settings, storage and functional modules. */
export interface OcpiNodeSetup {
  role: PartyIdentity['role'];
  /** The party's OCPI settings (AMPLINE_OCPI_* / AMPLINE_SCSP_OCPI_*). */
  party: { countryCode: string; partyId: string; businessName: string };
  publicUrl?: string | undefined;
  partners: OcpiPartnerRepository;
  clock: Clock;
  log: Logger;
  fetch?: typeof fetch | undefined;
  modules?: ((node: OcpiNode) => OcpiModule<PartnerPrincipal>[]) | undefined;
  requiredPeerEndpoints?: EndpointRequirement[] | undefined;
}

/** Build a party's node and mount `/ocpi/...` on the server (call before it listens). */
export function mountOcpiNode(http: FastifyInstance, s: OcpiNodeSetup): OcpiNode {
  const node = new OcpiNode({
    identity: { role: s.role, countryCode: s.party.countryCode, partyId: s.party.partyId, businessDetails: { name: s.party.businessName } },
    publicUrl: s.publicUrl,
    partners: s.partners,
    clock: s.clock,
    log: s.log.child({ component: 'ocpi', role: s.role }),
    ...(s.fetch ? { fetch: s.fetch } : {}),
    ...(s.modules ? { modules: s.modules } : {}),
    ...(s.requiredPeerEndpoints ? { requiredPeerEndpoints: s.requiredPeerEndpoints } : {}),
  });
  node.mount(http);
  return node;
}
