import jwt from 'jsonwebtoken';
import { ParleyClient, type ConnectionStatus, type ParleyError } from '../../client/sdk';
import { defer } from '../helpers/cleanup';
import { collect, waitFor } from '../helpers/events';
import { startServer } from '../helpers/server';
import { connected, dropConnection, sdkClient, serverSockets } from './sdk';

describe('SDK connection status', () => {
  it('goes connecting, connected, reconnecting, connected, then offline once closed', async () => {
    const server = await startServer({ instanceId: 'one' });
    const bob = sdkClient(server.url, 'bob');
    expect(bob.status).toBe('connecting');
    const statuses = collect<ConnectionStatus>(bob, 'status');
    const session = waitFor(bob, 'session');
    await connected(bob);
    expect(await session).toEqual({ user: { id: 'bob', name: 'bob' }, instanceId: 'one' });
    await bob.join('lobby');

    await dropConnection(server, bob);
    await waitFor(bob, 'joined', (info) => info.rejoin);
    bob.close();
    bob.close();
    expect(statuses.items).toEqual(['connected', 'reconnecting', 'connected', 'offline']);
    expect(bob.status).toBe('offline');
  });

  it('goes offline on a refused handshake, says why, and rejects the joins waiting for it', async () => {
    const server = await startServer();
    const nobody = sdkClient(server.url, '   ');
    const error = waitFor<ParleyError>(nobody, 'error');
    const joining = nobody.join('lobby');
    expect((await error).code).toBe('unauthorized');
    await expect(joining).rejects.toMatchObject({ code: 'unauthorized' });
    expect(nobody.status).toBe('offline');
  });

  it('goes offline when the server ends the session, and connect() brings it back with its rooms', async () => {
    const server = await startServer();
    const bob = sdkClient(server.url, 'bob');
    await bob.join('lobby');
    const offline = waitFor(bob, 'status', (s) => s === 'offline');
    // `io server disconnect`: socket.io-client does not reconnect by itself after it.
    serverSockets(server, 'bob')[0].disconnect();
    await offline;

    const sending = bob.send('lobby', 'when back');
    const rejoined = waitFor(bob, 'joined', (info) => info.rejoin);
    bob.connect();
    await rejoined;
    expect((await sending).seq).toBe(1);
    expect(bob.status).toBe('connected');
  });

  it('asks an auth function for the identity at every connection (a fresh token each time)', async () => {
    const secret = 'test-secret';
    const server = await startServer({ authSecret: secret });
    let issued = 0;
    const bob = new ParleyClient({
      url: server.url,
      auth: async () => {
        issued++;
        return { token: jwt.sign({ sub: 'u-bob', name: 'Bob', exp: Math.floor(Date.now() / 1000) + 60 }, secret) };
      },
      socket: { reconnectionDelay: 20, reconnectionDelayMax: 100 },
    });
    defer(() => bob.close());
    await connected(bob);
    expect(bob.session?.user).toEqual({ id: 'u-bob', name: 'Bob' });
    await bob.join('lobby');
    await dropConnection(server, bob);
    await connected(bob);
    expect(issued).toBe(2);
  });
});
