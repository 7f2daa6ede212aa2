// The registry of every event type Citybase publishes: CloudEvents type -> protobuf codec -> topic.
// Producers and consumers import these constants, so a type cannot be paired with another topic or
// codec. events.spec.ts checks this list against the events.proto files.
import { FeedPulled, GrantIssued, GrantRevoked } from './citybase/data/v1/events';
import * as identity from './citybase/identity/v1/events';
import * as iot from './citybase/iot/v1/events';
import * as marketing from './citybase/marketing/v1/events';
import * as payment from './citybase/payment/v1/events';
import * as points from './citybase/points/v1/events';
import * as settlement from './citybase/settlement/v1/events';
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
  PaymentCreated: defineEvent('citybase.payment.v1.PaymentCreated', payment.PaymentCreated),
  PaymentSucceeded: defineEvent('citybase.payment.v1.PaymentSucceeded', payment.PaymentSucceeded),
  PaymentFailed: defineEvent('citybase.payment.v1.PaymentFailed', payment.PaymentFailed),
  PaymentExpired: defineEvent('citybase.payment.v1.PaymentExpired', payment.PaymentExpired),
  RefundSucceeded: defineEvent('citybase.payment.v1.RefundSucceeded', payment.RefundSucceeded),
  RefundFailed: defineEvent('citybase.payment.v1.RefundFailed', payment.RefundFailed),
  ChannelSplitSucceeded: defineEvent('citybase.payment.v1.ChannelSplitSucceeded', payment.ChannelSplitSucceeded),
  ChannelSplitFailed: defineEvent('citybase.payment.v1.ChannelSplitFailed', payment.ChannelSplitFailed),
  ChannelSplitReturnSucceeded: defineEvent(
    'citybase.payment.v1.ChannelSplitReturnSucceeded',
    payment.ChannelSplitReturnSucceeded,
  ),
  ChannelSplitReturnFailed: defineEvent('citybase.payment.v1.ChannelSplitReturnFailed', payment.ChannelSplitReturnFailed),
  CheckoutCompleted: defineEvent('citybase.payment.v1.CheckoutCompleted', payment.CheckoutCompleted),
  CheckoutReleased: defineEvent('citybase.payment.v1.CheckoutReleased', payment.CheckoutReleased),
  CheckoutRefunded: defineEvent('citybase.payment.v1.CheckoutRefunded', payment.CheckoutRefunded),
};

export const SettlementEvents = {
  OrderEscrowed: defineEvent('citybase.settlement.v1.OrderEscrowed', settlement.OrderEscrowed),
  OrderCompleted: defineEvent('citybase.settlement.v1.OrderCompleted', settlement.OrderCompleted),
  OrderDisputed: defineEvent('citybase.settlement.v1.OrderDisputed', settlement.OrderDisputed),
  DisputeResolved: defineEvent('citybase.settlement.v1.DisputeResolved', settlement.DisputeResolved),
  OrderRefunded: defineEvent('citybase.settlement.v1.OrderRefunded', settlement.OrderRefunded),
  ChannelSplitRequested: defineEvent('citybase.settlement.v1.ChannelSplitRequested', settlement.ChannelSplitRequested),
  ChannelSplitReturnRequested: defineEvent(
    'citybase.settlement.v1.ChannelSplitReturnRequested',
    settlement.ChannelSplitReturnRequested,
  ),
  ChannelRefundRequested: defineEvent('citybase.settlement.v1.ChannelRefundRequested', settlement.ChannelRefundRequested),
  PayoutSettled: defineEvent('citybase.settlement.v1.PayoutSettled', settlement.PayoutSettled),
};

export const PointsEvents = {
  PointsEarned: defineEvent('citybase.points.v1.PointsEarned', points.PointsEarned),
  PointsIssued: defineEvent('citybase.points.v1.PointsIssued', points.PointsIssued),
  PointsReleased: defineEvent('citybase.points.v1.PointsReleased', points.PointsReleased),
  PointsReserved: defineEvent('citybase.points.v1.PointsReserved', points.PointsReserved),
  PointsRedeemed: defineEvent('citybase.points.v1.PointsRedeemed', points.PointsRedeemed),
  PointsReservationReleased: defineEvent('citybase.points.v1.PointsReservationReleased', points.PointsReservationReleased),
  PointsReversed: defineEvent('citybase.points.v1.PointsReversed', points.PointsReversed),
  PointsExpired: defineEvent('citybase.points.v1.PointsExpired', points.PointsExpired),
  PointsExpiring: defineEvent('citybase.points.v1.PointsExpiring', points.PointsExpiring),
  PointsTransferred: defineEvent('citybase.points.v1.PointsTransferred', points.PointsTransferred),
  PointsReturned: defineEvent('citybase.points.v1.PointsReturned', points.PointsReturned),
  TierChanged: defineEvent('citybase.points.v1.TierChanged', points.TierChanged),
  BudgetChanged: defineEvent('citybase.points.v1.BudgetChanged', points.BudgetChanged),
  ClearingObligationCreated: defineEvent('citybase.points.v1.ClearingObligationCreated', points.ClearingObligationCreated),
};

export const MarketingEvents = {
  CampaignCreated: defineEvent('citybase.marketing.v1.CampaignCreated', marketing.CampaignCreated),
  CampaignChanged: defineEvent('citybase.marketing.v1.CampaignChanged', marketing.CampaignChanged),
  CouponClaimed: defineEvent('citybase.marketing.v1.CouponClaimed', marketing.CouponClaimed),
  CouponReserved: defineEvent('citybase.marketing.v1.CouponReserved', marketing.CouponReserved),
  CouponRedeemed: defineEvent('citybase.marketing.v1.CouponRedeemed', marketing.CouponRedeemed),
  CouponReleased: defineEvent('citybase.marketing.v1.CouponReleased', marketing.CouponReleased),
  CouponExpired: defineEvent('citybase.marketing.v1.CouponExpired', marketing.CouponExpired),
  CodesGenerated: defineEvent('citybase.marketing.v1.CodesGenerated', marketing.CodesGenerated),
  GroupDealCreated: defineEvent('citybase.marketing.v1.GroupDealCreated', marketing.GroupDealCreated),
  GroupDealJoined: defineEvent('citybase.marketing.v1.GroupDealJoined', marketing.GroupDealJoined),
  GroupBuySucceeded: defineEvent('citybase.marketing.v1.GroupBuySucceeded', marketing.GroupBuySucceeded),
  GroupBuyFailed: defineEvent('citybase.marketing.v1.GroupBuyFailed', marketing.GroupBuyFailed),
  PromotionSubmitted: defineEvent('citybase.marketing.v1.PromotionSubmitted', marketing.PromotionSubmitted),
  PromotionApproved: defineEvent('citybase.marketing.v1.PromotionApproved', marketing.PromotionApproved),
  PromotionRejected: defineEvent('citybase.marketing.v1.PromotionRejected', marketing.PromotionRejected),
};

export const IotEvents = {
  DeviceRegistered: defineEvent('citybase.iot.v1.DeviceRegistered', iot.DeviceRegistered),
  DeviceCredentialsRotated: defineEvent('citybase.iot.v1.DeviceCredentialsRotated', iot.DeviceCredentialsRotated),
  DeviceRevoked: defineEvent('citybase.iot.v1.DeviceRevoked', iot.DeviceRevoked),
  PresenceChanged: defineEvent('citybase.iot.v1.PresenceChanged', iot.PresenceChanged),
  TelemetryReported: defineEvent('citybase.iot.v1.TelemetryReported', iot.TelemetryReported, 'citybase.iot.telemetry.v1'),
  AlarmSignal: defineEvent('citybase.iot.v1.AlarmSignal', iot.AlarmSignal, 'citybase.iot.alarms.v1'),
  AlarmRaised: defineEvent('citybase.iot.v1.AlarmRaised', iot.AlarmRaised, 'citybase.iot.alarms.v1'),
  AlarmAcknowledged: defineEvent('citybase.iot.v1.AlarmAcknowledged', iot.AlarmAcknowledged, 'citybase.iot.alarms.v1'),
  AlarmCleared: defineEvent('citybase.iot.v1.AlarmCleared', iot.AlarmCleared, 'citybase.iot.alarms.v1'),
  // iot ops (docs/iot.md "Commands", "Doors and couriers", "Parking", "EV charging")
  CommandCompleted: defineEvent('citybase.iot.v1.CommandCompleted', iot.CommandCompleted),
  DoorOpened: defineEvent('citybase.iot.v1.DoorOpened', iot.DoorOpened),
  AccessRecorded: defineEvent('citybase.iot.v1.AccessRecorded', iot.AccessRecorded),
  CourierCodeIssued: defineEvent('citybase.iot.v1.CourierCodeIssued', iot.CourierCodeIssued),
  ParkingLotCreated: defineEvent('citybase.iot.v1.ParkingLotCreated', iot.ParkingLotCreated),
  ParkingSessionOpened: defineEvent('citybase.iot.v1.ParkingSessionOpened', iot.ParkingSessionOpened),
  ParkingSessionClosed: defineEvent('citybase.iot.v1.ParkingSessionClosed', iot.ParkingSessionClosed),
  ChargingSessionClosed: defineEvent('citybase.iot.v1.ChargingSessionClosed', iot.ChargingSessionClosed),
};

export const DataEvents = {
  GrantIssued: defineEvent('citybase.data.v1.GrantIssued', GrantIssued),
  GrantRevoked: defineEvent('citybase.data.v1.GrantRevoked', GrantRevoked),
  FeedPulled: defineEvent('citybase.data.v1.FeedPulled', FeedPulled),
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
