/**
 * Action ↔ payload maps, one per version and direction, built from typed-ocpp's schema-generated types.
 * Registering a handler or making a call through these maps forces the right payload types; the
 * handler tables use `satisfies HandlerTable<…>` so a missing action fails the build.
 */
import type { OCPP16, OCPP20 } from 'typed-ocpp';

type P<Req, Res> = { req: Req; res: Res };

/** OCPP 1.6 messages the charge point sends. */
export interface Outbound16 {
  Authorize: P<OCPP16.AuthorizeRequest, OCPP16.AuthorizeResponse>;
  BootNotification: P<OCPP16.BootNotificationRequest, OCPP16.BootNotificationResponse>;
  DataTransfer: P<OCPP16.DataTransferRequest, OCPP16.DataTransferResponse>;
  DiagnosticsStatusNotification: P<OCPP16.DiagnosticsStatusNotificationRequest, OCPP16.DiagnosticsStatusNotificationResponse>;
  FirmwareStatusNotification: P<OCPP16.FirmwareStatusNotificationRequest, OCPP16.FirmwareStatusNotificationResponse>;
  Heartbeat: P<OCPP16.HeartbeatRequest, OCPP16.HeartbeatResponse>;
  LogStatusNotification: P<OCPP16.LogStatusNotificationRequest, OCPP16.LogStatusNotificationResponse>;
  MeterValues: P<OCPP16.MeterValuesRequest, OCPP16.MeterValuesResponse>;
  SignedFirmwareStatusNotification: P<OCPP16.SignedFirmwareStatusNotificationRequest, OCPP16.SignedFirmwareStatusNotificationResponse>;
  StartTransaction: P<OCPP16.StartTransactionRequest, OCPP16.StartTransactionResponse>;
  StatusNotification: P<OCPP16.StatusNotificationRequest, OCPP16.StatusNotificationResponse>;
  StopTransaction: P<OCPP16.StopTransactionRequest, OCPP16.StopTransactionResponse>;
}

/** OCPP 1.6 messages the CSMS sends that this charge point implements. */
export interface Inbound16 {
  CancelReservation: P<OCPP16.CancelReservationRequest, OCPP16.CancelReservationResponse>;
  ChangeAvailability: P<OCPP16.ChangeAvailabilityRequest, OCPP16.ChangeAvailabilityResponse>;
  ChangeConfiguration: P<OCPP16.ChangeConfigurationRequest, OCPP16.ChangeConfigurationResponse>;
  ClearCache: P<OCPP16.ClearCacheRequest, OCPP16.ClearCacheResponse>;
  ClearChargingProfile: P<OCPP16.ClearChargingProfileRequest, OCPP16.ClearChargingProfileResponse>;
  DataTransfer: P<OCPP16.DataTransferRequest, OCPP16.DataTransferResponse>;
  ExtendedTriggerMessage: P<OCPP16.ExtendedTriggerMessageRequest, OCPP16.ExtendedTriggerMessageResponse>;
  GetCompositeSchedule: P<OCPP16.GetCompositeScheduleRequest, OCPP16.GetCompositeScheduleResponse>;
  GetConfiguration: P<OCPP16.GetConfigurationRequest, OCPP16.GetConfigurationResponse>;
  GetDiagnostics: P<OCPP16.GetDiagnosticsRequest, OCPP16.GetDiagnosticsResponse>;
  GetLocalListVersion: P<OCPP16.GetLocalListVersionRequest, OCPP16.GetLocalListVersionResponse>;
  GetLog: P<OCPP16.GetLogRequest, OCPP16.GetLogResponse>;
  RemoteStartTransaction: P<OCPP16.RemoteStartTransactionRequest, OCPP16.RemoteStartTransactionResponse>;
  RemoteStopTransaction: P<OCPP16.RemoteStopTransactionRequest, OCPP16.RemoteStopTransactionResponse>;
  ReserveNow: P<OCPP16.ReserveNowRequest, OCPP16.ReserveNowResponse>;
  Reset: P<OCPP16.ResetRequest, OCPP16.ResetResponse>;
  SendLocalList: P<OCPP16.SendLocalListRequest, OCPP16.SendLocalListResponse>;
  SetChargingProfile: P<OCPP16.SetChargingProfileRequest, OCPP16.SetChargingProfileResponse>;
  TriggerMessage: P<OCPP16.TriggerMessageRequest, OCPP16.TriggerMessageResponse>;
  UnlockConnector: P<OCPP16.UnlockConnectorRequest, OCPP16.UnlockConnectorResponse>;
  UpdateFirmware: P<OCPP16.UpdateFirmwareRequest, OCPP16.UpdateFirmwareResponse>;
}

/** Known 1.6 (+ security whitepaper) CSMS actions this simulator does not implement → NotSupported. */
export const UNSUPPORTED_16 = [
  'CertificateSigned',
  'DeleteCertificate',
  'GetInstalledCertificateIds',
  'InstallCertificate',
  'SignedUpdateFirmware',
] as const;

/** OCPP 2.0.1 messages the charging station sends. */
export interface Outbound201 {
  Authorize: P<OCPP20.AuthorizeRequest, OCPP20.AuthorizeResponse>;
  BootNotification: P<OCPP20.BootNotificationRequest, OCPP20.BootNotificationResponse>;
  DataTransfer: P<OCPP20.DataTransferRequest, OCPP20.DataTransferResponse>;
  FirmwareStatusNotification: P<OCPP20.FirmwareStatusNotificationRequest, OCPP20.FirmwareStatusNotificationResponse>;
  Heartbeat: P<OCPP20.HeartbeatRequest, OCPP20.HeartbeatResponse>;
  LogStatusNotification: P<OCPP20.LogStatusNotificationRequest, OCPP20.LogStatusNotificationResponse>;
  MeterValues: P<OCPP20.MeterValuesRequest, OCPP20.MeterValuesResponse>;
  NotifyReport: P<OCPP20.NotifyReportRequest, OCPP20.NotifyReportResponse>;
  ReportChargingProfiles: P<OCPP20.ReportChargingProfilesRequest, OCPP20.ReportChargingProfilesResponse>;
  ReservationStatusUpdate: P<OCPP20.ReservationStatusUpdateRequest, OCPP20.ReservationStatusUpdateResponse>;
  StatusNotification: P<OCPP20.StatusNotificationRequest, OCPP20.StatusNotificationResponse>;
  TransactionEvent: P<OCPP20.TransactionEventRequest, OCPP20.TransactionEventResponse>;
}

/** OCPP 2.0.1 messages the CSMS sends that this station implements. */
export interface Inbound201 {
  CancelReservation: P<OCPP20.CancelReservationRequest, OCPP20.CancelReservationResponse>;
  ChangeAvailability: P<OCPP20.ChangeAvailabilityRequest, OCPP20.ChangeAvailabilityResponse>;
  ClearCache: P<OCPP20.ClearCacheRequest, OCPP20.ClearCacheResponse>;
  ClearChargingProfile: P<OCPP20.ClearChargingProfileRequest, OCPP20.ClearChargingProfileResponse>;
  CostUpdated: P<OCPP20.CostUpdatedRequest, OCPP20.CostUpdatedResponse>;
  DataTransfer: P<OCPP20.DataTransferRequest, OCPP20.DataTransferResponse>;
  GetBaseReport: P<OCPP20.GetBaseReportRequest, OCPP20.GetBaseReportResponse>;
  GetChargingProfiles: P<OCPP20.GetChargingProfilesRequest, OCPP20.GetChargingProfilesResponse>;
  GetCompositeSchedule: P<OCPP20.GetCompositeScheduleRequest, OCPP20.GetCompositeScheduleResponse>;
  GetLocalListVersion: P<OCPP20.GetLocalListVersionRequest, OCPP20.GetLocalListVersionResponse>;
  GetLog: P<OCPP20.GetLogRequest, OCPP20.GetLogResponse>;
  GetReport: P<OCPP20.GetReportRequest, OCPP20.GetReportResponse>;
  GetTransactionStatus: P<OCPP20.GetTransactionStatusRequest, OCPP20.GetTransactionStatusResponse>;
  GetVariables: P<OCPP20.GetVariablesRequest, OCPP20.GetVariablesResponse>;
  RequestStartTransaction: P<OCPP20.RequestStartTransactionRequest, OCPP20.RequestStartTransactionResponse>;
  RequestStopTransaction: P<OCPP20.RequestStopTransactionRequest, OCPP20.RequestStopTransactionResponse>;
  ReserveNow: P<OCPP20.ReserveNowRequest, OCPP20.ReserveNowResponse>;
  Reset: P<OCPP20.ResetRequest, OCPP20.ResetResponse>;
  SendLocalList: P<OCPP20.SendLocalListRequest, OCPP20.SendLocalListResponse>;
  SetChargingProfile: P<OCPP20.SetChargingProfileRequest, OCPP20.SetChargingProfileResponse>;
  SetVariables: P<OCPP20.SetVariablesRequest, OCPP20.SetVariablesResponse>;
  TriggerMessage: P<OCPP20.TriggerMessageRequest, OCPP20.TriggerMessageResponse>;
  UnlockConnector: P<OCPP20.UnlockConnectorRequest, OCPP20.UnlockConnectorResponse>;
  UpdateFirmware: P<OCPP20.UpdateFirmwareRequest, OCPP20.UpdateFirmwareResponse>;
}

/** Known 2.0.1 CSMS actions this simulator does not implement → NotSupported. */
export const UNSUPPORTED_201 = [
  'CertificateSigned',
  'ClearDisplayMessage',
  'ClearVariableMonitoring',
  'CustomerInformation',
  'DeleteCertificate',
  'GetDisplayMessages',
  'GetInstalledCertificateIds',
  'GetMonitoringReport',
  'InstallCertificate',
  'PublishFirmware',
  'SetDisplayMessage',
  'SetMonitoringBase',
  'SetMonitoringLevel',
  'SetNetworkProfile',
  'SetVariableMonitoring',
  'UnpublishFirmware',
] as const;

export type ActionMap = Record<string, P<unknown, unknown>>;
export type Req<M, A extends keyof M> = M[A] extends P<infer Q, unknown> ? Q : never;
export type Res<M, A extends keyof M> = M[A] extends P<unknown, infer R> ? R : never;

/** A typed outbound call for one version's map. */
export type CallFn<M> = <A extends keyof M & string>(action: A, payload: Req<M, A>) => Promise<Res<M, A>>;

/** One handler per inbound action; `S` is the station-side context. */
export type HandlerTable<M, S> = {
  [A in keyof M]: (st: S, req: Req<M, A>) => Res<M, A> | Promise<Res<M, A>>;
};
