/**
 * The tester's own connection to the target's Redis, for what Redis says of
 * itself: INFO (CPU, memory, commands, network) and CLIENT LIST (who is
 * subscribed to how many channels). Never writes anything.
 */
import { createClient } from 'redis';

export class RedisProbe {
  private constructor(private readonly client: ReturnType<typeof createClient>) {}

  /** Connects to `url`; undefined (and a reason) when Redis cannot be reached. */
  static async connect(url: string): Promise<RedisProbe | string> {
    const client = createClient({ url, name: 'parley-loadtest', socket: { connectTimeout: 3000, reconnectStrategy: false } });
    client.on('error', () => {});
    try {
      await client.connect();
      return new RedisProbe(client);
    } catch (err) {
      return `cannot reach ${url}: ${(err as Error).message}`;
    }
  }

  /** Every INFO field, by name; undefined on failure. */
  async info(): Promise<Record<string, string> | undefined> {
    try {
      const text = await this.client.info();
      return Object.fromEntries(
        text
          .split('\r\n')
          .filter((line) => line.includes(':') && !line.startsWith('#'))
          .map((line) => [line.slice(0, line.indexOf(':')), line.slice(line.indexOf(':') + 1)]),
      );
    } catch {
      return undefined;
    }
  }

  /** CLIENT LIST, one record of its fields per client; [] on failure. */
  async clients(): Promise<Array<Record<string, string>>> {
    try {
      const text = await this.client.sendCommand<string>(['CLIENT', 'LIST']);
      return text
        .trim()
        .split('\n')
        .map((line) => Object.fromEntries(line.trim().split(' ').map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)])));
    } catch {
      return [];
    }
  }

  async close(): Promise<void> {
    await this.client.quit().catch(() => {});
  }
}
