import { Module } from '@nestjs/common';
import { PresenceTimeoutJob } from './presence-timeout.job';

/** Presence (docs/iot.md "Presence"): lifecycle is applied by the telemetry consumer; this adds the timeout. */
@Module({ providers: [PresenceTimeoutJob] })
export class PresenceModule {}
