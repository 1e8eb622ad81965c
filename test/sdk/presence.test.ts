import type { JoinInfo, ParleyClient, PresenceEvent, User } from '../../client/sdk';
import { collect, waitFor } from '../helpers/events';
import { startServer, type TestServer } from '../helpers/server';
import { dropConnection, handshakeGate, sdkClient, seqs, storeQuietly } from './sdk';

const user = (id: string): User => ({ id, name: id });
const ids = (users: User[]) => users.map((u) => u.id).sort();

/** Resolves once `client` lists exactly `expected` (by id) in `room`. */
async function membersBecome(client: ParleyClient, room: string, expected: string[]): Promise<void> {
  const same = () => JSON.stringify(ids(client.members(room))) === JSON.stringify([...expected].sort());
  if (!same()) await waitFor(client, 'members', same);
}

/** A presence event that only the clients hear of: the server's presence knows nothing of it. */
function emitPresence(server: TestServer, event: PresenceEvent): void {
  server.app.io.to(event.room).emit('presence', event);
}

describe('SDK member lists', () => {
  it('ignores a presence event older than the member list it holds, and a second one with a version it has', async () => {
    const server = await startServer();
    const alice = sdkClient(server.url, 'alice');
    await alice.join('lobby');
    const bob = sdkClient(server.url, 'bob');
    await bob.join('lobby');
    await membersBecome(alice, 'lobby', ['alice', 'bob']);
    const told = collect<PresenceEvent>(alice, 'presence');

    // Delivered late, from another instance: bob's join (version 2) happened after it.
    emitPresence(server, { room: 'lobby', event: 'leave', user: user('bob'), members: 1, version: 1 });
    emitPresence(server, { room: 'lobby', event: 'leave', user: user('bob'), members: 1, version: 2 });
    // A real change after them: once alice has it, she has had the others too.
    const carol = sdkClient(server.url, 'carol');
    await carol.join('lobby');
    await membersBecome(alice, 'lobby', ['alice', 'bob', 'carol']);
    expect(told.items.map((p) => [p.event, p.user.id, p.version])).toEqual([['join', 'carol', 3]]);
  });

  it('puts presence events that arrive out of order back in the order they happened', async () => {
    const server = await startServer();
    const alice = sdkClient(server.url, 'alice');
    await alice.join('lobby');
    // carol comes and goes through presence directly; the room hears of it in the wrong order.
    const came = await server.backend.presence.join('lobby', user('carol'), 'carol-socket');
    const went = await server.backend.presence.leave('lobby', user('carol'), 'carol-socket');
    emitPresence(server, { room: 'lobby', event: 'leave', user: user('carol'), members: went.members, version: went.version });
    emitPresence(server, { room: 'lobby', event: 'join', user: user('carol'), members: came.members.length, version: came.version });

    const bob = sdkClient(server.url, 'bob');
    await bob.join('lobby');
    await membersBecome(alice, 'lobby', ['alice', 'bob']);
    expect(ids(alice.members('lobby'))).toEqual(['alice', 'bob']);
  });

  it('fetches the member list again when a presence event was lost, handing over no message twice', async () => {
    const server = await startServer();
    const alice = sdkClient(server.url, 'alice');
    const seen = collect(alice, 'message');
    await alice.join('lobby');
    const joins = collect<JoinInfo>(alice, 'joined');
    await alice.send('lobby', 'one');
    await seen.until(1);

    // carol joins, but the event telling it is lost; a message goes missing too.
    await server.backend.presence.join('lobby', user('carol'), 'carol-socket');
    await storeQuietly(server, 'lobby', 'missed');
    // dave's join is told: its version skips carol's.
    const dave = await server.backend.presence.join('lobby', user('dave'), 'dave-socket');
    emitPresence(server, { room: 'lobby', event: 'join', user: user('dave'), members: dave.members.length, version: dave.version });

    await membersBecome(alice, 'lobby', ['alice', 'carol', 'dave']);
    await alice.send('lobby', 'three');
    await seen.until(3);
    expect(seen.items.map((m) => m.text)).toEqual(['one', 'missed', 'three']);
    expect(seqs(seen.items)).toEqual([1, 2, 3]);
    // A fetch of the member list, not a re-join as far as the application is concerned.
    expect(joins.items).toEqual([]);
  });

  it('keeps the member list right across a reconnect, whatever version the re-join answers', async () => {
    const server = await startServer();
    const alice = sdkClient(server.url, 'alice');
    await alice.join('lobby');
    const bob = sdkClient(server.url, 'bob');
    await bob.join('lobby');
    await membersBecome(alice, 'lobby', ['alice', 'bob']);

    // While alice is away, bob leaves and carol comes: she hears of neither.
    const gate = handshakeGate(server, 'alice');
    gate.hold();
    const rejoined = waitFor<JoinInfo>(alice, 'joined', (info) => info.rejoin);
    await dropConnection(server, alice);
    await bob.leave('lobby');
    await server.backend.presence.join('lobby', user('carol'), 'carol-socket');
    gate.release();
    expect(ids((await rejoined).members)).toEqual(['alice', 'carol']);
    expect(ids(alice.members('lobby'))).toEqual(['alice', 'carol']);
  });
});
