import { describeServiceProcess } from '@citybase/platform/testing';

describeServiceProcess('iot', [
  'citybase.iot.v1.IotService',
  'citybase.iot.v1.CommandService',
  'citybase.iot.v1.AccessService',
  'citybase.iot.v1.ParkingService',
  'citybase.iot.v1.ChargingService',
]);
