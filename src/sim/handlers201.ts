/**
 * OCPP 2.0.1 CSMS-initiated messages: one handler per action, grouped by functional block (Part 2).
 * The table `satisfies HandlerTable<Inbound201, Station>`, so an action without a handler fails the
 * build. Follow-up messages (NotifyReport, ReportChargingProfiles, triggered messages, firmware and log
 * steps) are sent after the CALLRESULT (`afterReply`).
 */
import type { OCPP20 } from 'typed-ocpp';
import type { HandlerTable, Inbound201 } from './actions.js';
import type { AuthStatus } from './driver.js';
import { from201, reasonCode201, type ClearFilter, type StoredProfile } from './profiles.js';
import { call201, type Driver201 } from './protocol201.js';
import { settingFor201 } from './settings.js';
import { checkProfile, clearProfiles, installProfile } from './smart.js';
import type { Station } from './station.js';
import { steps, uploadLog } from './sequence.js';
import { connectorStatus, type EvseState } from './types.js';

const log = (st: Station, what: string) => (err: Error) => st.log('warn', `${what} failed`, { error: err.message });

/** Handlers201 only run on 2.0.1 stations, whose driver is a Driver201. */
const driver201 = (st: Station) => st.driver as Driver201;

type ReportData = NonNullable<OCPP20.NotifyReportRequest['reportData']>;

/** NotifyReport parts of at most DeviceDataCtrlr.ItemsPerMessage[GetReport] entries (B07/B08: `tbc` on all parts but the last). */
function sendReport(st: Station, requestId: number, data: ReportData): void {
  const per = Math.max(1, Number.parseInt(st.dm?.read('DeviceDataCtrlr', 'ItemsPerMessage', 'GetReport') ?? '20', 10));
  const parts = Math.max(1, Math.ceil(data.length / per));
  const generatedAt = st.nowIso();
  st.afterReply(async () => {
    for (let i = 0; i < parts; i++) {
      const req: OCPP20.NotifyReportRequest = { requestId, generatedAt, seqNo: i, reportData: data.slice(i * per, (i + 1) * per) };
      if (i < parts - 1) req.tbc = true;
      await call201(st, 'NotifyReport', req);
    }
  });
}


/** EVSE for a reservation or remote start: the given one, else one with a waiting EV, else a free one. */
function pickEvse(st: Station, evseId: number | undefined): EvseState | undefined {
  if (evseId !== undefined) return st.evse(evseId);
  const free = (e: EvseState) => e.connectors.some((c) => connectorStatus(e, c, st.stationOperative) === 'Available');
  return st.evses.find((e) => e.plugged && !e.tx) ?? st.evses.find(free);
}

function statusInfo(reason: string, detail?: string): OCPP20.SetChargingProfileResponse['statusInfo'] {
  return detail === undefined ? { reasonCode: reason } : { reasonCode: reason, additionalInfo: detail.slice(0, 512) };
}

type FirmwareStatus201 = OCPP20.FirmwareStatusNotificationRequest['status'];

export const HANDLERS201 = {
  // ── B Provisioning ────────────────────────────────────────────────────────────────────────
  GetBaseReport(st, req) {
    const data = st.dm?.baseReport(req.reportBase) ?? [];
    if (data.length === 0) return { status: 'EmptyResultSet' };
    sendReport(st, req.requestId, data);
    return { status: 'Accepted' };
  },

  GetReport(st, req) {
    const data = st.dm?.report(req) ?? [];
    if (data.length === 0) return { status: 'EmptyResultSet' };
    sendReport(st, req.requestId, data);
    return { status: 'Accepted' };
  },

  GetVariables(st, req) {
    return { getVariableResult: req.getVariableData.map((d) => st.dm?.get(d) ?? { ...d, attributeStatus: 'Rejected' }) };
  },

  SetVariables(st, req) {
    const changed = new Set<ReturnType<typeof settingFor201>>();
    const setVariableResult = req.setVariableData.map((d) => {
      const r = st.dm?.set(d);
      if (!r) return { component: d.component, variable: d.variable, attributeStatus: 'Rejected' as const };
      if (r.changed) changed.add(settingFor201(r.changed.component, r.changed.variable, r.changed.instance));
      return r.result;
    });
    if (changed.size > 0) st.afterReply(() => changed.forEach((name) => st.onSettingChanged(name)));
    return { setVariableResult };
  },

  Reset(st, req) {
    if (req.evseId !== undefined) {
      const e = st.evse(req.evseId);
      if (!e) return { status: 'Rejected' };
      if (!e.tx || e.tx.ended) return { status: 'Accepted' };
      if (req.type === 'OnIdle') return { status: 'Scheduled' };
      st.afterReply(() => st.stopSession(e.id, 'ImmediateReset', 'ResetCommand').catch(log(st, 'EVSE reset')));
      return { status: 'Accepted' };
    }
    const busy = st.evses.some((e) => e.tx && !e.tx.ended);
    if (req.type === 'OnIdle' && busy) {
      st.resetWhenIdle = true; // B12 (Reset OnIdle): reset once the transactions have ended
      return { status: 'Scheduled' };
    }
    st.afterReply(() => st.reboot('RemoteReset', 'ImmediateReset'));
    return { status: 'Accepted' };
  },

  // ── C Authorization / D Local authorization list ──────────────────────────────────────────
  ClearCache(st) {
    if (!st.settings.bool('authCacheEnabled', true)) return { status: 'Rejected' };
    st.authCache = undefined;
    return { status: 'Accepted' };
  },

  GetLocalListVersion(st) {
    return { versionNumber: st.localListVersion };
  },

  SendLocalList(st, req) {
    if (!st.settings.bool('localListEnabled', true)) return { status: 'Failed' };
    const entries = req.localAuthorizationList ?? [];
    const max = Number.parseInt(st.dm?.read('LocalAuthListCtrlr', 'ItemsPerMessage') ?? '100', 10);
    if (entries.length > max) return { status: 'Failed' };
    if (req.updateType === 'Differential' && req.versionNumber <= st.localListVersion) return { status: 'VersionMismatch' };
    const list = req.updateType === 'Full' ? new Map<string, AuthStatus>() : (st.localList ?? new Map<string, AuthStatus>());
    for (const entry of entries) {
      if (entry.idTokenInfo) list.set(entry.idToken.idToken, entry.idTokenInfo.status);
      else list.delete(entry.idToken.idToken);
    }
    st.localList = list.size > 0 ? list : undefined;
    st.localListVersion = req.versionNumber;
    return { status: 'Accepted' };
  },

  // ── E Transactions / F Remote control ─────────────────────────────────────────────────────
  GetTransactionStatus(st, req) {
    if (req.transactionId === undefined) return { messagesInQueue: st.outbox.has() };
    return { messagesInQueue: st.outbox.has(req.transactionId), ongoingIndicator: st.evseByTransaction(req.transactionId) !== undefined };
  },

  RequestStartTransaction(st, req) {
    const cp = req.chargingProfile;
    // F01/K05: the profile is a TxProfile without transactionId (the station assigns the transaction).
    if (cp && (cp.chargingProfilePurpose !== 'TxProfile' || cp.transactionId !== undefined)) return { status: 'Rejected' };
    if (req.evseId === 0) return { status: 'Rejected' };
    const e = pickEvse(st, req.evseId);
    if (!e || (e.tx && !e.tx.ended) || !e.operative || !st.stationOperative) return { status: 'Rejected' };
    if (e.reservation && e.reservation.idTag !== req.idToken.idToken) return { status: 'Rejected' };
    const mapped = cp ? from201(e.id, cp, st.nowMs()) : undefined;
    if (mapped && !mapped.ok) return { status: 'Rejected' };
    if (mapped?.ok && !checkProfile(st, mapped.profile, { remoteStart: true }).ok) return { status: 'Rejected' };
    st.afterReply(() =>
      st
        .startSession({
          evseId: e.id,
          idTag: req.idToken.idToken,
          idTokenType: req.idToken.type,
          remote: true,
          remoteStartId: req.remoteStartId,
          onStarted: (tx) => {
            // K05 (TC_K_37): the TxProfile applies to the transaction just started.
            if (mapped?.ok && cp) {
              const p: StoredProfile = { ...mapped.profile, transactionId: tx.id, installedAt: st.nowMs(), raw201: { ...cp, transactionId: tx.id } };
              installProfile(st, p);
            }
          },
        })
        .then(() => undefined, log(st, 'remote start')),
    );
    return { status: 'Accepted' };
  },

  RequestStopTransaction(st, req) {
    const e = st.evseByTransaction(req.transactionId);
    if (!e) return { status: 'Rejected' };
    st.afterReply(() => st.stopSession(e.id, 'Remote', 'RemoteStop').catch(log(st, 'remote stop')));
    return { status: 'Accepted' };
  },

  UnlockConnector(st, req) {
    const e = st.evse(req.evseId);
    const c = e?.connectors.find((x) => x.id === req.connectorId);
    if (!e || !c) return { status: 'UnknownConnector' };
    // F05.FR.02: an authorized transaction on the connector keeps it locked.
    if (e.tx && !e.tx.ended && e.tx.connectorId === c.id) return { status: 'OngoingAuthorizedTransaction' };
    return { status: 'Unlocked' };
  },

  TriggerMessage(st, req) {
    const e = req.evse ? st.evse(req.evse.id) : undefined;
    if (req.evse && !e) return { status: 'Rejected' };
    const c = req.evse?.connectorId !== undefined ? e?.connectors.find((x) => x.id === req.evse?.connectorId) : undefined;
    if (req.evse?.connectorId !== undefined && !c) return { status: 'Rejected' };
    const evses = e ? [e] : st.evses;
    switch (req.requestedMessage) {
      case 'BootNotification':
        if (st.registration === 'accepted') return { status: 'Rejected' }; // F06.FR.17
        st.afterReply(() => st.triggeredBoot());
        return { status: 'Accepted' };
      case 'Heartbeat':
        st.afterReply(() => st.driver.heartbeat().catch(log(st, 'Heartbeat')));
        return { status: 'Accepted' };
      case 'StatusNotification':
        st.afterReply(async () => {
          const targets = st.allConnectors().filter((x) => (!e || x.e === e) && (!c || x.c === c));
          for (const t of targets) await st.sendStatusNow(t).catch(log(st, 'StatusNotification'));
        });
        return { status: 'Accepted' };
      case 'MeterValues':
        st.afterReply(async () => {
          for (const x of evses) await driver201(st).plainMeterValues(x).catch(log(st, 'MeterValues'));
        });
        return { status: 'Accepted' };
      case 'TransactionEvent': {
        const running = evses.filter((x) => x.tx && !x.tx.ended);
        if (running.length === 0) return { status: 'Rejected' };
        st.afterReply(async () => {
          for (const x of running) if (x.tx) await driver201(st).triggeredEvent(x, x.tx).catch(log(st, 'TransactionEvent'));
        });
        return { status: 'Accepted' };
      }
      case 'FirmwareStatusNotification':
        st.afterReply(() => call201(st, 'FirmwareStatusNotification', { status: st.firmwareStatus }).catch(log(st, 'FirmwareStatusNotification')));
        return { status: 'Accepted' };
      case 'LogStatusNotification': {
        const r: OCPP20.LogStatusNotificationRequest = { status: st.logStatus.status };
        if (st.logStatus.requestId !== undefined) r.requestId = st.logStatus.requestId;
        st.afterReply(() => call201(st, 'LogStatusNotification', r).catch(log(st, 'LogStatusNotification')));
        return { status: 'Accepted' };
      }
      default:
        return { status: 'NotImplemented' };
    }
  },

  DataTransfer(st, req) {
    if (req.vendorId !== (st.opts.vendor ?? 'Ampline')) return { status: 'UnknownVendorId' };
    if (req.messageId !== 'Echo') return { status: 'UnknownMessageId' };
    return req.data === undefined ? { status: 'Accepted' } : { status: 'Accepted', data: req.data };
  },

  CostUpdated(st, req) {
    st.log('info', 'cost updated', { transactionId: req.transactionId, totalCost: req.totalCost });
    return {};
  },

  // ── G Availability ────────────────────────────────────────────────────────────────────────
  ChangeAvailability(st, req) {
    if (req.evse) {
      const e = st.evse(req.evse.id);
      if (!e || (req.evse.connectorId !== undefined && !e.connectors.some((x) => x.id === req.evse?.connectorId))) {
        return { status: 'Rejected' };
      }
      return { status: st.setAvailability(e.id, req.operationalStatus === 'Operative') };
    }
    return { status: st.setAvailability(undefined, req.operationalStatus === 'Operative') };
  },

  // ── H Reservation ─────────────────────────────────────────────────────────────────────────
  ReserveNow(st, req) {
    if (st.dm?.read('ReservationCtrlr', 'Enabled') === 'false') return { status: 'Rejected' };
    const expiresAt = Date.parse(req.expiryDateTime);
    if (Number.isNaN(expiresAt) || expiresAt <= st.nowMs()) return { status: 'Rejected' };
    const e = pickEvse(st, req.evseId);
    if (!e) return { status: req.evseId === undefined ? 'Occupied' : 'Rejected' };
    const statuses = e.connectors.map((c) => connectorStatus(e, c, st.stationOperative));
    if (statuses.every((s) => s === 'Faulted')) return { status: 'Faulted' };
    if (statuses.every((s) => s === 'Unavailable')) return { status: 'Unavailable' };
    if (e.reservation && e.reservation.id !== req.id) return { status: 'Occupied' };
    if (e.plugged || (e.tx && !e.tx.ended)) return { status: 'Occupied' };
    const group = req.groupIdToken?.idToken;
    st.reserve(e, req.id, req.idToken.idToken, expiresAt, group);
    return { status: 'Accepted' };
  },

  CancelReservation(st, req) {
    return { status: st.cancelReservation(req.reservationId) ? 'Accepted' : 'Rejected' };
  },

  // ── K Smart charging ──────────────────────────────────────────────────────────────────────
  SetChargingProfile(st, req) {
    const mapped = from201(req.evseId, req.chargingProfile, st.nowMs());
    if (!mapped.ok) return { status: 'Rejected', statusInfo: statusInfo('InvalidProfile', mapped.detail) };
    const check = installProfile(st, mapped.profile);
    if (!check.ok) return { status: 'Rejected', statusInfo: statusInfo(reasonCode201(check.reason), `${check.reason}: ${check.detail}`) };
    return { status: 'Accepted' };
  },

  ClearChargingProfile(st, req) {
    const filter: ClearFilter = {};
    if (req.chargingProfileId !== undefined) filter.id = req.chargingProfileId;
    const c = req.chargingProfileCriteria;
    if (c?.evseId !== undefined) filter.evseId = c.evseId;
    if (c?.chargingProfilePurpose !== undefined) filter.purpose = c.chargingProfilePurpose;
    if (c?.stackLevel !== undefined) filter.stackLevel = c.stackLevel;
    return { status: clearProfiles(st, filter) > 0 ? 'Accepted' : 'Unknown' };
  },

  GetChargingProfiles(st, req) {
    const crit = req.chargingProfile;
    // Profiles set over OCPP have source CSO (the CSMS operator); no others exist in this station.
    if (crit.chargingLimitSource && !crit.chargingLimitSource.includes('CSO')) return { status: 'NoProfiles' };
    const hits = st.profiles.all().filter(
      (p) =>
        (req.evseId === undefined || p.evseId === req.evseId) &&
        (crit.chargingProfilePurpose === undefined || p.purpose === crit.chargingProfilePurpose) &&
        (crit.stackLevel === undefined || p.stackLevel === crit.stackLevel) &&
        (crit.chargingProfileId === undefined || crit.chargingProfileId.includes(p.id)) &&
        p.raw201 !== undefined,
    );
    if (hits.length === 0) return { status: 'NoProfiles' };
    const byEvse = new Map<number, OCPP20.ReportChargingProfilesRequest['chargingProfile']>();
    for (const p of hits) if (p.raw201) (byEvse.get(p.evseId) ?? byEvse.set(p.evseId, []).get(p.evseId))?.push(p.raw201);
    const groups = [...byEvse.entries()].sort(([a], [b]) => a - b);
    st.afterReply(async () => {
      // K09: one ReportChargingProfiles per source and EVSE; tbc on all but the last.
      for (let i = 0; i < groups.length; i++) {
        const [evseId, chargingProfile] = groups[i] as [number, OCPP20.ReportChargingProfilesRequest['chargingProfile']];
        const r: OCPP20.ReportChargingProfilesRequest = { requestId: req.requestId, chargingLimitSource: 'CSO', evseId, chargingProfile };
        if (i < groups.length - 1) r.tbc = true;
        await call201(st, 'ReportChargingProfiles', r);
      }
    });
    return { status: 'Accepted' };
  },

  GetCompositeSchedule(st, req) {
    if (req.evseId !== 0 && !st.evse(req.evseId)) return { status: 'Rejected', statusInfo: statusInfo('UnknownEvse') };
    if (req.chargingRateUnit && !st.settings.rateUnits().includes(req.chargingRateUnit)) {
      return { status: 'Rejected', statusInfo: statusInfo('UnsupportedRateUnit') };
    }
    const s = st.composite(req.evseId, req.duration, req.chargingRateUnit);
    if (!s) return { status: 'Rejected' };
    return {
      status: 'Accepted',
      schedule: {
        evseId: s.evseId,
        duration: s.duration,
        scheduleStart: new Date(s.scheduleStart).toISOString(),
        chargingRateUnit: s.chargingRateUnit,
        chargingSchedulePeriod: s.chargingSchedulePeriod,
      },
    };
  },

  // ── L Firmware management / N Diagnostics ─────────────────────────────────────────────────
  UpdateFirmware(st, req) {
    const requestId = req.requestId;
    const notify = (status: FirmwareStatus201) => () => {
      st.firmwareStatus = status;
      return call201(st, 'FirmwareStatusNotification', { status, requestId });
    };
    const startIn = Math.max(0, Date.parse(req.firmware.retrieveDateTime) - st.nowMs()) / (st.opts.clockSpeed ?? 1);
    const list: (() => Promise<unknown>)[] = [notify('Downloading'), notify('Downloaded')];
    if (req.firmware.signature !== undefined) list.push(notify('SignatureVerified'));
    list.push(notify('Installing'), notify('InstallRebooting'), async () => {
      // L01: Installed is reported after the reboot into the new firmware.
      st.onNextBoot(notify('Installed'));
      await st.reboot('FirmwareUpdate', 'Reboot');
    });
    st.later(Math.min(startIn, 2 ** 31 - 1), () => steps(st, list));
    return { status: 'Accepted' };
  },

  GetLog(st, req) {
    const filename = uploadLog(st, req, (status) => call201(st, 'LogStatusNotification', { status, requestId: req.requestId }));
    return { status: 'Accepted', filename };
  },
} satisfies HandlerTable<Inbound201, Station>;
