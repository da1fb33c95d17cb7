/**
 * OCPP 1.6 CSMS-initiated messages: one handler per action, grouped by 1.6 feature profile. The table
 * `satisfies HandlerTable<Inbound16, Station>`, so an action without a handler fails the build.
 * Follow-up messages (status notifications, the triggered message, firmware steps) are sent after the
 * CALLRESULT (`afterReply`).
 */
import type { OCPP16 } from 'typed-ocpp';
import type { HandlerTable, Inbound16 } from './actions.js';
import { connectorStatus, type ConnectorState, type EvseState } from './types.js';
import { from16, purposeFrom16, type ClearFilter } from './profiles.js';
import { settingFor16 } from './settings.js';
import { call16 } from './protocol16.js';
import { clearProfiles, checkProfile, installProfile } from './smart.js';
import type { Station } from './station.js';
import { steps, uploadLog } from './sequence.js';
import type { AuthStatus } from './driver.js';

type Target = { kind: 'station' } | { kind: 'connector'; e: EvseState; c: ConnectorState } | { kind: 'unknown' };

/** 1.6 connectorId → the station (0) or an EVSE's connector. */
function target(st: Station, connectorId: number | undefined): Target {
  if (connectorId === 0) return { kind: 'station' };
  const hit = connectorId === undefined ? undefined : st.byGlobalConnector(connectorId);
  return hit ? { kind: 'connector', ...hit } : { kind: 'unknown' };
}

const log = (st: Station, what: string) => (err: Error) => st.log('warn', `${what} failed`, { error: err.message });

type FirmwareStatus16 = OCPP16.FirmwareStatusNotificationRequest['status'];
const FIRMWARE_16: readonly FirmwareStatus16[] = ['Downloaded', 'DownloadFailed', 'Downloading', 'Idle', 'InstallationFailed', 'Installing', 'Installed'];

function firmwareStatus16(s: string): FirmwareStatus16 {
  return (FIRMWARE_16 as readonly string[]).includes(s) ? (s as FirmwareStatus16) : 'Idle';
}

/** Scope of a trigger: connectorId absent = everything, 0 = the station, n = one connector. */
type Scope = { kind: 'all' } | Target;

/** Send the message a TriggerMessage / ExtendedTriggerMessage asked for (1.6 §5.17, security ext. §2.5). */
async function sendTriggered(st: Station, what: string, t: Scope): Promise<void> {
  switch (what) {
    case 'BootNotification':
      return st.triggeredBoot();
    case 'Heartbeat':
      return st.driver.heartbeat();
    case 'DiagnosticsStatusNotification':
      await call16(st, 'DiagnosticsStatusNotification', { status: st.diagnosticsStatus });
      return;
    case 'FirmwareStatusNotification':
      await call16(st, 'FirmwareStatusNotification', { status: firmwareStatus16(st.firmwareStatus) });
      return;
    case 'LogStatusNotification': {
      const req: OCPP16.LogStatusNotificationRequest = { status: st.logStatus.status };
      if (st.logStatus.requestId !== undefined) req.requestId = st.logStatus.requestId;
      await call16(st, 'LogStatusNotification', req);
      return;
    }
    case 'MeterValues':
      for (const e of t.kind === 'connector' ? [t.e] : st.evses) await st.sendMeterValues(e.id, 'Trigger');
      return;
    case 'StatusNotification':
      if (t.kind === 'station') await st.driver.status(undefined, undefined, st.stationOperative ? 'Available' : 'Unavailable');
      else if (t.kind === 'connector') await st.sendStatusNow({ e: t.e, c: t.c });
      else await st.sendStatusNow();
      return;
  }
}


export const HANDLERS16 = {
  // ── Core ──────────────────────────────────────────────────────────────────────────────────
  ChangeAvailability(st, req) {
    const t = target(st, req.connectorId);
    if (t.kind === 'unknown') return { status: 'Rejected' };
    return { status: st.setAvailability(t.kind === 'station' ? undefined : t.e.id, req.type === 'Operative') };
  },

  ChangeConfiguration(st, req) {
    const status = st.config16?.change(req.key, req.value) ?? 'NotSupported';
    if (status === 'Accepted') st.afterReply(() => st.onSettingChanged(settingFor16(req.key)));
    return { status };
  },

  ClearCache(st) {
    st.authCache = undefined;
    return { status: 'Accepted' };
  },

  DataTransfer(st, req) {
    if (req.vendorId !== (st.opts.vendor ?? 'Ampline')) return { status: 'UnknownVendorId' };
    if (req.messageId !== 'Echo') return { status: 'UnknownMessageId' };
    return req.data === undefined ? { status: 'Accepted' } : { status: 'Accepted', data: req.data };
  },

  GetConfiguration(st, req) {
    const { configurationKey, unknownKey } = st.config16?.read(req.key) ?? { configurationKey: [], unknownKey: req.key ?? [] };
    const res: OCPP16.GetConfigurationResponse = { configurationKey };
    if (unknownKey.length > 0) res.unknownKey = unknownKey;
    return res;
  },

  RemoteStartTransaction(st, req) {
    const cp = req.chargingProfile;
    // 1.6 §5.11: the profile SHALL be a TxProfile, its transactionId is not set (the transaction does not exist yet).
    if (cp && (cp.chargingProfilePurpose !== 'TxProfile' || cp.transactionId !== undefined)) return { status: 'Rejected' };
    let chosen: { e: EvseState; c: ConnectorState } | undefined;
    if (req.connectorId !== undefined) {
      chosen = req.connectorId > 0 ? st.byGlobalConnector(req.connectorId) : undefined;
    } else {
      // No connector given: the one with a waiting EV, else the first available one.
      const all = st.allConnectors();
      chosen =
        all.find(({ e, c }) => e.plugged?.connectorId === c.id && !e.tx) ??
        all.find(({ e, c }) => connectorStatus(e, c, st.stationOperative) === 'Available');
    }
    if (!chosen) return { status: 'Rejected' };
    const { e, c } = chosen;
    const status = connectorStatus(e, c, st.stationOperative);
    if ((e.tx && !e.tx.ended) || status === 'Unavailable' || status === 'Faulted') return { status: 'Rejected' };
    if (e.reservation && e.reservation.idTag !== req.idTag) return { status: 'Rejected' };
    const now = st.nowMs();
    const mapped = cp ? from16(e.id, cp, now) : undefined;
    if (mapped && !mapped.ok) return { status: 'Rejected' };
    if (mapped?.ok && !checkProfile(st, mapped.profile, { remoteStart: true }).ok) return { status: 'Rejected' };
    st.afterReply(() =>
      st
        .startSession({
          evseId: e.id,
          connectorId: c.id,
          idTag: req.idTag,
          remote: true,
          onStarted: (tx) => {
            // TC_059: the TxProfile applies to the new transaction once its id is known.
            if (mapped?.ok && tx.csmsId !== undefined) {
              installProfile(st, { ...mapped.profile, transactionId: String(tx.csmsId), installedAt: st.nowMs() });
            }
          },
        })
        .then(() => undefined, log(st, 'remote start')),
    );
    return { status: 'Accepted' };
  },

  RemoteStopTransaction(st, req) {
    const e = st.evseByTransaction(req.transactionId);
    if (!e) return { status: 'Rejected' };
    st.afterReply(() => st.stopSession(e.id, 'Remote').catch(log(st, 'remote stop')));
    return { status: 'Accepted' };
  },

  Reset(st, req) {
    st.afterReply(() => st.reboot('RemoteReset', req.type === 'Hard' ? 'HardReset' : 'SoftReset'));
    return { status: 'Accepted' };
  },

  UnlockConnector(st, req) {
    const t = target(st, req.connectorId);
    if (t.kind !== 'connector') return { status: 'NotSupported' };
    if (t.e.tx && !t.e.tx.ended && t.e.tx.connectorId === t.c.id) {
      // 1.6 §5.18: a transaction on the connector is stopped first (reason UnlockCommand).
      st.afterReply(() => st.stopSession(t.e.id, 'UnlockCommand').catch(log(st, 'unlock stop')));
    }
    return { status: 'Unlocked' };
  },

  // ── Firmware Management ───────────────────────────────────────────────────────────────────
  GetDiagnostics(st) {
    const fileName = `${st.identity}-diagnostics-${st.nowIso().replace(/[:.]/g, '')}.log`;
    steps(st, [
      () => {
        st.diagnosticsStatus = 'Uploading';
        return call16(st, 'DiagnosticsStatusNotification', { status: 'Uploading' });
      },
      () => {
        st.diagnosticsStatus = 'Uploaded';
        return call16(st, 'DiagnosticsStatusNotification', { status: 'Uploaded' });
      },
    ]);
    return { fileName };
  },

  UpdateFirmware(st, req) {
    const startIn = Math.max(0, Date.parse(req.retrieveDate) - st.nowMs()) / (st.opts.clockSpeed ?? 1);
    const notify = (status: FirmwareStatus16) => () => {
      st.firmwareStatus = status;
      return call16(st, 'FirmwareStatusNotification', { status });
    };
    st.later(Math.min(startIn, 2 ** 31 - 1), () =>
      steps(st, [
        notify('Downloading'),
        notify('Downloaded'),
        notify('Installing'),
        async () => {
          st.onNextBoot(notify('Installed'));
          await st.reboot('FirmwareUpdate', 'Reboot');
        },
      ]),
    );
    return {};
  },

  // ── Local Auth List Management ────────────────────────────────────────────────────────────
  GetLocalListVersion(st) {
    if (!st.settings.bool('localListEnabled', true)) return { listVersion: -1 };
    return { listVersion: st.localListVersion };
  },

  SendLocalList(st, req) {
    if (!st.settings.bool('localListEnabled', true)) return { status: 'NotSupported' };
    const entries = req.localAuthorizationList ?? [];
    const max = Number.parseInt(st.config16?.get('SendLocalListMaxLength') ?? '100', 10);
    if (entries.length > max) return { status: 'Failed' };
    if (req.updateType === 'Differential' && req.listVersion <= st.localListVersion) return { status: 'VersionMismatch' };
    const list = req.updateType === 'Full' ? new Map<string, AuthStatus>() : (st.localList ?? new Map<string, AuthStatus>());
    for (const entry of entries) {
      if (entry.idTagInfo) list.set(entry.idTag, entry.idTagInfo.status);
      else list.delete(entry.idTag);
    }
    st.localList = list.size > 0 ? list : undefined;
    st.localListVersion = req.listVersion;
    return { status: 'Accepted' };
  },

  // ── Reservation ───────────────────────────────────────────────────────────────────────────
  ReserveNow(st, req) {
    if (req.connectorId === 0) return { status: 'Rejected' }; // ReserveConnectorZeroSupported = false
    const t = target(st, req.connectorId);
    if (t.kind !== 'connector') return { status: 'Rejected' };
    const expiresAt = Date.parse(req.expiryDate);
    if (Number.isNaN(expiresAt) || expiresAt <= st.nowMs()) return { status: 'Rejected' };
    const status = connectorStatus(t.e, t.c, st.stationOperative);
    if (status === 'Faulted') return { status: 'Faulted' };
    if (status === 'Unavailable') return { status: 'Unavailable' };
    if (status === 'Reserved' && t.e.reservation?.id !== req.reservationId) return { status: 'Occupied' };
    if (status !== 'Available' && status !== 'Reserved') return { status: 'Occupied' };
    st.reserve(t.e, req.reservationId, req.idTag, expiresAt, req.parentIdTag);
    return { status: 'Accepted' };
  },

  CancelReservation(st, req) {
    return { status: st.cancelReservation(req.reservationId) ? 'Accepted' : 'Rejected' };
  },

  // ── Smart Charging ────────────────────────────────────────────────────────────────────────
  SetChargingProfile(st, req) {
    const t = target(st, req.connectorId);
    if (t.kind === 'unknown') return { status: 'Rejected' };
    const mapped = from16(t.kind === 'station' ? 0 : t.e.id, req.csChargingProfiles, st.nowMs());
    if (!mapped.ok) return { status: 'Rejected' };
    return { status: installProfile(st, mapped.profile).ok ? 'Accepted' : 'Rejected' };
  },

  ClearChargingProfile(st, req) {
    const filter: ClearFilter = {};
    if (req.id !== undefined) filter.id = req.id;
    if (req.connectorId !== undefined) {
      const t = target(st, req.connectorId);
      filter.evseId = t.kind === 'station' ? 0 : t.kind === 'connector' ? t.e.id : -1;
    }
    const purpose = purposeFrom16(req.chargingProfilePurpose);
    if (purpose !== undefined) filter.purpose = purpose;
    if (req.stackLevel !== undefined) filter.stackLevel = req.stackLevel;
    return { status: clearProfiles(st, filter) > 0 ? 'Accepted' : 'Unknown' };
  },

  GetCompositeSchedule(st, req) {
    const t = target(st, req.connectorId);
    if (t.kind === 'unknown') return { status: 'Rejected' };
    if (req.chargingRateUnit && !st.settings.rateUnits().includes(req.chargingRateUnit)) return { status: 'Rejected' };
    const schedule = st.composite(t.kind === 'station' ? 0 : t.e.id, req.duration, req.chargingRateUnit);
    if (!schedule) return { status: 'Rejected' };
    const start = new Date(schedule.scheduleStart).toISOString();
    return {
      status: 'Accepted',
      connectorId: req.connectorId,
      scheduleStart: start,
      chargingSchedule: {
        duration: schedule.duration,
        startSchedule: start,
        chargingRateUnit: schedule.chargingRateUnit,
        chargingSchedulePeriod: schedule.chargingSchedulePeriod,
      },
    };
  },

  // ── Remote Trigger ────────────────────────────────────────────────────────────────────────
  TriggerMessage(st, req) {
    const scope: Scope = req.connectorId === undefined ? { kind: 'all' } : target(st, req.connectorId);
    if (scope.kind === 'unknown') return { status: 'Rejected' };
    st.afterReply(() => sendTriggered(st, req.requestedMessage, scope).catch(log(st, 'triggered message')));
    return { status: 'Accepted' };
  },

  // ── Security extension (1.6 security whitepaper) ──────────────────────────────────────────
  ExtendedTriggerMessage(st, req) {
    if (req.requestedMessage === 'SignChargePointCertificate') return { status: 'Rejected' };
    const scope: Scope = req.connectorId === undefined ? { kind: 'all' } : target(st, req.connectorId);
    if (scope.kind === 'unknown') return { status: 'Rejected' };
    const what = req.requestedMessage === 'FirmwareStatusNotification' ? 'SignedFirmwareStatusNotification' : req.requestedMessage;
    st.afterReply(() =>
      (what === 'SignedFirmwareStatusNotification'
        ? call16(st, 'SignedFirmwareStatusNotification', { status: 'Idle' }).then(() => undefined)
        : sendTriggered(st, what, scope)
      ).catch(log(st, 'triggered message')),
    );
    return { status: 'Accepted' };
  },

  GetLog(st, req) {
    const filename = uploadLog(st, req, (status) => call16(st, 'LogStatusNotification', { status, requestId: req.requestId }));
    return { status: 'Accepted', filename };
  },
} satisfies HandlerTable<Inbound16, Station>;
