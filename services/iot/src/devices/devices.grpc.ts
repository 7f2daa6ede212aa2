import type { Metadata } from '@grpc/grpc-js';
import { Controller } from '@nestjs/common';
import { GrpcMethod } from '@nestjs/microservices';
import { claimsOf, requiredUuid } from '@citybase/platform';
import {
  GetDeviceRequest,
  GetDeviceResponse,
  ListDevicesRequest,
  ListDevicesResponse,
  RegisterDeviceRequest,
  RegisterDeviceResponse,
  RevokeDeviceRequest,
  RevokeDeviceResponse,
  RotateDeviceCredentialsRequest,
  RotateDeviceCredentialsResponse,
} from '@citybase/contracts/citybase/iot/v1/iot';
import { toDeviceMutationCommand, toListDevicesQuery, toRegisterDeviceCommand } from './devices.domain';
import { deviceToProto } from './devices.render';
import { DevicesService } from './devices.service';

/** Transport adapter of the registry: proto in (validated), use case, proto out. */
@Controller()
export class DevicesGrpc {
  constructor(private readonly devices: DevicesService) {}

  @GrpcMethod('IotService', 'registerDevice')
  async registerDevice(req: RegisterDeviceRequest, metadata: Metadata): Promise<RegisterDeviceResponse> {
    const cmd = toRegisterDeviceCommand(req);
    const { device, credentials } = await this.devices.registerDevice(claimsOf(metadata), cmd);
    return { device: deviceToProto(device), credentials };
  }

  @GrpcMethod('IotService', 'getDevice')
  async getDevice(req: GetDeviceRequest, metadata: Metadata): Promise<GetDeviceResponse> {
    const deviceId = requiredUuid('device_id', req.deviceId);
    return { device: deviceToProto(await this.devices.getDevice(claimsOf(metadata), deviceId)) };
  }

  @GrpcMethod('IotService', 'listDevices')
  async listDevices(req: ListDevicesRequest, metadata: Metadata): Promise<ListDevicesResponse> {
    const q = toListDevicesQuery(req);
    const { items, nextPageToken } = await this.devices.listDevices(claimsOf(metadata), q);
    return { devices: items.map(deviceToProto), page: { nextPageToken } };
  }

  @GrpcMethod('IotService', 'rotateDeviceCredentials')
  async rotateDeviceCredentials(
    req: RotateDeviceCredentialsRequest,
    metadata: Metadata,
  ): Promise<RotateDeviceCredentialsResponse> {
    const cmd = toDeviceMutationCommand(req);
    const { device, credentials } = await this.devices.rotateCredentials(claimsOf(metadata), cmd);
    return { device: deviceToProto(device), credentials };
  }

  @GrpcMethod('IotService', 'revokeDevice')
  async revokeDevice(req: RevokeDeviceRequest, metadata: Metadata): Promise<RevokeDeviceResponse> {
    const cmd = toDeviceMutationCommand(req);
    return { device: deviceToProto(await this.devices.revokeDevice(claimsOf(metadata), cmd)) };
  }
}
