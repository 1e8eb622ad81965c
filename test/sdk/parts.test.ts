import { CLIENT_ID_PATTERN } from '../../protocol';
import { backoffDelay } from '../../client/sdk/backoff';
import { randomId } from '../../client/sdk/ids';

describe('SDK parts', () => {
  it('makes clientIds the server accepts, different every time', () => {
    const ids = Array.from({ length: 1000 }, () => randomId());
    for (const id of ids) expect(id).toMatch(CLIENT_ID_PATTERN);
    expect(new Set(ids).size).toBe(ids.length);
    expect(randomId(64)).toMatch(CLIENT_ID_PATTERN);
  });

  it('backs off exponentially up to a cap, with jitter that never retries at once', () => {
    const options = { baseMs: 100, maxMs: 1000 };
    expect([1, 2, 3, 4, 5, 9].map((n) => backoffDelay(n, options, () => 0))).toEqual([50, 100, 200, 400, 500, 500]);
    expect([1, 2, 3, 4, 5, 9].map((n) => backoffDelay(n, options, () => 1))).toEqual([100, 200, 400, 800, 1000, 1000]);
  });
});
