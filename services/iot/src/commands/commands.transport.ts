import type { CommandPayload } from './commands.domain';

/**
 * How commands reach devices and their reports come back: the project's broker (the mqtt module's
 * connection), topic <root>/<project>/devices/<device>/commands down, .../commands/ack up.
 */
export abstract class CommandTransport {
  /** Resolves once the broker has the message (QoS 1). */
  abstract publish(projectId: string, deviceId: string, payload: CommandPayload): Promise<void>;
  /** Registers the handler of every device's reports; a rejected handler leaves the report unacked. */
  abstract onReports(
    handler: (projectId: string, deviceId: string, body: unknown) => Promise<void>,
  ): Promise<void>;
}
