import { Module } from '@nestjs/common';
import { DevicesGrpc } from './devices.grpc';
import { DevicesService } from './devices.service';

/** The registry (docs/iot.md "Registry and credentials"): devices, their broker credentials. */
@Module({ controllers: [DevicesGrpc], providers: [DevicesService], exports: [DevicesService] })
export class DevicesModule {}
