/**
 * Smart charging in the CSMS (issue 5, I/O half): every charging profile Ampline sends goes through
 * here. The pure parts live in src/smart (model, validation, composite); this service adds what needs
 * I/O:
 *
 * - **Capabilities** of each station (1.6 configuration keys / 2.0.1 SmartChargingCtrlr variables),
 *   discovered lazily on first use, kept in `device_model`, forgotten on every boot.
 * - **Shadow store** (`charging_profiles`) of what each station has installed, written only from the
 *   station's answers: SetChargingProfile Accepted, ClearChargingProfile Accepted, 2.0.1
 *   ReportChargingProfiles, remote starts with a profile; TxProfiles are dropped when their transaction
 *   ends (the station discards them too).
 * - **Send paths** that validate before sending (K01 rules and the 1.6 equivalents, against the
 *   station's capabilities, EVSEs, active transactions and the shadow): a profile that breaks a rule is
 *   refused with {@link ProfileRejectedError} and nothing goes on the wire.
 *
 * Per station, set/clear/remote-start run one at a time, so validation always sees the shadow as the
 * previous command left it.
 */
import type { Kysely } from 'kysely';
import type { OCPP16, OCPP20 } from 'typed-ocpp';
import type { Database } from '../store/schema.js';
import type { DomainEvents } from './events.js';
import type { CommandOptions, CommandService } from './commands.js';
import type { Clock } from '../util/clock.js';
import type { Logger } from '../util/log.js';
import type { OcppProtocol } from '../ocpp/protocol.js';
import {
  fromOcpp201,
  toOcpp16,
  toOcpp201,
  type ChargingProfile,
  type MappingIssue,
  type ProfilePurpose,
} from '../smart/profile.js';
import { validateProfile, type StationCapabilities, type ValidationContext, type Violation } from '../smart/validate.js';
import { compositeSchedule, type CompositeSchedule, type EvseLimits } from '../smart/composite.js';
import { compareComposites, fromOcpp16Composite, fromOcpp201Composite, type CompositeDifference } from '../smart/composite-wire.js';
import { amps, epochMs, seconds, volts, type RateUnit } from '../smart/units.js';
import { KeyedQueue } from '../util/keyed-queue.js';

export type ProfileSource = 'api' | 'management' | 'balancer' | 'scsp' | 'remote-start' | 'station';

export interface ProfileRecord {
  stationId: string;
  profile: ChargingProfile;
  source: ProfileSource | `external:${string}`;
  installedAt: string;
}

/** A profile (or clear request) was refused before anything was sent; `violations` say why. */
export class ProfileRejectedError extends Error {
  constructor(
    readonly stationId: string,
    readonly violations: Violation[],
  ) {
    super(`charging profile refused for ${stationId}: ${violations.map((v) => `${v.code} (${v.requirement}): ${v.detail}`).join('; ')}`);
    this.name = 'ProfileRejectedError';
  }
}

/** The station's protocol has no such operation (e.g. GetChargingProfiles on 1.6). */
export class NotSupportedByProtocolError extends Error {
  constructor(
    readonly stationId: string,
    readonly protocol: OcppProtocol,
    readonly operation: string,
  ) {
    super(`${operation} is not available on ${protocol} (station ${stationId})`);
    this.name = 'NotSupportedByProtocolError';
  }
}

/** The station accepted GetChargingProfiles but its ReportChargingProfiles sequence did not complete in time. */
export class ReportTimeoutError extends Error {
  constructor(
    readonly stationId: string,
    readonly requestId: number,
    readonly timeoutMs: number,
  ) {
    super(`ReportChargingProfiles for request ${requestId} from ${stationId} did not complete within ${timeoutMs} ms`);
    this.name = 'ReportTimeoutError';
  }
}

export interface StationAnswer {
  /** The station's status (Accepted, Rejected, NotSupported, Unknown, NoProfiles, …). */
  status: string;
  statusInfo?: { reasonCode: string; additionalInfo?: string };
}

export interface SetResult extends StationAnswer {
  /** Installed profile ids the station replaced with this one (now gone from the shadow). */
  replaced: number[];
}

/** Which installed profiles to clear: by id, by criteria (any subset), or all (`{}`). */
export interface ClearSelector {
  id?: number;
  evseId?: number;
  purpose?: ProfilePurpose;
  stackLevel?: number;
}

export interface ClearResult extends StationAnswer {
  removed: number[];
}

export interface CompositeResult extends StationAnswer {
  /** The station's answer, in the model (absent unless Accepted). */
  schedule?: CompositeSchedule;
  /** What Ampline's shadow predicts for the same window and unit. */
  expected: CompositeSchedule;
  /** Where the two disagree (tolerance 0.1); empty when they agree or the station gave no schedule. */
  differences: CompositeDifference[];
}

export interface ReportCriteria {
  evseId?: number;
  /** 2.0.1 chargingProfileId list (OCTT TC_K_32). */
  ids?: number[];
  purpose?: ProfilePurpose;
  stackLevel?: number;
  /** 2.0.1 chargingLimitSource: CSO, EMS, SO, Other. */
  sources?: string[];
}

export interface ReportResult extends StationAnswer {
  profiles: Array<{ evseId: number; source: string; profile: ChargingProfile }>;
}

/** Conservative defaults when a station does not tell (and the K01 limits the simulator uses). */
export const DEFAULT_CAPABILITIES: StationCapabilities = { rateUnits: ['A', 'W'], maxStackLevel: 8, maxPeriodsPerSchedule: 24 };

const KEYS_16 = [
  'ChargeProfileMaxStackLevel',
  'ChargingScheduleAllowedChargingRateUnit',
  'ChargingScheduleMaxPeriods',
  'MaxChargingProfilesInstalled',
  'ConnectorSwitch3to1PhaseSupported',
] as const;

const VARS_201: ReadonlyArray<{ variable: string; instance?: string }> = [
  { variable: 'RateUnit' },
  { variable: 'ProfileStackLevel' },
  { variable: 'PeriodsPerSchedule' },
  { variable: 'Entries', instance: 'ChargingProfiles' },
  { variable: 'ACPhaseSwitchingSupported' },
];

/** Component under which 1.6 configuration keys are kept in `device_model`. */
export const OCPP16_CONFIG_COMPONENT = 'OCPP16Configuration';

const PURPOSE_TO_16: Partial<Record<ProfilePurpose, OCPP16.ClearChargingProfileRequest['chargingProfilePurpose']>> = {
  ChargingStationMaxProfile: 'ChargePointMaxProfile',
  TxDefaultProfile: 'TxDefaultProfile',
  TxProfile: 'TxProfile',
};

const DEFAULT_EVSE: EvseLimits = { maxCurrentA: amps(32), phases: 3, voltage: volts(230) };

function mappingViolations(issues: MappingIssue[]): Violation[] {
  const detail: Record<MappingIssue, [string, string]> = {
    ExternalConstraintsNotIn16: ['chargingProfilePurpose', 'OCPP 1.6 has no ChargingStationExternalConstraints'],
    MultipleSchedulesNotIn16: ['chargingSchedule', 'OCPP 1.6 takes exactly one schedule'],
    NoSchedule: ['chargingSchedule', 'no chargingSchedule'],
    PhaseToUseNotIn16: ['chargingSchedule[0].chargingSchedulePeriod', 'OCPP 1.6 has no phaseToUse'],
    TransactionIdNotInteger: ['transactionId', 'OCPP 1.6 transaction ids are integers'],
  };
  return issues.map((i) => ({
    code: i === 'TransactionIdNotInteger' ? 'TransactionIdNotInteger' : i === 'NoSchedule' ? 'NoSchedule' : i === 'MultipleSchedulesNotIn16' ? 'TooManySchedules' : i === 'ExternalConstraintsNotIn16' ? 'ExternalConstraintsByCsms' : 'PhaseToUseNotSupported',
    requirement: 'OCPP 1.6 message format',
    path: detail[i][0],
    detail: detail[i][1],
  }));
}

function answer(res: Record<string, unknown>): StationAnswer {
  const out: StationAnswer = { status: typeof res.status === 'string' ? res.status : 'Unknown' };
  const info = res.statusInfo as { reasonCode?: unknown; additionalInfo?: unknown } | undefined;
  if (info && typeof info.reasonCode === 'string') {
    out.statusInfo = { reasonCode: info.reasonCode, ...(typeof info.additionalInfo === 'string' ? { additionalInfo: info.additionalInfo } : {}) };
  }
  return out;
}

function matches(p: ChargingProfile, sel: ClearSelector): boolean {
  if (sel.id !== undefined) return p.id === sel.id;
  if (sel.evseId !== undefined && p.evseId !== sel.evseId) return false;
  if (sel.purpose !== undefined && p.chargingProfilePurpose !== sel.purpose) return false;
  if (sel.stackLevel !== undefined && p.stackLevel !== sel.stackLevel) return false;
  return true;
}

interface PendingReport {
  stationId: string;
  profiles: ReportResult['profiles'];
  done: () => void;
}

export class SmartChargingService {
  private readonly caps = new Map<string, { value: StationCapabilities; until: number }>();
  /** Per-station serialisation of commands that read and then change state. */
  private readonly queue = new KeyedQueue();
  private readonly reports = new Map<string, PendingReport>();
  /** Remote starts with a profile not yet bound to a transaction: `station\0profileId` → id tag. */
  private readonly remoteStarts = new Map<string, string>();
  private nextRequestId = Math.floor(Math.random() * 1_000_000);
  private unsubscribe: (() => void) | undefined;

  constructor(
    private readonly deps: {
      db: Kysely<Database>;
      clock: Clock;
      log: Logger;
      events: DomainEvents;
      /** Late-bound: the command service is created after the transport, which needs this service. */
      commands: () => CommandService;
      /** Bound on capability discovery calls. */
      discoveryTimeoutMs?: number;
    },
  ) {}

  /** Follow transactions (bind remote-start profiles, drop ended TxProfiles) and boots (re-discover). */
  start(): void {
    this.unsubscribe = this.deps.events.subscribe((e) => {
      if (e.type === 'StationBooted') {
        this.caps.delete(e.stationId);
        for (const k of this.remoteStarts.keys()) if (k.startsWith(`${e.stationId}\u0000`)) this.remoteStarts.delete(k);
      }
      if (e.type === 'TransactionEvent' && !e.duplicate) {
        const ev = e.event;
        const txId = ev.protocol === 'ocpp1.6' && ev.txNumber !== undefined ? String(ev.txNumber) : ev.ocppTxId;
        const work =
          ev.eventType === 'Ended'
            ? this.dropTransaction(ev.stationId, txId)
            : ev.evseId !== undefined
              ? this.bindRemoteStart(ev.stationId, ev.evseId, txId, ev.idToken?.idToken)
              : Promise.resolve();
        work.catch((err: unknown) => this.deps.log.error({ err, stationId: ev.stationId }, 'updating the profile shadow failed'));
      }
    });
  }

  stop(): void {
    this.unsubscribe?.();
    for (const r of this.reports.values()) r.done();
  }

  // ── shadow ──────────────────────────────────────────────────────────────────────────────────

  async installed(stationId: string): Promise<ProfileRecord[]> {
    const rows = await this.deps.db
      .selectFrom('charging_profiles')
      .selectAll()
      .where('station_id', '=', stationId)
      .orderBy('evse_id')
      .orderBy('purpose')
      .orderBy('stack_level')
      .orderBy('profile_id')
      .execute();
    return rows.map((r) => ({
      stationId: r.station_id,
      profile: JSON.parse(r.profile) as ChargingProfile,
      source: r.source as ProfileRecord['source'],
      installedAt: r.installed_at,
    }));
  }

  private async store(stationId: string, p: ChargingProfile, source: ProfileRecord['source'], replaced: readonly number[]): Promise<void> {
    const now = this.deps.clock.now().toISOString();
    await this.deps.db.transaction().execute(async (trx) => {
      if (replaced.length > 0) {
        await trx.deleteFrom('charging_profiles').where('station_id', '=', stationId).where('profile_id', 'in', [...replaced]).execute();
      }
      const row = {
        station_id: stationId,
        profile_id: p.id,
        evse_id: p.evseId,
        purpose: p.chargingProfilePurpose,
        stack_level: p.stackLevel,
        transaction_id: p.transactionId ?? null,
        source,
        profile: JSON.stringify(p),
        installed_at: now,
      };
      await trx
        .insertInto('charging_profiles')
        .values(row)
        .onConflict((oc) =>
          oc.columns(['station_id', 'profile_id']).doUpdateSet({
            evse_id: row.evse_id,
            purpose: row.purpose,
            stack_level: row.stack_level,
            transaction_id: row.transaction_id,
            source: row.source,
            profile: row.profile,
            installed_at: row.installed_at,
          }),
        )
        .execute();
    });
  }

  private async remove(stationId: string, ids: readonly number[]): Promise<void> {
    if (ids.length === 0) return;
    await this.deps.db.deleteFrom('charging_profiles').where('station_id', '=', stationId).where('profile_id', 'in', [...ids]).execute();
  }

  private async dropTransaction(stationId: string, transactionId: string): Promise<void> {
    await this.deps.db
      .deleteFrom('charging_profiles')
      .where('station_id', '=', stationId)
      .where('purpose', '=', 'TxProfile')
      .where('transaction_id', '=', transactionId)
      .execute();
  }

  /**
   * A TxProfile sent with a remote start has no transaction yet: bind it to the one that started on its
   * EVSE. A transaction of another id token is not the remote-started one: the station never applies the
   * profile to it (the remote start did not happen), so the profile leaves the shadow. `idTag` undefined
   * (2.0.1 event without a token, or a remote start from before a restart): bind.
   */
  private async bindRemoteStart(stationId: string, evseId: number, transactionId: string, idTag?: string): Promise<void> {
    const rows = await this.deps.db
      .selectFrom('charging_profiles')
      .select(['profile_id', 'profile'])
      .where('station_id', '=', stationId)
      .where('purpose', '=', 'TxProfile')
      .where('transaction_id', 'is', null)
      .where((eb) => eb.or([eb('evse_id', '=', evseId), eb('evse_id', '=', 0)]))
      .execute();
    for (const r of rows) {
      const key = `${stationId}\u0000${r.profile_id}`;
      const expected = this.remoteStarts.get(key);
      this.remoteStarts.delete(key);
      if (expected !== undefined && idTag !== undefined && expected.toLowerCase() !== idTag.toLowerCase()) {
        await this.remove(stationId, [r.profile_id]);
        continue;
      }
      const p = { ...(JSON.parse(r.profile) as ChargingProfile), transactionId, evseId };
      await this.deps.db
        .updateTable('charging_profiles')
        .set({ transaction_id: transactionId, evse_id: evseId, profile: JSON.stringify(p) })
        .where('station_id', '=', stationId)
        .where('profile_id', '=', r.profile_id)
        .execute();
    }
  }

  // ── capabilities ────────────────────────────────────────────────────────────────────────────

  /** What the station accepts: from the cache, else from `device_model`, else asked (then defaults). */
  async capabilities(stationId: string, protocol: OcppProtocol, timeoutMs?: number): Promise<StationCapabilities> {
    const hit = this.caps.get(stationId);
    const now = this.deps.clock.now().getTime();
    if (hit && hit.until > now) return hit.value;
    let found = await this.readCapabilities(stationId, protocol);
    if (!found) {
      try {
        await this.discover(stationId, protocol, timeoutMs);
        found = await this.readCapabilities(stationId, protocol);
      } catch (err) {
        this.deps.log.warn({ err, stationId }, 'smart-charging capability discovery failed; using defaults');
      }
    }
    const value = found ?? DEFAULT_CAPABILITIES;
    // Known values are kept until the next boot; defaults are retried after a minute.
    this.caps.set(stationId, { value, until: found ? Number.POSITIVE_INFINITY : now + 60_000 });
    return value;
  }

  /** Ask the station for its smart-charging limits and keep the answer in `device_model`. */
  async discover(stationId: string, protocol: OcppProtocol, timeoutMs?: number): Promise<void> {
    // Never wait longer than the caller is prepared to wait for the command itself.
    const opts = { timeoutMs: Math.min(this.deps.discoveryTimeoutMs ?? 10_000, timeoutMs ?? Number.POSITIVE_INFINITY) };
    const now = this.deps.clock.now().toISOString();
    const rows: Array<{ component: string; variable: string; instance: string; value: string }> = [];
    if (protocol === 'ocpp1.6') {
      const res = (await this.deps.commands().send(stationId, 'GetConfiguration', { key: [...KEYS_16] }, opts)) as unknown as OCPP16.GetConfigurationResponse;
      for (const k of res.configurationKey ?? []) {
        if (k.value !== undefined) rows.push({ component: OCPP16_CONFIG_COMPONENT, variable: k.key, instance: '', value: k.value });
      }
    } else {
      const res = (await this.deps.commands().send(
        stationId,
        'GetVariables',
        {
          getVariableData: VARS_201.map((v) => ({
            component: { name: 'SmartChargingCtrlr' },
            variable: { name: v.variable, ...(v.instance ? { instance: v.instance } : {}) },
          })),
        },
        opts,
      )) as unknown as OCPP20.GetVariablesResponse;
      for (const r of res.getVariableResult) {
        if (r.attributeStatus === 'Accepted' && r.attributeValue !== undefined) {
          rows.push({ component: 'SmartChargingCtrlr', variable: r.variable.name, instance: r.variable.instance ?? '', value: r.attributeValue });
        }
      }
    }
    // Mark discovery as done even when the station knows none of the keys.
    rows.push({ component: 'Ampline', variable: 'SmartChargingDiscovered', instance: '', value: now });
    await this.deps.db.transaction().execute(async (trx) => {
      for (const r of rows) {
        const values = {
          station_id: stationId,
          component: r.component,
          component_instance: '',
          evse_id: 0,
          connector_id: 0,
          variable: r.variable,
          variable_instance: r.instance,
          attribute_type: 'Actual',
          value: r.value,
          mutability: null,
          data_type: null,
          updated_at: now,
        };
        await trx
          .insertInto('device_model')
          .values(values)
          .onConflict((oc) =>
            oc
              .columns(['station_id', 'component', 'component_instance', 'evse_id', 'connector_id', 'variable', 'variable_instance', 'attribute_type'])
              .doUpdateSet({ value: values.value, updated_at: now }),
          )
          .execute();
      }
    });
  }

  private async readCapabilities(stationId: string, protocol: OcppProtocol): Promise<StationCapabilities | undefined> {
    const rows = await this.deps.db
      .selectFrom('device_model')
      .select(['component', 'variable', 'variable_instance', 'value', 'updated_at'])
      .where('station_id', '=', stationId)
      .where('component', 'in', [protocol === 'ocpp1.6' ? OCPP16_CONFIG_COMPONENT : 'SmartChargingCtrlr', 'Ampline'])
      .where('evse_id', '=', 0)
      .where('attribute_type', '=', 'Actual')
      .execute();
    const marker = rows.find((r) => r.component === 'Ampline' && r.variable === 'SmartChargingDiscovered');
    if (!marker) return undefined;
    const get = (name: string, instance = ''): string | undefined =>
      rows.find((r) => r.component !== 'Ampline' && r.variable === name && r.variable_instance === instance)?.value ?? undefined;
    const int = (s: string | undefined): number | undefined => {
      const n = s === undefined ? NaN : Number(s);
      return Number.isInteger(n) && n >= 0 ? n : undefined;
    };
    const bool = (s: string | undefined): boolean | undefined => (s === undefined ? undefined : s.trim().toLowerCase() === 'true');
    const units = (s: string | undefined): RateUnit[] | undefined => {
      if (s === undefined) return undefined;
      const out = new Set<RateUnit>();
      for (const part of s.split(',').map((x) => x.trim())) {
        if (part === 'Current' || part === 'A') out.add('A');
        if (part === 'Power' || part === 'W') out.add('W');
      }
      return out.size > 0 ? [...out] : undefined;
    };
    const caps: StationCapabilities =
      protocol === 'ocpp1.6'
        ? {
            rateUnits: units(get('ChargingScheduleAllowedChargingRateUnit')) ?? DEFAULT_CAPABILITIES.rateUnits,
            maxStackLevel: int(get('ChargeProfileMaxStackLevel')) ?? DEFAULT_CAPABILITIES.maxStackLevel,
            maxPeriodsPerSchedule: int(get('ChargingScheduleMaxPeriods')) ?? DEFAULT_CAPABILITIES.maxPeriodsPerSchedule,
          }
        : {
            rateUnits: units(get('RateUnit')) ?? DEFAULT_CAPABILITIES.rateUnits,
            maxStackLevel: int(get('ProfileStackLevel')) ?? DEFAULT_CAPABILITIES.maxStackLevel,
            maxPeriodsPerSchedule: int(get('PeriodsPerSchedule')) ?? DEFAULT_CAPABILITIES.maxPeriodsPerSchedule,
          };
    const maxInstalled = int(get(protocol === 'ocpp1.6' ? 'MaxChargingProfilesInstalled' : 'Entries', protocol === 'ocpp1.6' ? '' : 'ChargingProfiles'));
    if (maxInstalled !== undefined) caps.maxProfilesInstalled = maxInstalled;
    const switching = bool(get(protocol === 'ocpp1.6' ? 'ConnectorSwitch3to1PhaseSupported' : 'ACPhaseSwitchingSupported'));
    if (switching !== undefined) caps.phaseSwitching = switching;
    return caps;
  }

  // ── validation context ──────────────────────────────────────────────────────────────────────

  async activeTransactions(stationId: string): Promise<Array<{ transactionId: string; evseId: number; startedAt: string }>> {
    const rows = await this.deps.db
      .selectFrom('transactions')
      .select(['ocpp_tx_id', 'tx_number', 'protocol', 'evse_id', 'started_at'])
      .where('station_id', '=', stationId)
      .where('state', '=', 'active')
      .execute();
    return rows.map((r) => ({
      transactionId: r.protocol === 'ocpp1.6' && r.tx_number !== null ? String(r.tx_number) : r.ocpp_tx_id,
      evseId: r.evse_id,
      startedAt: r.started_at,
    }));
  }

  private async evseIds(stationId: string): Promise<number[]> {
    const [evses, connectors] = await Promise.all([
      this.deps.db.selectFrom('evses').select('evse_id').where('station_id', '=', stationId).where('evse_id', '>', 0).execute(),
      this.deps.db.selectFrom('connectors').select('evse_id').where('station_id', '=', stationId).where('evse_id', '>', 0).execute(),
    ]);
    return [...new Set([0, ...evses.map((r) => r.evse_id), ...connectors.map((r) => r.evse_id)])].sort((a, b) => a - b);
  }

  /** Everything {@link validateProfile} needs about the station, now. */
  async validationContext(stationId: string, protocol: OcppProtocol, via: ValidationContext['via'], timeoutMs?: number): Promise<ValidationContext> {
    const [capabilities, evseIds, active, installed] = await Promise.all([
      this.capabilities(stationId, protocol, timeoutMs),
      this.evseIds(stationId),
      this.activeTransactions(stationId),
      this.installed(stationId),
    ]);
    return {
      version: protocol === 'ocpp1.6' ? '1.6' : '2.0.1',
      capabilities,
      evseIds,
      activeTransactions: active.map(({ transactionId, evseId }) => ({ transactionId, evseId })),
      installed: installed.map((r) => r.profile),
      now: epochMs(this.deps.clock.now().getTime()),
      via,
    };
  }

  /** Validate without sending. Resolves the station's protocol (UnknownStation/Offline errors propagate). */
  async check(
    stationId: string,
    p: ChargingProfile,
    via: ValidationContext['via'] = 'SetChargingProfile',
    timeoutMs?: number,
  ): Promise<{ protocol: OcppProtocol; violations: Violation[]; replaces: number[] }> {
    const protocol = await this.deps.commands().target(stationId);
    const ctx = await this.validationContext(stationId, protocol, via, timeoutMs);
    const res = validateProfile(p, ctx);
    const violations = res.ok ? [] : [...res.violations];
    if (protocol === 'ocpp1.6') {
      const mapped = toOcpp16(p);
      if (!mapped.ok) {
        for (const v of mappingViolations(mapped.issues)) if (!violations.some((x) => x.code === v.code)) violations.push(v);
      }
    }
    return { protocol, violations, replaces: res.ok ? res.replaces : [] };
  }


  // ── send paths ──────────────────────────────────────────────────────────────────────────────

  /** Validate, send SetChargingProfile, and record the profile when the station accepts it. */
  set(stationId: string, p: ChargingProfile, opts: CommandOptions & { source?: ProfileSource } = {}): Promise<SetResult> {
    return this.queue.run(stationId, async () => {
      const { protocol, violations, replaces } = await this.check(stationId, p, 'SetChargingProfile', opts.timeoutMs);
      if (violations.length > 0) throw new ProfileRejectedError(stationId, violations);
      const payload = protocol === 'ocpp1.6' ? (toOcpp16(p) as { ok: true; value: OCPP16.SetChargingProfileRequest }).value : toOcpp201(p);
      const res = answer(await this.deps.commands().send(stationId, 'SetChargingProfile', payload, opts));
      if (res.status !== 'Accepted') return { ...res, replaced: [] };
      await this.store(stationId, p, opts.source ?? 'api', replaces);
      this.deps.events.publish({ type: 'ChargingProfilesChanged', stationId, evseIds: [p.evseId] });
      return { ...res, replaced: replaces.filter((id) => id !== p.id) };
    });
  }

  /** ClearChargingProfile by id, by criteria, or all; the shadow follows an Accepted answer. */
  clear(stationId: string, sel: ClearSelector, opts: CommandOptions = {}): Promise<ClearResult> {
    return this.queue.run(stationId, async () => {
      const protocol = await this.deps.commands().target(stationId);
      // By purpose, or by the id of an external constraint in the shadow (the station would clear it by
      // id, and the shadow, which never drops external constraints on a clear, would keep it).
      const byId = sel.id === undefined ? undefined : (await this.installed(stationId)).find((r) => r.profile.id === sel.id);
      if (sel.purpose === 'ChargingStationExternalConstraints' || byId?.profile.chargingProfilePurpose === 'ChargingStationExternalConstraints') {
        throw new ProfileRejectedError(stationId, [
          {
            code: 'ExternalConstraintsByCsms',
            requirement: protocol === 'ocpp1.6' ? '1.6 has no ChargingStationExternalConstraints' : 'K10.FR.05',
            path: sel.purpose === 'ChargingStationExternalConstraints' ? 'chargingProfilePurpose' : 'id',
            detail: 'ChargingStationExternalConstraints are not cleared by the CSMS',
          },
        ]);
      }
      let payload: object;
      if (protocol === 'ocpp1.6') {
        const p16: OCPP16.ClearChargingProfileRequest = {};
        if (sel.id !== undefined) p16.id = sel.id;
        if (sel.evseId !== undefined) p16.connectorId = sel.evseId;
        if (sel.purpose !== undefined) p16.chargingProfilePurpose = PURPOSE_TO_16[sel.purpose];
        if (sel.stackLevel !== undefined) p16.stackLevel = sel.stackLevel;
        payload = p16;
      } else if (sel.id !== undefined) {
        payload = { chargingProfileId: sel.id };
      } else {
        const c: NonNullable<OCPP20.ClearChargingProfileRequest['chargingProfileCriteria']> = {};
        if (sel.evseId !== undefined) c.evseId = sel.evseId;
        if (sel.purpose !== undefined) c.chargingProfilePurpose = sel.purpose as typeof c.chargingProfilePurpose;
        if (sel.stackLevel !== undefined) c.stackLevel = sel.stackLevel;
        payload = Object.keys(c).length > 0 ? { chargingProfileCriteria: c } : {};
      }
      const res = answer(await this.deps.commands().send(stationId, 'ClearChargingProfile', payload, opts));
      if (res.status !== 'Accepted') return { ...res, removed: [] };
      const installed = await this.installed(stationId);
      const removed = installed
        .filter((r) => r.profile.chargingProfilePurpose !== 'ChargingStationExternalConstraints' && matches(r.profile, sel))
        .map((r) => r.profile.id);
      await this.remove(stationId, removed);
      if (removed.length > 0) this.deps.events.publish({ type: 'ChargingProfilesChanged', stationId, evseIds: [...new Set(installed.filter((r) => removed.includes(r.profile.id)).map((r) => r.profile.evseId))] });
      return { ...res, removed };
    });
  }

  /** Physical limits of an EVSE for the prediction (connector data, else 32 A three-phase 230 V). */
  private async evseLimits(stationId: string, evseId: number): Promise<EvseLimits> {
    const rows = await this.deps.db
      .selectFrom('connectors')
      .select(['evse_id', 'phases', 'max_current_a', 'max_voltage_v'])
      .where('station_id', '=', stationId)
      .where('connector_id', '>', 0)
      .execute();
    const mine = rows.filter((r) => evseId === 0 || r.evse_id === evseId);
    if (mine.length === 0) return DEFAULT_EVSE;
    const current = mine.map((r) => r.max_current_a).filter((x): x is number => x !== null);
    const phases = mine.map((r) => r.phases).filter((x): x is number => x !== null);
    const voltage = mine.map((r) => r.max_voltage_v).filter((x): x is number => x !== null);
    const maxCurrentA = current.length === 0 ? DEFAULT_EVSE.maxCurrentA : evseId === 0 ? current.reduce((a, b) => a + b, 0) : Math.max(...current);
    // Connector voltage may be given line-to-line (400 V): the W↔A conversion needs line-to-neutral.
    const v = voltage.length === 0 ? 230 : Math.max(...voltage) > 300 ? Math.round(Math.max(...voltage) / Math.sqrt(3)) : Math.max(...voltage);
    return { maxCurrentA: amps(maxCurrentA), phases: phases.length === 0 ? 3 : Math.max(...phases), voltage: volts(v) };
  }

  /** Ampline's own composite for an EVSE from the shadow (no station call). */
  async predictComposite(stationId: string, evseId: number, durationS: number, unit: RateUnit): Promise<CompositeSchedule> {
    const [installed, active, evse] = await Promise.all([this.installed(stationId), this.activeTransactions(stationId), this.evseLimits(stationId, evseId)]);
    const tx = evseId > 0 ? active.find((t) => t.evseId === evseId) : undefined;
    return compositeSchedule({
      profiles: installed.map((r) => r.profile),
      evseId,
      now: epochMs(this.deps.clock.now().getTime()),
      duration: seconds(durationS),
      unit,
      evse,
      ...(tx ? { transaction: { id: tx.transactionId, start: epochMs(Date.parse(tx.startedAt)) } } : {}),
    });
  }

  /** GetCompositeSchedule, with Ampline's prediction and the differences between the two. */
  async composite(stationId: string, evseId: number, durationS: number, unit: RateUnit | undefined, opts: CommandOptions = {}): Promise<CompositeResult> {
    const protocol = await this.deps.commands().target(stationId);
    const evseIds = await this.evseIds(stationId);
    if (!evseIds.includes(evseId)) {
      throw new ProfileRejectedError(stationId, [
        { code: 'EvseUnknown', requirement: protocol === 'ocpp1.6' ? '1.6 §5.7 connectorId' : 'K08.FR.05', path: 'evseId', detail: `EVSE ${evseId} does not exist` },
      ]);
    }
    if (!Number.isInteger(durationS) || durationS <= 0) {
      throw new ProfileRejectedError(stationId, [
        { code: 'DurationInvalid', requirement: 'GetCompositeSchedule.duration integer > 0', path: 'duration', detail: `duration ${durationS}` },
      ]);
    }
    let schedule: CompositeSchedule | undefined;
    let res: StationAnswer;
    if (protocol === 'ocpp1.6') {
      const req: OCPP16.GetCompositeScheduleRequest = { connectorId: evseId, duration: durationS, ...(unit ? { chargingRateUnit: unit } : {}) };
      const raw = (await this.deps.commands().send(stationId, 'GetCompositeSchedule', req, opts)) as unknown as OCPP16.GetCompositeScheduleResponse;
      res = answer(raw as unknown as Record<string, unknown>);
      schedule = fromOcpp16Composite(raw, { connectorId: evseId, duration: durationS });
    } else {
      const req: OCPP20.GetCompositeScheduleRequest = { evseId, duration: durationS, ...(unit ? { chargingRateUnit: unit } : {}) };
      const raw = (await this.deps.commands().send(stationId, 'GetCompositeSchedule', req, opts)) as unknown as OCPP20.GetCompositeScheduleResponse;
      res = answer(raw as unknown as Record<string, unknown>);
      schedule = raw.status === 'Accepted' && raw.schedule ? fromOcpp201Composite(raw.schedule) : undefined;
    }
    const expectedUnit: RateUnit = unit ?? schedule?.chargingRateUnit ?? (await this.capabilities(stationId, protocol)).rateUnits[0] ?? 'A';
    const expected = await this.predictComposite(stationId, evseId, durationS, expectedUnit);
    const differences = schedule ? compareComposites(expected, schedule, 0.1) : [];
    return { ...res, ...(schedule ? { schedule } : {}), expected, differences };
  }

  /**
   * 2.0.1 GetChargingProfiles: collects the ReportChargingProfiles parts (until `tbc` is false) and
   * refreshes the shadow with them; an unfiltered report replaces the shadow entirely.
   */
  report(stationId: string, criteria: ReportCriteria, opts: CommandOptions = {}): Promise<ReportResult> {
    return this.queue.run(stationId, async () => {
      const protocol = await this.deps.commands().target(stationId);
      if (protocol === 'ocpp1.6') throw new NotSupportedByProtocolError(stationId, protocol, 'GetChargingProfiles');
      const requestId = ++this.nextRequestId;
      const key = `${stationId}\u0000${requestId}`;
      const profiles: ReportResult['profiles'] = [];
      let finished!: () => void;
      const complete = new Promise<void>((resolve) => (finished = resolve));
      this.reports.set(key, { stationId, profiles, done: finished });
      try {
        const c: OCPP20.GetChargingProfilesRequest['chargingProfile'] = {};
        if (criteria.purpose !== undefined) c.chargingProfilePurpose = criteria.purpose;
        if (criteria.stackLevel !== undefined) c.stackLevel = criteria.stackLevel;
        if (criteria.sources !== undefined && criteria.sources.length > 0) c.chargingLimitSource = criteria.sources as typeof c.chargingLimitSource;
        if (criteria.ids !== undefined && criteria.ids.length > 0) c.chargingProfileId = [...criteria.ids];
        const unfiltered = Object.keys(c).length === 0;
        // K09.FR.03: at least one criterion. Every source is the same as no filter.
        const sent = unfiltered ? { chargingLimitSource: ['CSO', 'EMS', 'SO', 'Other'] as NonNullable<typeof c.chargingLimitSource> } : c;
        const req: OCPP20.GetChargingProfilesRequest = { requestId, chargingProfile: sent, ...(criteria.evseId !== undefined ? { evseId: criteria.evseId } : {}) };
        const timeoutMs = opts.timeoutMs ?? 30_000;
        const res = answer(await this.deps.commands().send(stationId, 'GetChargingProfiles', req, { timeoutMs }));
        if (res.status !== 'Accepted') {
          if (res.status === 'NoProfiles' && Object.keys(c).length === 0 && criteria.evseId === undefined) await this.replaceShadow(stationId, []);
          return { ...res, profiles: [] };
        }
        let timer: NodeJS.Timeout | undefined;
        const timedOut = await Promise.race([
          complete.then(() => false),
          new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), timeoutMs))),
        ]);
        clearTimeout(timer);
        if (timedOut) throw new ReportTimeoutError(stationId, requestId, timeoutMs);
        if (Object.keys(c).length === 0 && criteria.evseId === undefined) await this.replaceShadow(stationId, profiles);
        else await this.storeReported(stationId, profiles);
        return { ...res, profiles };
      } finally {
        this.reports.delete(key);
      }
    });
  }

  /**
   * Who a reported profile belongs to. A CSO profile Ampline already has in the shadow keeps its source
   * (api, balancer, remote-start, …): a report confirms it, it does not make it the station's.
   */
  private reportedSource(chargingLimitSource: string, id: number, known: ReadonlyMap<number, ProfileRecord['source']>): ProfileRecord['source'] {
    return chargingLimitSource === 'CSO' ? (known.get(id) ?? 'station') : `external:${chargingLimitSource}`;
  }

  private async knownSources(stationId: string): Promise<Map<number, ProfileRecord['source']>> {
    return new Map((await this.installed(stationId)).map((r) => [r.profile.id, r.source]));
  }

  /** Record reported profiles (update or add; nothing is removed). */
  private async storeReported(stationId: string, profiles: ReportResult['profiles']): Promise<void> {
    const known = await this.knownSources(stationId);
    for (const r of profiles) await this.store(stationId, r.profile, this.reportedSource(r.source, r.profile.id, known), []);
  }

  private async replaceShadow(stationId: string, profiles: ReportResult['profiles']): Promise<void> {
    const known = await this.knownSources(stationId);
    await this.deps.db.deleteFrom('charging_profiles').where('station_id', '=', stationId).execute();
    for (const r of profiles) await this.store(stationId, r.profile, this.reportedSource(r.source, r.profile.id, known), []);
    this.deps.events.publish({ type: 'ChargingProfilesChanged', stationId, evseIds: [...new Set(profiles.map((r) => r.evseId))] });
  }

  /** 2.0.1 ReportChargingProfiles from a station (called by the OCPP handler). */
  async onReport(stationId: string, req: OCPP20.ReportChargingProfilesRequest): Promise<void> {
    const pending = this.reports.get(`${stationId}\u0000${req.requestId}`);
    const parsed = req.chargingProfile.map((cp) => ({ evseId: req.evseId, source: req.chargingLimitSource, profile: fromOcpp201(req.evseId, cp) }));
    if (pending) {
      pending.profiles.push(...parsed);
      if (!req.tbc) pending.done();
      return;
    }
    // Unsolicited (or late) report: still the station's truth about these profiles.
    await this.storeReported(stationId, parsed);
  }

  /**
   * Remote start with a TxProfile (1.6 TC_059, 2.0.1 K_37): validated as a remote-start profile,
   * recorded without a transaction and bound to the transaction when it starts on that EVSE.
   */
  remoteStartWithProfile(
    stationId: string,
    evseId: number,
    idTag: string,
    p: ChargingProfile,
    opts: CommandOptions = {},
  ): Promise<StationAnswer> {
    return this.queue.run(stationId, async () => {
      const { protocol, violations } = await this.check(stationId, { ...p, evseId }, 'RemoteStart', opts.timeoutMs);
      if (violations.length > 0) throw new ProfileRejectedError(stationId, violations);
      let wire: object;
      if (protocol === 'ocpp1.6') {
        wire = (toOcpp16({ ...p, evseId }) as { ok: true; value: OCPP16.SetChargingProfileRequest }).value.csChargingProfiles;
      } else {
        wire = toOcpp201({ ...p, evseId }).chargingProfile;
      }
      const sentAt = this.deps.clock.now().getTime();
      const res = answer(await this.deps.commands().remoteStart(stationId, evseId, idTag, opts, wire));
      if (res.status !== 'Accepted') return res;
      this.remoteStarts.set(`${stationId}\u0000${p.id}`, idTag);
      await this.store(stationId, { ...p, evseId }, 'remote-start', []);
      // The transaction may have started before the answer arrived (2.0.1 stations often send
      // TransactionEvent Started first): bind to it now rather than waiting for an event already gone.
      const started = await this.deps.db
        .selectFrom('transactions')
        .select(['ocpp_tx_id', 'tx_number', 'protocol', 'started_at', 'id_token'])
        .where('station_id', '=', stationId)
        .where('evse_id', '=', evseId)
        .where('state', '=', 'active')
        .orderBy('started_at', 'desc')
        .executeTakeFirst();
      if (started && Date.parse(started.started_at) >= sentAt - 60_000) {
        const txId = started.protocol === 'ocpp1.6' && started.tx_number !== null ? String(started.tx_number) : started.ocpp_tx_id;
        await this.bindRemoteStart(stationId, evseId, txId, started.id_token ?? undefined);
      }
      this.deps.events.publish({ type: 'ChargingProfilesChanged', stationId, evseIds: [evseId] });
      return res;
    });
  }
}
