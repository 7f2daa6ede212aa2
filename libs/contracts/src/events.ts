// The registry of every event type Citybase publishes: CloudEvents type -> protobuf codec -> topic.
// Producers and consumers import these constants, so a type cannot be paired with another topic or
// codec. events.spec.ts checks this list against the events.proto files.
import { GrantCreated, GrantRevoked } from './citybase/data/v1/events';
import * as identity from './citybase/identity/v1/events';
import { AlarmRaised, CommandStatusChanged, DeviceRegistered, TelemetryReported } from './citybase/iot/v1/events';
import { CouponClaimed, CouponTemplateCreated } from './citybase/marketing/v1/events';
import {
  PaymentCreated,
  PaymentExpired,
  PaymentFailed,
  PaymentSucceeded,
  RefundFailed,
  RefundSucceeded,
} from './citybase/payment/v1/events';
import { PointsIssued, PointsReservationConfirmed, PointsReservationReleased, PointsReserved } from './citybase/points/v1/events';
import { PaymentRecorded, TransactionPosted } from './citybase/settlement/v1/events';
import { defineEvent, EventRegistry } from './event-types';

export const IdentityEvents = {
  OperatorCreated: defineEvent('citybase.identity.v1.OperatorCreated', identity.OperatorCreated),
  ProjectCreated: defineEvent('citybase.identity.v1.ProjectCreated', identity.ProjectCreated),
  BuildingCreated: defineEvent('citybase.identity.v1.BuildingCreated', identity.BuildingCreated),
  UnitCreated: defineEvent('citybase.identity.v1.UnitCreated', identity.UnitCreated),
  MerchantRegistered: defineEvent('citybase.identity.v1.MerchantRegistered', identity.MerchantRegistered),
  MerchantStatusChanged: defineEvent('citybase.identity.v1.MerchantStatusChanged', identity.MerchantStatusChanged),
  AgencyCreated: defineEvent('citybase.identity.v1.AgencyCreated', identity.AgencyCreated),
  ResidentRegistered: defineEvent('citybase.identity.v1.ResidentRegistered', identity.ResidentRegistered),
  ResidentVerified: defineEvent('citybase.identity.v1.ResidentVerified', identity.ResidentVerified),
  HouseholdCreated: defineEvent('citybase.identity.v1.HouseholdCreated', identity.HouseholdCreated),
  HouseholdMemberBound: defineEvent('citybase.identity.v1.HouseholdMemberBound', identity.HouseholdMemberBound),
  StaffRegistered: defineEvent('citybase.identity.v1.StaffRegistered', identity.StaffRegistered),
  CourierRegistered: defineEvent('citybase.identity.v1.CourierRegistered', identity.CourierRegistered),
  GrantIssued: defineEvent('citybase.identity.v1.GrantIssued', identity.GrantIssued),
  GrantRevoked: defineEvent('citybase.identity.v1.GrantRevoked', identity.GrantRevoked),
  ClientCreated: defineEvent('citybase.identity.v1.ClientCreated', identity.ClientCreated),
  ClientSecretRotated: defineEvent('citybase.identity.v1.ClientSecretRotated', identity.ClientSecretRotated),
  ClientRevoked: defineEvent('citybase.identity.v1.ClientRevoked', identity.ClientRevoked),
  SigningKeyRotated: defineEvent('citybase.identity.v1.SigningKeyRotated', identity.SigningKeyRotated),
};

export const PaymentEvents = {
  PaymentCreated: defineEvent('citybase.payment.v1.PaymentCreated', PaymentCreated),
  PaymentSucceeded: defineEvent('citybase.payment.v1.PaymentSucceeded', PaymentSucceeded),
  PaymentFailed: defineEvent('citybase.payment.v1.PaymentFailed', PaymentFailed),
  PaymentExpired: defineEvent('citybase.payment.v1.PaymentExpired', PaymentExpired),
  RefundSucceeded: defineEvent('citybase.payment.v1.RefundSucceeded', RefundSucceeded),
  RefundFailed: defineEvent('citybase.payment.v1.RefundFailed', RefundFailed),
};

export const SettlementEvents = {
  PaymentRecorded: defineEvent('citybase.settlement.v1.PaymentRecorded', PaymentRecorded),
  TransactionPosted: defineEvent('citybase.settlement.v1.TransactionPosted', TransactionPosted),
};

export const PointsEvents = {
  PointsIssued: defineEvent('citybase.points.v1.PointsIssued', PointsIssued),
  PointsReserved: defineEvent('citybase.points.v1.PointsReserved', PointsReserved),
  PointsReservationConfirmed: defineEvent('citybase.points.v1.PointsReservationConfirmed', PointsReservationConfirmed),
  PointsReservationReleased: defineEvent('citybase.points.v1.PointsReservationReleased', PointsReservationReleased),
};

export const MarketingEvents = {
  CouponTemplateCreated: defineEvent('citybase.marketing.v1.CouponTemplateCreated', CouponTemplateCreated),
  CouponClaimed: defineEvent('citybase.marketing.v1.CouponClaimed', CouponClaimed),
};

export const IotEvents = {
  DeviceRegistered: defineEvent('citybase.iot.v1.DeviceRegistered', DeviceRegistered),
  CommandStatusChanged: defineEvent('citybase.iot.v1.CommandStatusChanged', CommandStatusChanged),
  TelemetryReported: defineEvent('citybase.iot.v1.TelemetryReported', TelemetryReported, 'citybase.iot.telemetry.v1'),
  AlarmRaised: defineEvent('citybase.iot.v1.AlarmRaised', AlarmRaised, 'citybase.iot.alarms.v1'),
};

export const DataEvents = {
  GrantCreated: defineEvent('citybase.data.v1.GrantCreated', GrantCreated),
  GrantRevoked: defineEvent('citybase.data.v1.GrantRevoked', GrantRevoked),
};

export const allEvents = new EventRegistry([
  ...Object.values(IdentityEvents),
  ...Object.values(PaymentEvents),
  ...Object.values(SettlementEvents),
  ...Object.values(PointsEvents),
  ...Object.values(MarketingEvents),
  ...Object.values(IotEvents),
  ...Object.values(DataEvents),
]);
