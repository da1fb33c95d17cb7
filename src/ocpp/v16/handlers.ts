/**
 * OCPP 1.6J (+ Security Extension) adapter: every charger-initiated action, translated into the domain
 * model. One handler per action, grouped by functional block; the table is complete or the build fails.
 */
import type { OCPP16 } from 'typed-ocpp';
import type { HandlerTable } from '../context.js';
import { OcppCallError } from '../errors.js';
import { normalizeStatus16 } from '../../domain/model.js';
import { samplesFrom16, type MeterValue16 } from '../../domain/meter.js';
import { toStatus16 } from '../../services/auth.js';
import type { IdTokenInfo } from '../../domain/model.js';

/** Actions a 1.6 charge point initiates (core + security extension). */
export interface ChargerActions16 {
  Authorize: [OCPP16.AuthorizeRequest, OCPP16.AuthorizeResponse];
  BootNotification: [OCPP16.BootNotificationRequest, OCPP16.BootNotificationResponse];
  DataTransfer: [OCPP16.DataTransferRequest, OCPP16.DataTransferResponse];
  DiagnosticsStatusNotification: [OCPP16.DiagnosticsStatusNotificationRequest, OCPP16.DiagnosticsStatusNotificationResponse];
  FirmwareStatusNotification: [OCPP16.FirmwareStatusNotificationRequest, OCPP16.FirmwareStatusNotificationResponse];
  Heartbeat: [OCPP16.HeartbeatRequest, OCPP16.HeartbeatResponse];
  MeterValues: [OCPP16.MeterValuesRequest, OCPP16.MeterValuesResponse];
  StartTransaction: [OCPP16.StartTransactionRequest, OCPP16.StartTransactionResponse];
  StatusNotification: [OCPP16.StatusNotificationRequest, OCPP16.StatusNotificationResponse];
  StopTransaction: [OCPP16.StopTransactionRequest, OCPP16.StopTransactionResponse];
  LogStatusNotification: [OCPP16.LogStatusNotificationRequest, OCPP16.LogStatusNotificationResponse];
  SecurityEventNotification: [OCPP16.SecurityEventNotificationRequest, OCPP16.SecurityEventNotificationResponse];
  SignCertificate: [OCPP16.SignCertificateRequest, OCPP16.SignCertificateResponse];
  SignedFirmwareStatusNotification: [
    OCPP16.SignedFirmwareStatusNotificationRequest,
    OCPP16.SignedFirmwareStatusNotificationResponse,
  ];
}

function idTagInfo16(info: IdTokenInfo): OCPP16.AuthorizeResponse['idTagInfo'] {
  return {
    status: toStatus16(info.status),
    ...(info.expiryDate ? { expiryDate: info.expiryDate } : {}),
    ...(info.groupId ? { parentIdTag: info.groupId } : {}),
  };
}

export const handlers16 = {
  // --- Provisioning ---
  async BootNotification(ctx, req) {
    const a = await ctx.svc.stations.boot(ctx.stationId, 'ocpp1.6', {
      vendor: req.chargePointVendor,
      model: req.chargePointModel,
      serialNumber: req.chargePointSerialNumber ?? req.chargeBoxSerialNumber,
      firmwareVersion: req.firmwareVersion,
      iccid: req.iccid,
      imsi: req.imsi,
      meterType: req.meterType,
      meterSerialNumber: req.meterSerialNumber,
    });
    return { status: a.status, currentTime: a.currentTime, interval: a.interval };
  },
  async Heartbeat(ctx) {
    return { currentTime: ctx.svc.clock.now().toISOString() };
  },
  async StatusNotification(ctx, req) {
    // 1.6 connector n ≙ EVSE n with one connector; connector 0 ≙ the whole station (EVSE 0).
    await ctx.svc.stations.status({
      stationId: ctx.stationId,
      evseId: req.connectorId,
      connectorId: req.connectorId === 0 ? 0 : 1,
      status: normalizeStatus16(req.status),
      ocppStatus: req.status,
      errorCode: req.errorCode,
      info: req.info,
      vendorErrorCode: req.vendorErrorCode,
      timestamp: req.timestamp ?? ctx.svc.clock.now().toISOString(),
    });
    return {};
  },

  // --- Authorization ---
  async Authorize(ctx, req) {
    const info = await ctx.svc.auth.authorize({ idToken: req.idTag, type: 'ISO14443' });
    return { idTagInfo: idTagInfo16(info) };
  },

  // --- Transactions ---
  async StartTransaction(ctx, req) {
    const r = await ctx.svc.transactions.start16({
      stationId: ctx.stationId,
      connectorId: req.connectorId,
      idTag: req.idTag,
      meterStartWh: req.meterStart,
      timestamp: req.timestamp,
      reservationId: req.reservationId,
    });
    return { transactionId: r.transactionId, idTagInfo: idTagInfo16(r.idTagInfo) };
  },
  async StopTransaction(ctx, req) {
    const r = await ctx.svc.transactions.stop16({
      stationId: ctx.stationId,
      transactionId: req.transactionId,
      idTag: req.idTag,
      meterStopWh: req.meterStop,
      timestamp: req.timestamp,
      reason: req.reason,
      samples: samplesFrom16((req.transactionData ?? []) as MeterValue16[]),
    });
    return r.idTagInfo ? { idTagInfo: idTagInfo16(r.idTagInfo) } : {};
  },

  // --- Meter values ---
  async MeterValues(ctx, req) {
    await ctx.svc.transactions.meterValues(
      ctx.stationId,
      req.connectorId,
      req.transactionId !== undefined ? { txNumber: req.transactionId } : null,
      samplesFrom16(req.meterValue as MeterValue16[]),
    );
    return {};
  },

  // --- Firmware, diagnostics, logs, security ---
  async FirmwareStatusNotification(ctx, req) {
    await ctx.svc.stations.setStationField(ctx.stationId, 'firmware_status', req.status);
    await ctx.svc.stations.record(ctx.stationId, 'FirmwareStatusNotification', req);
    return {};
  },
  async SignedFirmwareStatusNotification(ctx, req) {
    await ctx.svc.stations.setStationField(ctx.stationId, 'firmware_status', req.status);
    await ctx.svc.stations.record(ctx.stationId, 'SignedFirmwareStatusNotification', req);
    return {};
  },
  async DiagnosticsStatusNotification(ctx, req) {
    await ctx.svc.stations.setStationField(ctx.stationId, 'diagnostics_status', req.status);
    await ctx.svc.stations.record(ctx.stationId, 'DiagnosticsStatusNotification', req);
    return {};
  },
  async LogStatusNotification(ctx, req) {
    await ctx.svc.stations.setStationField(ctx.stationId, 'log_status', req.status);
    await ctx.svc.stations.record(ctx.stationId, 'LogStatusNotification', req);
    return {};
  },
  async SecurityEventNotification(ctx, req) {
    await ctx.svc.stations.record(ctx.stationId, 'SecurityEventNotification', req, req.timestamp);
    return {};
  },
  async SignCertificate() {
    // No certificate authority is configured: recognised, not supported (Security Profile 3 is not offered).
    throw new OcppCallError('NotSupported', 'SignCertificate is not supported: no CA configured');
  },

  // --- Data transfer ---
  async DataTransfer(ctx, req) {
    await ctx.svc.stations.record(ctx.stationId, 'DataTransfer', req);
    // No vendor extensions are registered, so every vendorId is unknown to us (1.6 §4.3).
    return { status: 'UnknownVendorId' };
  },
} satisfies HandlerTable<ChargerActions16>;
