/**
 * The Credentials module (credentials.asciidoc) and the registration handshake in both directions.
 *
 * ```
 *  accept (we are the Receiver)                     register (we are the Sender)
 *  operator: token A → peer (out of band)           operator: peer's versions URL + token A → us
 *  peer ─GET versions, details (A)──► us            us ─GET versions, details (A)──► peer   (pick 2.2.1, else 2.2)
 *  peer ─POST credentials {B} (A)──► us             us: store B's hash (peer may call us with it now)
 *        us ─GET versions, details (B)──► peer      us ─POST credentials {B} (A)──► peer
 *        (3001 unreachable · 3002 no mutual              peer ─GET versions, details (B)──► us
 *         version · 3003 endpoints missing)         peer ──{C}──► us: store C, registered
 *  us ──{C}──► peer: registered, A is dead
 * ```
 * PUT rotates (new tokens both ways, endpoints fetched again even when the version is unchanged);
 * DELETE unregisters (the old token is refused afterwards). POST when registered, PUT/DELETE when not:
 * 405. One handshake per partner at a time (in-process lock plus a compare-and-set on the token hash).
 */
import type { Clock } from '../util/clock.js';
import type { Logger } from '../util/log.js';
import {
  type OutboundAuth,
  type PartnerAuthConfig,
  type TokenCandidate,
  type TokenEncoding,
  type WireEncoding,
  generateToken,
  hashToken,
  isCredentialsToken,
  resolveEncoding,
  tokenAuth,
  tokenHint,
} from './core/auth.js';
import { type OcpiClient, OcpiClientError } from './core/client.js';
import type { OcpiModule, OcpiPrincipal } from './core/plugin.js';
import { OcpiError, OcpiStatus } from './core/status.js';
import { isCiString, isCountryCode, isHttpUrl, isOcpiString, isPartyId } from './core/strings.js';
import type { Credentials, CredentialsRole, Endpoint, PartyIdentity } from './core/types.js';
import { OCPI_VERSION } from './core/types.js';
import type { OcpiPartner, OcpiPartnerRepository, PartnerPatch, TokenKind } from './storage.js';
import { type EndpointRequirement, findEndpoint, missingEndpoints, pickVersion } from './versions.js';

/** Who called, as our authenticator found them. */
export interface PartnerPrincipal extends OcpiPrincipal {
  readonly partner: OcpiPartner;
  readonly tokenKind: TokenKind;
  /** Whether the current or the rotation (`next`) token matched. */
  readonly slot: 'current' | 'next';
}

export const CREDENTIALS_PATH = `${OCPI_VERSION}/credentials`;

// ── errors for the management side ──────────────────────────────────────────────────────────────

export class UnknownPartnerError extends Error {
  constructor(readonly partnerId: string) {
    super(`Unknown OCPI partner '${partnerId}'`);
    this.name = 'UnknownPartnerError';
  }
}

/** The partner is not in a state the operation needs (e.g. registering twice). */
export class PartnerStateError extends Error {
  constructor(
    readonly partnerId: string,
    readonly state: string,
    message: string,
  ) {
    super(message);
    this.name = 'PartnerStateError';
  }
}

export type RegistrationFailure = 'unreachable' | 'unsupported-version' | 'no-matching-endpoints' | 'refused' | 'invalid-answer';

/**
 * A handshake step with the peer failed. `statusCode` is the OCPI code that describes it (3001, 3002,
 * 3003, or the peer's own); `peerHttpStatus` what the peer answered, when it answered.
 */
export class RegistrationError extends Error {
  constructor(
    readonly reason: RegistrationFailure,
    readonly statusCode: number,
    message: string,
    readonly peerHttpStatus?: number,
    readonly peerStatusCode?: number,
  ) {
    super(message);
    this.name = 'RegistrationError';
  }
}

// ── pure parts ──────────────────────────────────────────────────────────────────────────────────

/** Read a Credentials object (2.2 / 2.2.1); an {@link OcpiError} 2001 says what is wrong. */
export function parseCredentials(body: unknown): Credentials {
  const bad = (m: string) => OcpiError.invalid(`Invalid credentials: ${m}`);
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw bad('the body must be a Credentials object');
  const o = body as Record<string, unknown>;
  // Lenient on length (peers send UUIDs and longer); the characters must survive an Authorization header.
  if (!isCredentialsToken(o.token, 255)) throw bad('token must be printable non-whitespace ASCII (U+0021–U+007E)');
  if (!isHttpUrl(o.url)) throw bad('url must be the http(s) URL of your versions endpoint');
  if (!Array.isArray(o.roles) || o.roles.length === 0) throw bad('roles must list at least one CredentialsRole');
  const roles: CredentialsRole[] = o.roles.map((r, i) => {
    if (typeof r !== 'object' || r === null) throw bad(`roles[${i}] must be an object`);
    const x = r as Record<string, unknown>;
    if (!isCiString(x.role, 16)) throw bad(`roles[${i}].role is missing`);
    if (!isPartyId(x.party_id)) throw bad(`roles[${i}].party_id must be a CiString(3)`);
    if (!isCountryCode(x.country_code)) throw bad(`roles[${i}].country_code must be an ISO-3166 alpha-2 code`);
    const bd = x.business_details as Record<string, unknown> | undefined;
    if (typeof bd !== 'object' || bd === null || !isOcpiString(bd.name, 100)) throw bad(`roles[${i}].business_details.name is missing`);
    return {
      role: x.role,
      party_id: x.party_id,
      country_code: x.country_code,
      business_details: {
        name: bd.name,
        ...(typeof bd.website === 'string' ? { website: bd.website } : {}),
        ...(bd.logo !== undefined ? { logo: bd.logo } : {}),
      },
    };
  });
  return { token: o.token, url: o.url, roles };
}

/** Our Credentials object carrying `token`. */
export function credentialsOf(identity: PartyIdentity, versionsUrl: string, token: string): Credentials {
  return {
    token,
    url: versionsUrl,
    roles: [{ role: identity.role, business_details: identity.businessDetails, party_id: identity.partyId, country_code: identity.countryCode }],
  };
}

// ── the service ─────────────────────────────────────────────────────────────────────────────────

export interface CredentialsServiceDeps {
  partners: OcpiPartnerRepository;
  client: OcpiClient;
  clock: Clock;
  log: Logger;
  identity: () => PartyIdentity;
  /** Our versions endpoint URL (what our Credentials carry). */
  versionsUrl: () => string;
  /** Endpoints a peer must offer (else 3003); `credentials` always. */
  requiredPeerEndpoints: readonly EndpointRequirement[];
  /** The OAuth2 strategy object of a partner that uses one (cached per partner by the node). */
  oauth: (partnerId: string, config: PartnerAuthConfig) => OutboundAuth;
}

interface Discovery {
  version: string;
  endpoints: Endpoint[];
  /** The encoding the peer accepted our token in. */
  wire: WireEncoding;
}

export interface RegisterInput {
  id?: string;
  name?: string;
  versionsUrl: string;
  /** The peer's CREDENTIALS_TOKEN_A (not needed with `auth`). */
  token?: string;
  tokenEncoding?: TokenEncoding;
  auth?: PartnerAuthConfig;
}

export class CredentialsService {
  private readonly locks = new Map<string, Promise<unknown>>();

  constructor(private readonly deps: CredentialsServiceDeps) {}

  private now(): Date {
    return this.deps.clock.now();
  }

  private required(): EndpointRequirement[] {
    return [{ identifier: 'credentials' }, ...this.deps.requiredPeerEndpoints.filter((r) => r.identifier !== 'credentials')];
  }

  /** Run `work` alone for this partner (handshakes never interleave). */
  private locked<T>(id: string, work: () => Promise<T>): Promise<T> {
    const prev = this.locks.get(id) ?? Promise.resolve();
    const run = prev.then(work, work);
    const tail = run.then(
      () => undefined,
      () => undefined,
    );
    this.locks.set(id, tail);
    void tail.then(() => {
      if (this.locks.get(id) === tail) this.locks.delete(id);
    });
    return run;
  }

  /** How we authenticate to a partner with `token` (their token for us) — or its OAuth2 strategy. */
  authFor(p: Pick<OcpiPartner, 'id' | 'auth' | 'tokenEncoding' | 'version'>, token: string | null): OutboundAuth {
    if (p.auth) return this.deps.oauth(p.id, p.auth);
    if (token === null) throw new PartnerStateError(p.id, 'unregistered', `No token to call OCPI partner '${p.id}' with`);
    return tokenAuth(token, resolveEncoding(p.tokenEncoding, p.version));
  }

  /**
   * GET the peer's versions and the details of the version we pick, authenticating with `token`.
   * With encoding `auto` the first try uses `hint` (how the peer sent its own token) or Base64, and a
   * 401 makes us try the other encoding once (trial and error, as the spec's NOTE allows).
   */
  private async discover(
    versionsUrl: string,
    how: { token?: string; encoding: TokenEncoding; hint?: WireEncoding; auth?: OutboundAuth },
    correlationId?: string,
  ): Promise<Discovery> {
    const client = this.deps.client;
    const attempts: WireEncoding[] =
      how.auth !== undefined ? ['base64'] : how.encoding !== 'auto' ? [how.encoding] : how.hint === 'raw' ? ['raw', 'base64'] : ['base64', 'raw'];
    let lastErr: unknown;
    for (const wire of attempts) {
      const auth = how.auth ?? tokenAuth(how.token ?? '', wire);
      let versions;
      try {
        versions = await client.versions(versionsUrl, auth, correlationId);
      } catch (err) {
        lastErr = err;
        if (err instanceof OcpiClientError && err.httpStatus === 401) continue;
        break;
      }
      const picked = pickVersion(versions);
      if (!picked) {
        throw new RegistrationError(
          'unsupported-version',
          OcpiStatus.UnsupportedVersion,
          `No mutual OCPI version: the peer offers ${versions.map((v) => v.version).join(', ') || 'none'}; Ampline speaks 2.2.1 (and 2.2)`,
        );
      }
      let details;
      try {
        details = await client.versionDetails(picked.url, auth, correlationId);
      } catch (err) {
        throw this.unreachable(err, `version details ${picked.url}`);
      }
      const missing = missingEndpoints(details.endpoints, this.required());
      if (missing.length > 0) {
        throw new RegistrationError(
          'no-matching-endpoints',
          OcpiStatus.NoMatchingEndpoints,
          `The peer's ${picked.version} endpoints lack ${missing.map((m) => (m.role ? `${m.identifier} (${m.role})` : m.identifier)).join(', ')}`,
        );
      }
      return { version: picked.version, endpoints: details.endpoints, wire };
    }
    throw this.unreachable(lastErr, `versions ${versionsUrl}`);
  }

  private unreachable(err: unknown, what: string): RegistrationError {
    const e = err instanceof OcpiClientError ? err : undefined;
    return new RegistrationError('unreachable', OcpiStatus.UnableToUseClientApi, `Unable to use the peer's API (${what}): ${(err as Error)?.message ?? String(err)}`, e?.httpStatus, e?.statusCode);
  }

  /** What to store as the partner's encoding after a discovery: `auto` unless the trial proved otherwise. */
  private encodingAfter(configured: TokenEncoding, d: Discovery): TokenEncoding {
    if (configured !== 'auto') return configured;
    return d.wire === resolveEncoding('auto', d.version) ? 'auto' : d.wire;
  }

  private ours(token: string): Credentials {
    return credentialsOf(this.deps.identity(), this.deps.versionsUrl(), token);
  }

  private issued(token: string, kind: TokenKind): Pick<OcpiPartner, 'ourTokenHash' | 'ourTokenKind' | 'ourTokenHint' | 'ourNextTokenHash'> {
    return { ourTokenHash: hashToken(token), ourTokenKind: kind, ourTokenHint: tokenHint(token), ourNextTokenHash: null };
  }

  // ── tokens A ─────────────────────────────────────────────────────────────────────────────────

  /** A new partner that will register with us: its CREDENTIALS_TOKEN_A (shown once). */
  async createPartner(input: { id: string; name?: string }): Promise<{ partner: OcpiPartner; tokenA: string }> {
    const tokenA = generateToken();
    const partner = await this.deps.partners.insert(
      {
        id: input.id,
        name: input.name ?? input.id,
        state: 'pending',
        ...this.issued(tokenA, 'A'),
        theirToken: null,
        versionsUrl: null,
        version: null,
        tokenEncoding: 'auto',
        endpoints: [],
        roles: [],
        auth: null,
        registeredAt: null,
      },
      this.now(),
    );
    this.deps.log.info({ partnerId: partner.id }, 'OCPI token A issued');
    return { partner, tokenA };
  }

  /** A fresh token A for a partner that is not registered (the previous A stops working). */
  async reissueTokenA(id: string): Promise<{ partner: OcpiPartner; tokenA: string }> {
    return this.locked(id, async () => {
      const p = await this.deps.partners.get(id);
      if (!p) throw new UnknownPartnerError(id);
      if (p.state === 'registered' || p.state === 'registering') throw new PartnerStateError(id, p.state, `OCPI partner '${id}' is ${p.state}; unregister it first`);
      const tokenA = generateToken();
      const partner = (await this.deps.partners.update(id, { state: 'pending', ...this.issued(tokenA, 'A') }, this.now()))!;
      this.deps.log.info({ partnerId: id }, 'OCPI token A reissued');
      return { partner, tokenA };
    });
  }

  // ── inbound (the peer calls our credentials endpoint) ───────────────────────────────────────

  /** GET: our credentials, with the token the caller used. */
  get(credential: TokenCandidate): Credentials {
    return this.ours(credential.token);
  }

  /** POST: the peer registers with the token A we issued. */
  async acceptRegistration(who: PartnerPrincipal, credential: TokenCandidate, body: unknown, correlationId: string): Promise<Credentials> {
    return this.locked(who.partner.id, async () => {
      const p = await this.deps.partners.get(who.partner.id);
      if (!p || p.state === 'registered' || who.tokenKind !== 'A' || p.ourTokenHash !== hashToken(credential.token)) {
        throw OcpiError.transport('MethodNotAllowed', 'Already registered: use PUT to update the credentials, or DELETE to unregister');
      }
      const creds = parseCredentials(body);
      const d = await this.discoverOrOcpiError(creds.url, { token: creds.token, encoding: p.tokenEncoding, hint: credential.encoding }, correlationId);
      const tokenC = generateToken();
      const saved = await this.deps.partners.update(
        p.id,
        {
          state: 'registered',
          ...this.issued(tokenC, 'C'),
          theirToken: creds.token,
          versionsUrl: creds.url,
          version: d.version,
          tokenEncoding: this.encodingAfter(p.tokenEncoding, d),
          endpoints: d.endpoints,
          roles: creds.roles,
          registeredAt: this.now().toISOString(),
          ...(p.name === p.id && creds.roles[0] ? { name: creds.roles[0].business_details.name } : {}),
        },
        this.now(),
        p.ourTokenHash,
      );
      if (!saved) throw OcpiError.transport('MethodNotAllowed', 'Already registered');
      this.deps.log.info({ partnerId: p.id, version: d.version, roles: creds.roles.map((r) => `${r.country_code}*${r.party_id} ${r.role}`) }, 'OCPI partner registered with us');
      return this.ours(tokenC);
    });
  }

  /** PUT: the peer updates its credentials (new token, maybe new version or endpoints). */
  async acceptUpdate(who: PartnerPrincipal, credential: TokenCandidate, body: unknown, correlationId: string): Promise<Credentials> {
    return this.locked(who.partner.id, async () => {
      const p = await this.deps.partners.get(who.partner.id);
      if (!p || p.state !== 'registered' || who.tokenKind === 'A') throw OcpiError.transport('MethodNotAllowed', 'Not registered: POST the credentials first');
      const creds = parseCredentials(body);
      const d = await this.discoverOrOcpiError(creds.url, { token: creds.token, encoding: p.tokenEncoding, hint: credential.encoding }, correlationId);
      const tokenC = generateToken();
      const saved = await this.deps.partners.update(
        p.id,
        {
          ...this.issued(tokenC, 'C'),
          theirToken: creds.token,
          versionsUrl: creds.url,
          version: d.version,
          tokenEncoding: this.encodingAfter(p.tokenEncoding, d),
          endpoints: d.endpoints,
          roles: creds.roles,
        },
        this.now(),
        p.ourTokenHash,
      );
      if (!saved) throw new OcpiError(OcpiStatus.ServerError, 'The credentials changed meanwhile; try again');
      this.deps.log.info({ partnerId: p.id, version: d.version }, 'OCPI partner updated its credentials');
      return this.ours(tokenC);
    });
  }

  /** DELETE: the peer unregisters; its token stops working now. */
  async acceptUnregister(who: PartnerPrincipal): Promise<void> {
    await this.locked(who.partner.id, async () => {
      const p = await this.deps.partners.get(who.partner.id);
      if (!p || p.state !== 'registered' || who.tokenKind === 'A') throw OcpiError.transport('MethodNotAllowed', 'Not registered');
      await this.deps.partners.update(p.id, this.cleared(), this.now());
      this.deps.log.info({ partnerId: p.id }, 'OCPI partner unregistered itself');
    });
  }

  private cleared(): PartnerPatch {
    return { state: 'unregistered', ourTokenHash: null, ourTokenKind: null, ourTokenHint: null, ourNextTokenHash: null, theirToken: null, registeredAt: null };
  }

  private async discoverOrOcpiError(url: string, how: Parameters<CredentialsService['discover']>[1], correlationId: string): Promise<Discovery> {
    try {
      return await this.discover(url, how, correlationId);
    } catch (err) {
      if (err instanceof RegistrationError) throw new OcpiError(err.statusCode, err.message);
      throw err;
    }
  }

  // ── outbound (we call the peer's credentials endpoint) ──────────────────────────────────────

  /** Register with a peer that gave us its versions URL and a token A. */
  async registerWith(input: RegisterInput): Promise<OcpiPartner> {
    const id = input.id ?? `ocpi-${generateToken().slice(0, 8).replace(/[^A-Za-z0-9]/g, 'x').toLowerCase()}`;
    return this.locked(id, async () => {
      const before = await this.deps.partners.get(id);
      if (before && (before.state === 'registered' || before.state === 'registering')) {
        throw new PartnerStateError(id, before.state, `OCPI partner '${id}' is ${before.state}; unregister it first`);
      }
      const encoding = input.tokenEncoding ?? 'auto';
      const oauth = input.auth ? this.deps.oauth(id, input.auth) : undefined;
      if (!oauth && !isCredentialsToken(input.token, 255)) throw new RegistrationError('refused', OcpiStatus.InvalidParameters, 'token (the peer\'s CREDENTIALS_TOKEN_A) is required');
      const tokenA = input.token ?? null;
      const d = await this.discover(input.versionsUrl, { ...(tokenA !== null ? { token: tokenA } : {}), encoding, ...(oauth ? { auth: oauth } : {}) });
      const theirCredentials = findEndpoint(d.endpoints, 'credentials')!;
      const tokenB = generateToken();
      // Stored before the POST: the peer calls our versions endpoint with B while it handles it.
      const pending = {
        state: 'registering' as const,
        ...this.issued(tokenB, 'B'),
        theirToken: tokenA,
        versionsUrl: input.versionsUrl,
        version: d.version,
        tokenEncoding: this.encodingAfter(encoding, d),
        endpoints: d.endpoints,
        auth: input.auth ?? null,
      };
      if (before) await this.deps.partners.update(id, { ...pending, ...(input.name ? { name: input.name } : {}) }, this.now());
      else await this.deps.partners.insert({ id, name: input.name ?? id, roles: [], registeredAt: null, ...pending }, this.now());
      const undo = async () => {
        if (before) await this.deps.partners.update(id, { ...this.cleared(), state: before.state === 'pending' ? 'unregistered' : before.state }, this.now());
        else await this.deps.partners.remove(id);
      };
      let creds: Credentials;
      try {
        const partnerNow = (await this.deps.partners.get(id))!;
        creds = await this.exchange('POST', theirCredentials.url, this.authFor(partnerNow, tokenA), this.ours(tokenB));
      } catch (err) {
        await undo();
        throw err;
      }
      const registered = await this.deps.partners.update(
        id,
        {
          state: 'registered',
          theirToken: creds.token,
          roles: creds.roles,
          registeredAt: this.now().toISOString(),
          // Named after the peer's business unless the operator named it.
          ...(!input.name && (!before || before.name === before.id) && creds.roles[0] ? { name: creds.roles[0].business_details.name } : {}),
        },
        this.now(),
      );
      this.deps.log.info({ partnerId: id, version: d.version }, 'registered with OCPI partner');
      return this.refreshAfter(registered!, creds);
    });
  }

  /** Rotate: send the peer a new token of ours (PUT) and take the new one it answers with. */
  async rotate(id: string): Promise<OcpiPartner> {
    return this.locked(id, async () => {
      const p = await this.deps.partners.get(id);
      if (!p) throw new UnknownPartnerError(id);
      if (p.state !== 'registered') throw new PartnerStateError(id, p.state, `OCPI partner '${id}' is ${p.state}, not registered`);
      const ep = findEndpoint(p.endpoints, 'credentials');
      if (!ep) throw new RegistrationError('no-matching-endpoints', OcpiStatus.NoMatchingEndpoints, `OCPI partner '${id}' lists no credentials endpoint`);
      const next = generateToken();
      await this.deps.partners.update(id, { ourNextTokenHash: hashToken(next) }, this.now());
      let creds: Credentials;
      try {
        creds = await this.exchange('PUT', ep.url, this.authFor(p, p.theirToken), this.ours(next));
      } catch (err) {
        await this.deps.partners.update(id, { ourNextTokenHash: null }, this.now());
        throw err;
      }
      const saved = await this.deps.partners.update(id, { ...this.issued(next, 'B'), theirToken: creds.token, roles: creds.roles }, this.now());
      this.deps.log.info({ partnerId: id }, 'OCPI credentials rotated');
      return this.refreshAfter(saved!, creds);
    });
  }

  /** Unregister at the peer (DELETE its credentials) and forget the partner; `force` forgets it even when the peer cannot be told. */
  async unregister(id: string, opts: { force?: boolean } = {}): Promise<{ peerInformed: boolean }> {
    return this.locked(id, async () => {
      const p = await this.deps.partners.get(id);
      if (!p) throw new UnknownPartnerError(id);
      let peerInformed = false;
      if (p.state === 'registered') {
        const ep = findEndpoint(p.endpoints, 'credentials');
        try {
          if (!ep) throw new RegistrationError('no-matching-endpoints', OcpiStatus.NoMatchingEndpoints, 'The partner lists no credentials endpoint');
          await this.call('DELETE', ep.url, this.authFor(p, p.theirToken));
          peerInformed = true;
        } catch (err) {
          if (!opts.force) throw err;
          this.deps.log.warn({ partnerId: id, err: (err as Error).message }, 'OCPI partner could not be told about the unregistration; forgotten anyway');
        }
      }
      await this.deps.partners.remove(id);
      this.deps.log.info({ partnerId: id, peerInformed }, 'OCPI partner removed');
      return { peerInformed };
    });
  }

  /** Their answer named another versions URL than we know: fetch the endpoints there with the new token. */
  private async refreshAfter(p: OcpiPartner, creds: Credentials): Promise<OcpiPartner> {
    if (creds.url === p.versionsUrl) return p;
    try {
      const d = await this.discover(creds.url, { token: creds.token, encoding: p.tokenEncoding, ...(p.auth ? { auth: this.deps.oauth(p.id, p.auth) } : {}) });
      return (await this.deps.partners.update(p.id, { versionsUrl: creds.url, version: d.version, endpoints: d.endpoints, tokenEncoding: this.encodingAfter(p.tokenEncoding, d) }, this.now()))!;
    } catch (err) {
      this.deps.log.warn({ partnerId: p.id, err: (err as Error).message }, 'OCPI partner gave a new versions URL we could not read; keeping the endpoints we have');
      return (await this.deps.partners.update(p.id, { versionsUrl: creds.url }, this.now()))!;
    }
  }

  private async call(method: 'POST' | 'PUT' | 'DELETE', url: string, auth: OutboundAuth, body?: Credentials) {
    let a;
    try {
      a = await this.deps.client.call<unknown>({ method, url, auth, ...(body ? { body } : {}) });
    } catch (err) {
      throw this.unreachable(err, `${method} ${url}`);
    }
    if (a.httpStatus < 200 || a.httpStatus > 299 || a.statusCode === undefined || a.statusCode < 1000 || a.statusCode > 1999) {
      const code = a.statusCode ?? OcpiStatus.UnableToUseClientApi;
      throw new RegistrationError(
        'refused',
        code,
        `The peer refused ${method} credentials: HTTP ${a.httpStatus}${a.statusCode !== undefined ? `, status_code ${a.statusCode}` : ''}${a.statusMessage ? ` (${a.statusMessage})` : ''}`,
        a.httpStatus,
        a.statusCode,
      );
    }
    return a;
  }

  /** POST/PUT our credentials; their answer must be Credentials. */
  private async exchange(method: 'POST' | 'PUT', url: string, auth: OutboundAuth, ours: Credentials): Promise<Credentials> {
    const a = await this.call(method, url, auth, ours);
    try {
      return parseCredentials(a.data);
    } catch (err) {
      throw new RegistrationError('invalid-answer', OcpiStatus.UnableToUseClientApi, `The peer answered ${method} credentials with no usable Credentials: ${(err as Error).message}`, a.httpStatus, a.statusCode);
    }
  }
}

/** The credentials endpoint (`{prefix}/2.2.1/credentials`): GET, POST, PUT, DELETE. */
export function credentialsModule(service: () => CredentialsService): OcpiModule<PartnerPrincipal> {
  return {
    identifier: 'credentials',
    kind: 'configuration',
    // "It is advised to send SENDER as the InterfaceRole for one's own credentials endpoint."
    interfaceRole: 'SENDER',
    path: CREDENTIALS_PATH,
    routes: [
      { method: 'GET', url: '', handler: async (req) => ({ data: service().get(req.credential) }) },
      { method: 'POST', url: '', handler: async (req) => ({ data: await service().acceptRegistration(req.principal, req.credential, req.body, req.correlationId) }) },
      { method: 'PUT', url: '', handler: async (req) => ({ data: await service().acceptUpdate(req.principal, req.credential, req.body, req.correlationId) }) },
      {
        method: 'DELETE',
        url: '',
        handler: async (req) => {
          await service().acceptUnregister(req.principal);
          return {};
        },
      },
    ],
  };
}

