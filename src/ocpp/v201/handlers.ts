/**
 * OCPP 2.0.1 adapter: every charger-initiated action, translated into the domain model. One handler per
 * action, grouped by the spec's functional blocks; the table is complete or the build fails.
 */
import type { OCPP20 } from 'typed-ocpp';
import type { HandlerTable } from '../context.js';
import { OcppCallError } from '../errors.js';
import type { IdTokenInfo } from '../../domain/model.js';
import { samplesFrom201, type MeterValue201 } from '../../domain/meter.js';

/** Actions a 2.0.1 charging station initiates. */
export interface ChargerActions201 {
  Authorize: [OCPP20.AuthorizeRequest, OCPP20.AuthorizeResponse];
  BootNotification: [OCPP20.BootNotificationRequest, OCPP20.BootNotificationResponse];
  ClearedChargingLimit: [OCPP20.ClearedChargingLimitRequest, OCPP20.ClearedChargingLimitResponse];
  DataTransfer: [OCPP20.DataTransferRequest, OCPP20.DataTransferResponse];
  FirmwareStatusNotification: [OCPP20.FirmwareStatusNotificationRequest, OCPP20.FirmwareStatusNotificationResponse];
  Get15118EVCertificate: [OCPP20.Get15118EVCertificateRequest, OCPP20.Get15118EVCertificateResponse];
  GetCertificateStatus: [OCPP20.GetCertificateStatusRequest, OCPP20.GetCertificateStatusResponse];
  Heartbeat: [OCPP20.HeartbeatRequest, OCPP20.HeartbeatResponse];
  LogStatusNotification: [OCPP20.LogStatusNotificationRequest, OCPP20.LogStatusNotificationResponse];
  MeterValues: [OCPP20.MeterValuesRequest, OCPP20.MeterValuesResponse];
  NotifyChargingLimit: [OCPP20.NotifyChargingLimitRequest, OCPP20.NotifyChargingLimitResponse];
  NotifyCustomerInformation: [OCPP20.NotifyCustomerInformationRequest, OCPP20.NotifyCustomerInformationResponse];
  NotifyDisplayMessages: [OCPP20.NotifyDisplayMessagesRequest, OCPP20.NotifyDisplayMessagesResponse];
  NotifyEVChargingNeeds: [OCPP20.NotifyEVChargingNeedsRequest, OCPP20.NotifyEVChargingNeedsResponse];
  NotifyEVChargingSchedule: [OCPP20.NotifyEVChargingScheduleRequest, OCPP20.NotifyEVChargingScheduleResponse];
  NotifyEvent: [OCPP20.NotifyEventRequest, OCPP20.NotifyEventResponse];
  NotifyMonitoringReport: [OCPP20.NotifyMonitoringReportRequest, OCPP20.NotifyMonitoringReportResponse];
  NotifyReport: [OCPP20.NotifyReportRequest, OCPP20.NotifyReportResponse];
  PublishFirmwareStatusNotification: [
    OCPP20.PublishFirmwareStatusNotificationRequest,
    OCPP20.PublishFirmwareStatusNotificationResponse,
  ];
  ReportChargingProfiles: [OCPP20.ReportChargingProfilesRequest, OCPP20.ReportChargingProfilesResponse];
  ReservationStatusUpdate: [OCPP20.ReservationStatusUpdateRequest, OCPP20.ReservationStatusUpdateResponse];
  SecurityEventNotification: [OCPP20.SecurityEventNotificationRequest, OCPP20.SecurityEventNotificationResponse];
  SignCertificate: [OCPP20.SignCertificateRequest, OCPP20.SignCertificateResponse];
  StatusNotification: [OCPP20.StatusNotificationRequest, OCPP20.StatusNotificationResponse];
  TransactionEvent: [OCPP20.TransactionEventRequest, OCPP20.TransactionEventResponse];
}

function idTokenInfo201(info: IdTokenInfo): OCPP20.AuthorizeResponse['idTokenInfo'] {
  return {
    status: info.status,
    ...(info.expiryDate ? { cacheExpiryDateTime: info.expiryDate } : {}),
    ...(info.groupId ? { groupIdToken: { idToken: info.groupId, type: 'Central' } } : {}),
  };
}

export const handlers201 = {
  // --- B Provisioning ---
  async BootNotification(ctx, req) {
    const cs = req.chargingStation;
    const a = await ctx.svc.stations.boot(ctx.stationId, 'ocpp2.0.1', {
      vendor: cs.vendorName,
      model: cs.model,
      serialNumber: cs.serialNumber,
      firmwareVersion: cs.firmwareVersion,
      iccid: cs.modem?.iccid,
      imsi: cs.modem?.imsi,
      reason: req.reason,
    });
    return { status: a.status, currentTime: a.currentTime, interval: a.interval };
  },
  async Heartbeat(ctx) {
    return { currentTime: ctx.svc.clock.now().toISOString() };
  },
  async NotifyReport(ctx, req) {
    // B07/B08: reports may come in many parts (tbc); each part is merged into the device model.
    const rows = (req.reportData ?? []).flatMap((d) =>
      d.variableAttribute.map((a) => ({
        component: d.component.name,
        componentInstance: d.component.instance,
        evseId: d.component.evse?.id,
        connectorId: d.component.evse?.connectorId,
        variable: d.variable.name,
        variableInstance: d.variable.instance,
        attributeType: a.type,
        value: a.value,
        mutability: a.mutability,
        dataType: d.variableCharacteristics?.dataType,
      })),
    );
    await ctx.svc.stations.upsertDeviceModel(ctx.stationId, rows);
    await ctx.svc.stations.record(ctx.stationId, 'NotifyReport', { requestId: req.requestId, seqNo: req.seqNo, tbc: req.tbc ?? false, variables: rows.length }, req.generatedAt);
    return {};
  },

  // --- G Availability ---
  async StatusNotification(ctx, req) {
    await ctx.svc.stations.status({
      stationId: ctx.stationId,
      evseId: req.evseId,
      connectorId: req.connectorId,
      status: req.connectorStatus,
      ocppStatus: req.connectorStatus,
      timestamp: req.timestamp,
    });
    return {};
  },

  // --- C Authorization ---
  async Authorize(ctx, req) {
    const info = await ctx.svc.auth.authorize(req.idToken);
    return { idTokenInfo: idTokenInfo201(info) };
  },

  // --- E Transactions ---
  async TransactionEvent(ctx, req) {
    const info = req.idToken ? await ctx.svc.auth.authorize(req.idToken) : undefined;
    const ti = req.transactionInfo;
    await ctx.svc.transactions.applyTxEvent({
      stationId: ctx.stationId,
      protocol: 'ocpp2.0.1',
      ocppTxId: ti.transactionId,
      eventType: req.eventType,
      triggerReason: req.triggerReason,
      seqNo: req.seqNo,
      timestamp: req.timestamp,
      offline: req.offline ?? false,
      evseId: req.evse?.id,
      connectorId: req.evse?.connectorId,
      chargingState: ti.chargingState,
      stoppedReason: req.eventType === 'Ended' ? (ti.stoppedReason ?? 'Local') : ti.stoppedReason,
      idToken: req.idToken ? { idToken: req.idToken.idToken, type: req.idToken.type } : undefined,
      authStatus: info?.status,
      groupId: info?.groupId,
      remoteStartId: ti.remoteStartId,
      reservationId: req.reservationId,
      samples: samplesFrom201((req.meterValue ?? []) as MeterValue201[]),
    });
    return info ? { idTokenInfo: idTokenInfo201(info) } : {};
  },

  // --- J Meter values ---
  async MeterValues(ctx, req) {
    await ctx.svc.transactions.meterValues(ctx.stationId, req.evseId, null, samplesFrom201(req.meterValue as MeterValue201[]));
    return {};
  },

  // --- K Smart charging ---
  async NotifyChargingLimit(ctx, req) {
    await ctx.svc.stations.record(ctx.stationId, 'NotifyChargingLimit', req);
    // For the OCPI ChargingProfiles receiver (ActiveChargingProfile updates).
    ctx.svc.events?.publish({
      type: 'ChargingLimitNotified',
      stationId: ctx.stationId,
      evseId: req.evseId,
      source: req.chargingLimit.chargingLimitSource,
    });
    return {};
  },
  async ClearedChargingLimit(ctx, req) {
    await ctx.svc.stations.record(ctx.stationId, 'ClearedChargingLimit', req);
    return {};
  },
  async NotifyEVChargingNeeds(ctx, req) {
    await ctx.svc.stations.record(ctx.stationId, 'NotifyEVChargingNeeds', req);
    await ctx.svc.transactions.recordChargingNeeds(ctx.stationId, req.evseId, req.chargingNeeds);
    // K15: nothing computes a schedule for the EV yet, so we do not promise one.
    return { status: 'Rejected' };
  },
  async NotifyEVChargingSchedule(ctx, req) {
    await ctx.svc.stations.record(ctx.stationId, 'NotifyEVChargingSchedule', req, req.timeBase);
    return { status: 'Accepted' };
  },
  async ReportChargingProfiles(ctx, req) {
    await ctx.svc.stations.record(ctx.stationId, 'ReportChargingProfiles', req);
    await ctx.svc.smart.onReport(ctx.stationId, req);
    return {};
  },

  // --- L Firmware, N Diagnostics, A Security ---
  async FirmwareStatusNotification(ctx, req) {
    await ctx.svc.stations.setStationField(ctx.stationId, 'firmware_status', req.status);
    await ctx.svc.stations.record(ctx.stationId, 'FirmwareStatusNotification', req);
    return {};
  },
  async PublishFirmwareStatusNotification(ctx, req) {
    await ctx.svc.stations.record(ctx.stationId, 'PublishFirmwareStatusNotification', req);
    return {};
  },
  async LogStatusNotification(ctx, req) {
    await ctx.svc.stations.setStationField(ctx.stationId, 'log_status', req.status);
    await ctx.svc.stations.record(ctx.stationId, 'LogStatusNotification', req);
    return {};
  },
  async NotifyEvent(ctx, req) {
    await ctx.svc.stations.record(ctx.stationId, 'NotifyEvent', req, req.generatedAt);
    return {};
  },
  async NotifyMonitoringReport(ctx, req) {
    await ctx.svc.stations.record(ctx.stationId, 'NotifyMonitoringReport', req, req.generatedAt);
    return {};
  },
  async NotifyCustomerInformation(ctx, req) {
    await ctx.svc.stations.record(ctx.stationId, 'NotifyCustomerInformation', req, req.generatedAt);
    return {};
  },
  async NotifyDisplayMessages(ctx, req) {
    await ctx.svc.stations.record(ctx.stationId, 'NotifyDisplayMessages', req);
    return {};
  },
  async SecurityEventNotification(ctx, req) {
    await ctx.svc.stations.record(ctx.stationId, 'SecurityEventNotification', req, req.timestamp);
    return {};
  },
  async SignCertificate() {
    throw new OcppCallError('NotSupported', 'SignCertificate is not supported: no CA configured');
  },
  async Get15118EVCertificate() {
    throw new OcppCallError('NotSupported', 'ISO 15118 certificate installation is not supported');
  },
  async GetCertificateStatus() {
    throw new OcppCallError('NotSupported', 'OCSP certificate status is not supported');
  },

  // --- H Reservation ---
  async ReservationStatusUpdate(ctx, req) {
    await ctx.svc.stations.record(ctx.stationId, 'ReservationStatusUpdate', req);
    return {};
  },

  // --- P Data transfer ---
  async DataTransfer(ctx, req) {
    await ctx.svc.stations.record(ctx.stationId, 'DataTransfer', req);
    return { status: 'UnknownVendorId' };
  },
} satisfies HandlerTable<ChargerActions201>;
