import { z } from 'zod';
import { ConfigError, loadConfig, serviceConfigSchema } from './config';

describe('loadConfig', () => {
  const schema = serviceConfigSchema({ grpcPort: 50052, httpPort: 8082, database: 'citybase_payment' });

  it('fills a development default for every setting, so a bare `nx serve` works', () => {
    const config = loadConfig(schema, {});
    expect(config).toMatchObject({
      CITY_ID: 'demo-city',
      GRPC_PORT: 50052,
      HTTP_PORT: 8082,
      DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/citybase_payment',
      KAFKA_BROKERS: ['127.0.0.1:9092'],
      LOG_LEVEL: 'info',
    });
    expect(Object.isFrozen(config)).toBe(true);
  });

  it('parses and types what the environment gives', () => {
    const config = loadConfig(schema, {
      GRPC_PORT: '6000',
      KAFKA_BROKERS: 'k1:9092, k2:9093',
      DATABASE_POOL_SIZE: '25',
    });
    expect(config.GRPC_PORT).toBe(6000);
    expect(config.KAFKA_BROKERS).toEqual(['k1:9092', 'k2:9093']);
    expect(config.DATABASE_POOL_SIZE).toBe(25);
  });

  it('treats an empty variable as unset', () => {
    expect(loadConfig(schema, { LOG_LEVEL: '' }).LOG_LEVEL).toBe('info');
  });

  it('reports every problem at once, each naming the variable and the rule', () => {
    let error: unknown;
    try {
      loadConfig(schema, {
        GRPC_PORT: 'abc',
        HTTP_PORT: '70000',
        DATABASE_URL: 'mysql://x/y',
        LOG_LEVEL: 'loud',
        KAFKA_BROKERS: 'no-port',
        CITY_ID: 'Big City',
      });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const problems = (error as ConfigError).problems;
    expect(problems).toHaveLength(6);
    expect(problems.map((p) => p.split(':')[0]).sort()).toEqual([
      'CITY_ID',
      'DATABASE_URL',
      'GRPC_PORT',
      'HTTP_PORT',
      'KAFKA_BROKERS',
      'LOG_LEVEL',
    ]);
    expect(problems).toContain('DATABASE_URL: must be a postgres:// URL');
    expect(problems).toContain('KAFKA_BROKERS: must be a comma-separated list of host:port');
    expect((error as Error).message).toMatch(/^Invalid configuration:\n {2}- /);
  });

  it('says "required but not set" for a missing required variable', () => {
    const strict = z.object({ SECRET_KEY: z.string().min(32), OTHER: z.string() });
    expect(() => loadConfig(strict, { SECRET_KEY: 'short' })).toThrow(
      /SECRET_KEY: Too small.*\n {2}- OTHER: required but not set/s,
    );
  });
});
