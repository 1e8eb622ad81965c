import { call, ok } from '../helpers/events';
import { connect, startServer } from '../helpers/server';
import { until } from '../helpers/process';

/** The value of one sample line of /metrics, e.g. `parley_connected_sockets` or `parley_send_ack_seconds_count{outcome="ok"}`. */
async function sample(url: string, name: string, labels: Record<string, string> = {}): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  for (const line of text.split('\n')) {
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const have = Object.fromEntries([...(match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((m) => [m[1], m[2]]));
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) return Number(match[3]);
  }
  return 0;
}

describe('/metrics', () => {
  it('is Prometheus text with the instance label on every parley_ sample', async () => {
    const { url } = await startServer({ instanceId: 'metrics-1' });
    const text = await (await fetch(`${url}/metrics`)).text();
    for (const name of ['parley_connected_sockets', 'parley_joined_rooms', 'parley_messages_stored_total', 'parley_send_ack_seconds']) {
      expect(text).toMatch(new RegExp(`^# TYPE ${name} (gauge|counter|histogram)$`, 'm'));
    }
    const samples = text.split('\n').filter((l) => l.startsWith('parley_'));
    expect(samples.length).toBeGreaterThan(0);
    for (const line of samples) expect(line).toContain('instance="metrics-1"');
  });

  it('parley_connected_sockets follows connects and disconnects', async () => {
    const { url } = await startServer();
    expect(await sample(url, 'parley_connected_sockets')).toBe(0);
    const alice = await connect(url, 'alice');
    await connect(url, 'bob');
    expect(await sample(url, 'parley_connected_sockets')).toBe(2);
    alice.disconnect();
    // No event tells an HTTP caller when the server saw the disconnect.
    await until('the gauge to drop', async () => (await sample(url, 'parley_connected_sockets')) === 1);
  });

  it('parley_joined_rooms counts the chat rooms with a socket of this instance', async () => {
    const { url } = await startServer();
    const alice = await connect(url, 'alice');
    const bob = await connect(url, 'bob');
    expect(await sample(url, 'parley_joined_rooms')).toBe(0);
    await ok(alice, 'room:join', { room: 'lobby' });
    await ok(bob, 'room:join', { room: 'lobby' });
    await ok(bob, 'room:join', { room: 'other' });
    expect(await sample(url, 'parley_joined_rooms')).toBe(2);
    await ok(bob, 'room:leave', { room: 'other' });
    expect(await sample(url, 'parley_joined_rooms')).toBe(1);
  });

  it('parley_messages_stored_total counts stored messages, not idempotent repeats', async () => {
    const { url } = await startServer();
    const alice = await connect(url, 'alice');
    await ok(alice, 'room:join', { room: 'lobby' });
    await ok(alice, 'message:send', { room: 'lobby', text: 'one', clientId: 'c1' });
    await ok(alice, 'message:send', { room: 'lobby', text: 'one', clientId: 'c1' });
    await ok(alice, 'message:send', { room: 'lobby', text: 'two', clientId: 'c2' });
    expect(await sample(url, 'parley_messages_stored_total')).toBe(2);
  });

  it('parley_send_ack_seconds observes every answered send, by outcome', async () => {
    const { url } = await startServer();
    const alice = await connect(url, 'alice');
    await ok(alice, 'room:join', { room: 'lobby' });
    await ok(alice, 'message:send', { room: 'lobby', text: 'one', clientId: 'c1' });
    await ok(alice, 'message:send', { room: 'lobby', text: 'two', clientId: 'c2' });
    await call(alice, 'message:send', { room: 'elsewhere', text: 'no', clientId: 'c3' });
    expect(await sample(url, 'parley_send_ack_seconds_count', { outcome: 'ok' })).toBe(2);
    expect(await sample(url, 'parley_send_ack_seconds_count', { outcome: 'not_joined' })).toBe(1);
    expect(await sample(url, 'parley_send_ack_seconds_sum', { outcome: 'ok' })).toBeGreaterThan(0);
  });

  it('counts refused handshakes by reason', async () => {
    const { url } = await startServer();
    await expect(connect(url, '')).rejects.toThrow(/unauthorized/);
    expect(await sample(url, 'parley_handshakes_refused_total', { reason: 'unauthorized' })).toBe(1);
  });

  it('counts error answers by code', async () => {
    const { url } = await startServer();
    const alice = await connect(url, 'alice');
    await call(alice, 'room:join', { room: 'BAD' });
    await call(alice, 'room:join', { room: 'BAD' });
    expect(await sample(url, 'parley_errors_total', { code: 'invalid_room' })).toBe(2);
  });
});
