import { logLevel, type LogEntry } from 'kafkajs';

import { kafkaLogLevel } from './kafka';

const entry = (level: logLevel, namespace: string, log: Record<string, unknown>): LogEntry => ({
  namespace,
  level,
  label: 'ERROR',
  log: {
    timestamp: '2026-12-06T00:00:00.000Z',
    message: 'Response InitProducerId(key: 22, version: 1)',
    ...log,
  },
});

describe('kafkaLogLevel', () => {
  it('makes a broker error answer that kafkajs retries by itself a warning', () => {
    for (const error of [
      "The coordinator is loading and hence can't process requests for this group",
      'The group coordinator is not available',
      'This server is not the leader for that topic-partition',
    ])
      expect(kafkaLogLevel(entry(logLevel.ERROR, 'Connection', { error }))).toBe('warn');
  });

  it('keeps a broker error that is not retried, or any other error, an error', () => {
    expect(
      kafkaLogLevel(
        entry(logLevel.ERROR, 'Connection', {
          error: 'Not authorized to access group: Group authorization failed',
        }),
      ),
    ).toBe('error');
    expect(
      kafkaLogLevel(
        entry(logLevel.ERROR, 'Consumer', {
          error: 'The group coordinator is not available',
        }),
      ),
    ).toBe('error');
    expect(kafkaLogLevel(entry(logLevel.ERROR, 'Connection', {}))).toBe('error');
    expect(kafkaLogLevel(entry(logLevel.WARN, 'Connection', {}))).toBe('warn');
  });
});
