import os from 'node:os';
import { ConfigError, readConfig } from '../../server/config';

/** The ConfigError that `env` makes readConfig throw (fails if it throws none). */
function failure(env: Record<string, string>): ConfigError {
  try {
    readConfig(env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return err as ConfigError;
  }
  throw new Error(`readConfig accepted ${JSON.stringify(env)}`);
}

describe('readConfig', () => {
  it('uses the contract\'s defaults for an empty environment', () => {
    const config = readConfig({});
    expect(config).toMatchObject({
      port: 3000,
      host: '0.0.0.0',
      allowedOrigins: [],
      instanceId: `${os.hostname()}:3000`,
      trustProxy: false,
      limits: true,
      historyMax: 10_000,
      memoryMaxMessages: 200_000,
      memoryMaxRooms: 10_000,
    });
    expect(config.redisUrl).toBeUndefined();
    expect(config.authSecret).toBeUndefined();
  });

  it('treats an empty variable as unset', () => {
    const config = readConfig({ PORT: '', REDIS_URL: '', AUTH_SECRET: '', ALLOWED_ORIGINS: '', LIMITS: '' });
    expect(config).toMatchObject({ port: 3000, limits: true, allowedOrigins: [] });
    expect(config.redisUrl).toBeUndefined();
    expect(config.authSecret).toBeUndefined();
  });

  it('reads every variable of the contract', () => {
    const config = readConfig({
      PORT: '8080',
      HOST: '127.0.0.1',
      REDIS_URL: 'redis://cache:6380/2',
      REDIS_PUBSUB: 'classic',
      AUTH_SECRET: 'a-secret-of-at-least-16',
      ALLOWED_ORIGINS: 'https://chat.example.com, http://localhost:5173/',
      INSTANCE_ID: 'parley-1',
      TRUST_PROXY: 'on',
      LIMITS: 'off',
    });
    expect(config).toMatchObject({
      port: 8080,
      host: '127.0.0.1',
      redisUrl: 'redis://cache:6380/2',
      redisPubSub: 'classic',
      authSecret: 'a-secret-of-at-least-16',
      allowedOrigins: ['https://chat.example.com', 'http://localhost:5173'],
      instanceId: 'parley-1',
      trustProxy: true,
      limits: false,
    });
  });

  it('defaults INSTANCE_ID to hostname and port', () => {
    expect(readConfig({ PORT: '4321' }).instanceId).toBe(`${os.hostname()}:4321`);
  });

  it.each([
    ['on', true],
    ['off', false],
    ['true', true],
    ['false', false],
    ['1', true],
    ['0', false],
    ['YES', true],
    ['No', false],
  ])('reads the flag value %j', (value, expected) => {
    expect(readConfig({ TRUST_PROXY: value }).trustProxy).toBe(expected);
    expect(readConfig({ LIMITS: value }).limits).toBe(expected);
  });

  it.each([
    ['PORT', 'abc'],
    ['PORT', '-1'],
    ['PORT', '65536'],
    ['PORT', '80.5'],
    ['PORT', ' '],
    ['PORT', '1e3'],
    ['PORT', '0x50'],
    ['HOST', 'not a host'],
    ['HOST', 'http://example.com'],
    ['REDIS_URL', 'localhost:6379'],
    ['REDIS_PUBSUB', 'shard'],
    ['REDIS_URL', 'http://localhost:6379'],
    ['AUTH_SECRET', 'short'],
    ['ALLOWED_ORIGINS', 'not a url'],
    ['ALLOWED_ORIGINS', 'localhost:3000'],
    ['ALLOWED_ORIGINS', 'https://ok.example.com,ftp://files.example.com'],
    ['INSTANCE_ID', 'has spaces'],
    ['INSTANCE_ID', 'x'.repeat(65)],
    ['TRUST_PROXY', 'maybe'],
    ['LIMITS', 'disabled'],
    ['HISTORY_MAX', '10'],
    ['HISTORY_MAX', 'lots'],
    ['LOG_LEVEL', 'loud'],
    ['DRAIN_TIMEOUT_MS', '-5'],
    ['PING_INTERVAL_MS', '1'],
    ['PING_TIMEOUT_MS', 'soon'],
    ['PUBLIC_ORIGIN', 'chat.example.com'],
    ['TLS_CERT', '/nonexistent/cert.pem'],
    ['METRICS_TOKEN', 'short'],
    ['METRICS_TOKEN', 'has spaces in it, sixteen+'],
    ['METRICS_PORT', '70000'],
    ['METRICS_HOST', 'not a host'],
    ['MAX_FRAME_BYTES', '10'],
    ['MAX_BODY_BYTES', 'big'],
    ['MAX_OUTPUT_BYTES', '1000'],
    ['MAX_ROOMS_PER_CONNECTION', '0'],
    ['MAX_CONNECTIONS_PER_ADDRESS', '0'],
    ['LIMIT_SEND', '30'],
    ['LIMIT_JOIN', '0/10'],
    ['LIMIT_TYPING', 'many'],
    ['LIMIT_CONNECT', '10/0'],
    ['LIMIT_READ', '200'],
    ['MEMORY_MAX_ROOMS', '9'],
    ['HTTP_REQUEST_TIMEOUT_MS', '5'],
    ['HTTP_HEADERS_TIMEOUT_MS', 'soon'],
    ['HTTP_KEEPALIVE_TIMEOUT_MS', '-1'],
  ])('refuses %s=%j with a ConfigError naming the variable', (variable, value) => {
    const err = failure({ [variable]: value });
    expect(err.variable).toBe(variable);
    expect(err.message.startsWith(`${variable}: `)).toBe(true);
    expect(err.message).not.toContain('\n');
  });

  it('reads the security and resource settings, each with its default', () => {
    expect(readConfig({})).toMatchObject({
      publicOrigins: [],
      metricsHost: '0.0.0.0',
      maxFrameBytes: 65536,
      maxBodyBytes: 65536,
      maxOutputBytes: 1048576,
      maxRoomsPerConnection: 100,
      maxConnectionsPerAddress: 1000,
      rateLimits: {
        send: { points: 30, durationSec: 10 },
        join: { points: 60, durationSec: 10 },
        typing: { points: 30, durationSec: 10 },
        connect: { points: 120, durationSec: 60 },
        read: { points: 200, durationSec: 10 },
      },
      httpRequestTimeoutMs: 30_000,
      httpHeadersTimeoutMs: 10_000,
      httpKeepAliveTimeoutMs: 5000,
    });
    const config = readConfig({
      HOST: '127.0.0.1',
      PUBLIC_ORIGIN: 'https://chat.example.com/',
      TLS_CERT: __filename,
      TLS_KEY: __filename,
      METRICS_TOKEN: 'scrape-0123456789abcdef',
      METRICS_PORT: '9100',
      MAX_FRAME_BYTES: '131072',
      MAX_BODY_BYTES: '2048',
      MAX_OUTPUT_BYTES: '262144',
      MAX_ROOMS_PER_CONNECTION: '5',
      MAX_CONNECTIONS_PER_ADDRESS: '50',
      LIMIT_SEND: '10/5',
      LIMIT_JOIN: '20/10s',
      LIMIT_TYPING: '5/1',
      LIMIT_CONNECT: '1000/60',
      LIMIT_READ: '50/5',
      HTTP_REQUEST_TIMEOUT_MS: '2000',
      HTTP_HEADERS_TIMEOUT_MS: '1000',
      HTTP_KEEPALIVE_TIMEOUT_MS: '65000',
    });
    expect(config).toMatchObject({
      publicOrigins: ['https://chat.example.com'],
      tlsCert: __filename,
      tlsKey: __filename,
      metricsToken: 'scrape-0123456789abcdef',
      metricsPort: 9100,
      metricsHost: '127.0.0.1',
      maxFrameBytes: 131072,
      maxBodyBytes: 2048,
      maxOutputBytes: 262144,
      maxRoomsPerConnection: 5,
      maxConnectionsPerAddress: 50,
      rateLimits: {
        send: { points: 10, durationSec: 5 },
        join: { points: 20, durationSec: 10 },
        typing: { points: 5, durationSec: 1 },
        connect: { points: 1000, durationSec: 60 },
        read: { points: 50, durationSec: 5 },
      },
      httpRequestTimeoutMs: 2000,
      httpHeadersTimeoutMs: 1000,
      httpKeepAliveTimeoutMs: 65000,
    });
  });

  it.each([
    [{ TLS_CERT: __filename }, 'TLS_KEY'],
    [{ TLS_KEY: __filename }, 'TLS_CERT'],
    [{ HTTP_REQUEST_TIMEOUT_MS: '1000', HTTP_HEADERS_TIMEOUT_MS: '2000' }, 'HTTP_HEADERS_TIMEOUT_MS'],
    [{ PORT: '3000', METRICS_PORT: '3000' }, 'METRICS_PORT'],
  ])('refuses the combination %j', (env, variable) => {
    expect(failure(env).variable).toBe(variable);
  });

  it('never repeats a secret in its error', () => {
    expect(failure({ METRICS_TOKEN: 'tiny secret' }).message).not.toContain('tiny secret');
    expect(failure({ AUTH_SECRET: 'tiny secret' }).message).not.toContain('tiny secret');
  });

  it('accepts the edges of the ranges', () => {
    expect(readConfig({ PORT: '0' }).port).toBe(0);
    expect(readConfig({ PORT: '65535' }).port).toBe(65535);
    expect(readConfig({ HOST: '::1' }).host).toBe('::1');
    expect(readConfig({ HOST: 'localhost' }).host).toBe('localhost');
    expect(readConfig({ HISTORY_MAX: '100' }).historyMax).toBe(100);
    expect(readConfig({ MEMORY_MAX_MESSAGES: '1000' }).memoryMaxMessages).toBe(1000);
    expect(readConfig({ MEMORY_MAX_ROOMS: '10' }).memoryMaxRooms).toBe(10);
    expect(readConfig({ REDIS_URL: 'rediss://user:pw@redis.example.com:6380' }).redisUrl).toBe('rediss://user:pw@redis.example.com:6380');
  });
});

describe('readConfig: Redis Cluster and replicas', () => {
  it('reads the seed nodes of a Redis Cluster, trimmed, in place of REDIS_URL', () => {
    const config = readConfig({ REDIS_CLUSTER_NODES: 'redis://node-1:6379, redis://node-2:6379 ,rediss://user:pw@node-3:7000' });
    expect(config.redisClusterNodes).toEqual(['redis://node-1:6379', 'redis://node-2:6379', 'rediss://user:pw@node-3:7000']);
    expect(config.redisUrl).toBeUndefined();
    expect(readConfig({}).redisClusterNodes).toBeUndefined();
    expect(readConfig({ REDIS_CLUSTER_NODES: '' }).redisClusterNodes).toBeUndefined();
  });

  it('waits for no replica unless told, and reads how many and how long', () => {
    expect(readConfig({})).toMatchObject({ redisWaitReplicas: 0, redisWaitTimeoutMs: 500 });
    expect(readConfig({ REDIS_WAIT_REPLICAS: '1', REDIS_WAIT_TIMEOUT_MS: '250' })).toMatchObject({ redisWaitReplicas: 1, redisWaitTimeoutMs: 250 });
    expect(readConfig({ REDIS_WAIT_TIMEOUT_MS: '1000' }).redisWaitTimeoutMs).toBe(1000);
  });

  it('refuses REDIS_URL and REDIS_CLUSTER_NODES together, naming both', () => {
    const err = failure({ REDIS_URL: 'redis://cache:6379', REDIS_CLUSTER_NODES: 'redis://node-1:6379' });
    expect(err.variable).toBe('REDIS_CLUSTER_NODES');
    expect(err.message).toMatch(/REDIS_URL/);
  });

  it('refuses classic pub/sub on a cluster: it would send every broadcast to every node', () => {
    const err = failure({ REDIS_CLUSTER_NODES: 'redis://node-1:6379', REDIS_PUBSUB: 'classic' });
    expect(err.variable).toBe('REDIS_PUBSUB');
    expect(readConfig({ REDIS_CLUSTER_NODES: 'redis://node-1:6379', REDIS_PUBSUB: 'sharded' }).redisPubSub).toBe('sharded');
  });

  it.each([
    ['REDIS_CLUSTER_NODES', ','],
    ['REDIS_CLUSTER_NODES', 'node-1:6379'],
    ['REDIS_CLUSTER_NODES', 'redis://node-1'],
    ['REDIS_CLUSTER_NODES', 'redis://node-1:6379/2'],
    ['REDIS_CLUSTER_NODES', 'redis://node-1:6379,http://node-2:6379'],
    ['REDIS_WAIT_REPLICAS', '-1'],
    ['REDIS_WAIT_REPLICAS', 'one'],
    ['REDIS_WAIT_REPLICAS', '17'],
    ['REDIS_WAIT_TIMEOUT_MS', '5'],
    ['REDIS_WAIT_TIMEOUT_MS', '1001'],
  ])('refuses %s=%j with a ConfigError naming the variable', (variable, value) => {
    const err = failure({ [variable]: value });
    expect(err.variable).toBe(variable);
    expect(err.message.startsWith(`${variable}: `)).toBe(true);
  });
});
