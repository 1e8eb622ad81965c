import { freePort, httpStatus, pollUntil, startInstance } from '../../scripts/topology/instance';
import { defer } from '../helpers/cleanup';
import { startRedis } from '../helpers/redis';

describe('an instance started before its Redis', () => {
  it('is alive but not ready until Redis answers, then ready without a restart', async () => {
    const redisPort = await freePort();
    const instance = await startInstance({
      env: { REDIS_URL: `redis://127.0.0.1:${redisPort}`, LOG_LEVEL: 'warn', INSTANCE_ID: 'early' },
      inheritEnv: false,
      waitReady: false,
    });
    defer(() => instance.stop());

    expect(await httpStatus(`${instance.url}/healthz`)).toBe(200);
    expect(await httpStatus(`${instance.url}/readyz`)).toBe(503);
    expect(await httpStatus(`${instance.url}/api/rooms`)).toBe(503);

    await startRedis({ port: redisPort });
    await pollUntil('the instance turning ready', async () => (await httpStatus(`${instance.url}/readyz`)) === 200, {
      timeoutMs: 20_000,
    });
    expect(await httpStatus(`${instance.url}/api/rooms`)).toBe(200);
    expect(instance.hasExited()).toBe(false);
  });

  it('exits 0 on SIGTERM while still waiting for Redis', async () => {
    const instance = await startInstance({
      env: { REDIS_URL: `redis://127.0.0.1:${await freePort()}`, LOG_LEVEL: 'warn' },
      inheritEnv: false,
      waitReady: false,
    });
    expect(await instance.stop()).toBe(0);
  });
});
