import { Inject, Injectable } from '@nestjs/common';
import { Logger, LOGGER, PeriodicJob, SERVICE_CONFIG } from '@citybase/platform';
import type { IotConfig } from '../config';
import { CommandsService } from './commands.service';

const BATCH = 500;

/**
 * Every IOT_COMMANDS_JOB_INTERVAL_MS: open commands past their deadline end EXPIRED (never
 * accepted) or TIMED_OUT (accepted, no result), each once under its row lock; QUEUED commands a
 * crash left unpublished and SENT ones not yet accepted are published again before their deadline
 * (the device executes a command id once).
 */
@Injectable()
export class CommandsJob extends PeriodicJob {
  constructor(
    @Inject(LOGGER) logger: Logger,
    @Inject(SERVICE_CONFIG) config: IotConfig,
    private readonly commands: CommandsService,
  ) {
    super({
      name: 'iot commands',
      intervalMs: config.IOT_COMMANDS_JOB_INTERVAL_MS,
      logger,
      maxBackoffMs: 30_000,
    });
  }

  async runOnce(): Promise<void> {
    await this.commands.timeOutDue(BATCH);
    await this.commands.republish(BATCH);
  }
}
