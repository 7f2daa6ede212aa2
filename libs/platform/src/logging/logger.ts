import { trace } from '@opentelemetry/api';
import pino, { Logger, LoggerOptions } from 'pino';
import type { LoggerService } from '@nestjs/common';

export type { Logger } from 'pino';

/**
 * JSON logs (pino) that carry the active OpenTelemetry trace and span ids, so a log line can be
 * joined with its trace. One logger per process; children add context.
 */
export function createLogger(
  service: string,
  level: LoggerOptions['level'] = 'info',
  destination?: pino.DestinationStream,
): Logger {
  return pino(
    {
      level,
      base: { service },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      mixin() {
        const span = trace.getActiveSpan();
        if (!span) return {};
        const ctx = span.spanContext();
        return { trace_id: ctx.traceId, span_id: ctx.spanId };
      },
      redact: {
        paths: ['*.password', '*.secret', '*.client_secret', '*.authorization'],
        censor: '[redacted]',
      },
    },
    destination,
  );
}

/** Routes NestJS framework logs into the same JSON stream. */
export class NestPinoLogger implements LoggerService {
  constructor(private readonly logger: Logger) {}
  log(message: unknown, context?: string): void {
    this.logger.info({ context }, String(message));
  }
  error(message: unknown, trace?: string, context?: string): void {
    this.logger.error({ context, stack: trace }, String(message));
  }
  warn(message: unknown, context?: string): void {
    this.logger.warn({ context }, String(message));
  }
  debug(message: unknown, context?: string): void {
    this.logger.debug({ context }, String(message));
  }
  verbose(message: unknown, context?: string): void {
    this.logger.trace({ context }, String(message));
  }
}
