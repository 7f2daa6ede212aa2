// Hand-written (not generated): every gRPC service of Citybase by fully-qualified name, with its
// ts-proto grpc-js definition, and the Citybase service (process) that serves it. contracts.spec.ts
// checks this map against the descriptor set, so a service added to a .proto must be added here.
import type { ServiceDefinition } from '@grpc/grpc-js';
import { AnalyticsServiceService } from './citybase/data/v1/analytics';
import { DataServiceService } from './citybase/data/v1/data';
import { AccessServiceService } from './citybase/identity/v1/access';
import { ClientServiceService, TokenServiceService } from './citybase/identity/v1/clients';
import { PeopleServiceService } from './citybase/identity/v1/people';
import { TenancyServiceService } from './citybase/identity/v1/tenancy';
import { AccessServiceService as IotAccessServiceService } from './citybase/iot/v1/access';
import { ChargingServiceService } from './citybase/iot/v1/charging';
import { CommandServiceService } from './citybase/iot/v1/commands';
import { IotServiceService } from './citybase/iot/v1/iot';
import { ParkingServiceService } from './citybase/iot/v1/parking';
import { MarketingServiceService } from './citybase/marketing/v1/marketing';
import { PaymentServiceService } from './citybase/payment/v1/payment';
import { PointsServiceService } from './citybase/points/v1/points';
import { SettlementServiceService } from './citybase/settlement/v1/settlement';

export type CitybaseService = 'identity' | 'payment' | 'settlement' | 'points' | 'marketing' | 'iot' | 'data';

export const grpcServices: Record<string, { service: CitybaseService; definition: ServiceDefinition }> = {
  'citybase.identity.v1.TenancyService': { service: 'identity', definition: TenancyServiceService },
  'citybase.identity.v1.PeopleService': { service: 'identity', definition: PeopleServiceService },
  'citybase.identity.v1.AccessService': { service: 'identity', definition: AccessServiceService },
  'citybase.identity.v1.ClientService': { service: 'identity', definition: ClientServiceService },
  'citybase.identity.v1.TokenService': { service: 'identity', definition: TokenServiceService },
  'citybase.payment.v1.PaymentService': { service: 'payment', definition: PaymentServiceService },
  'citybase.settlement.v1.SettlementService': { service: 'settlement', definition: SettlementServiceService },
  'citybase.points.v1.PointsService': { service: 'points', definition: PointsServiceService },
  'citybase.marketing.v1.MarketingService': { service: 'marketing', definition: MarketingServiceService },
  'citybase.iot.v1.IotService': { service: 'iot', definition: IotServiceService },
  'citybase.iot.v1.CommandService': { service: 'iot', definition: CommandServiceService },
  'citybase.iot.v1.AccessService': { service: 'iot', definition: IotAccessServiceService },
  'citybase.iot.v1.ParkingService': { service: 'iot', definition: ParkingServiceService },
  'citybase.iot.v1.ChargingService': { service: 'iot', definition: ChargingServiceService },
  'citybase.data.v1.DataService': { service: 'data', definition: DataServiceService },
  'citybase.data.v1.AnalyticsService': { service: 'data', definition: AnalyticsServiceService },
};
