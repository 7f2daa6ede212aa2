import { status as GrpcStatus, type ServiceError } from '@grpc/grpc-js';

/** Exit codes of the tool. */
export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

/** The command line is wrong (unknown command or option, missing or bad value): exit code 2. */
export class UsageError extends Error {
  /** `help` topic that explains the right usage, e.g. "operator create"; empty: the whole tool. */
  constructor(
    message: string,
    readonly topic: string,
  ) {
    super(message);
    this.name = 'UsageError';
  }
}

/** The command was well formed but could not be carried out: exit code 1. */
export class CliError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CliError';
  }
}

/** A gRPC status error as @grpc/grpc-js rejects calls with. */
export function isServiceError(err: unknown): err is ServiceError {
  return (
    typeof err === 'object' &&
    err !== null &&
    typeof (err as Partial<ServiceError>).code === 'number' &&
    typeof (err as Partial<ServiceError>).details === 'string'
  );
}

/** "PERMISSION_DENIED", "NOT_FOUND", ... for a gRPC status code. */
export function grpcStatusName(code: number): string {
  const name = (GrpcStatus as unknown as Record<number, string | undefined>)[code];
  return name ?? `STATUS_${code}`;
}

/** One line, whatever the message held. */
export function oneLine(text: string): string {
  return text.replace(/\s*[\r\n]+\s*/g, ' ').trim();
}

/** The single stderr line for an error (without the trailing newline). */
export function describeError(err: unknown): string {
  if (err instanceof UsageError) {
    const help = err.topic === '' ? 'citybase help' : `citybase ${err.topic} --help`;
    return `citybase: ${oneLine(err.message)} (see '${help}')`;
  }
  if (isServiceError(err)) return `citybase: ${grpcStatusName(err.code)}: ${oneLine(err.details)}`;
  if (err instanceof CliError) return `citybase: ${oneLine(err.message)}`;
  const message = err instanceof Error ? err.message : String(err);
  return `citybase: unexpected error: ${oneLine(message)}`;
}

export function exitCodeOf(err: unknown): number {
  return err instanceof UsageError ? EXIT_USAGE : EXIT_FAILURE;
}
