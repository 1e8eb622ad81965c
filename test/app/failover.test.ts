/**
 * The browser app when the instance serving it dies: two instance processes
 * on one Redis behind HAProxy; the one a page is on is killed (SIGKILL).
 */
import type { Page } from 'playwright-core';
import { useSharedCluster } from '../helpers/cluster';
import { chatPage, connectedPage, messageTexts, screenshot, seesMessage, send, tid, useBrowser } from './browser';

jest.setTimeout(45_000);

describe('the browser app when its instance dies', () => {
  const cluster = useSharedCluster({ instances: 2 });
  const browser = useBrowser();

  const instanceOf = (page: Page) => page.getAttribute(tid('connection-status'), 'data-instance');

  it('shows the banner, comes back on its own through another instance, and shows what was sent meanwhile, in order and once', async () => {
    const url = cluster().balancer!.url;
    const reader = await chatPage(browser(), url, 'Reader', 'failover');
    await send(reader, 'before');
    await seesMessage(reader, 'before');
    const victimId = await instanceOf(reader);
    const victim = cluster().instances.find((i) => i.instanceId === victimId)!;
    const survivor = cluster().instances.find((i) => i !== victim)!;
    // The writer is on the instance that stays.
    const writer = await chatPage(browser(), survivor.url, 'Writer', 'failover');

    const banner = reader.waitForSelector(`${tid('connection-status')}[data-state="reconnecting"]`, { state: 'attached', timeout: 10_000 });
    await victim.kill();
    await banner;
    expect(await reader.textContent(tid('connection-status'))).toContain('Reconnecting');
    await screenshot(reader, 'reconnecting');

    const meanwhile = ['while away 1', 'while away 2', 'while away 3', 'while away 4', 'while away 5'];
    for (const text of meanwhile) await send(writer, text);
    await seesMessage(writer, 'while away 5');
    // Written while the page is away: it waits, shown as pending, and goes out once back.
    await send(reader, 'written while away');

    await connectedPage(reader, 20_000);
    expect(await instanceOf(reader)).toBe(survivor.instanceId);
    await seesMessage(reader, 'while away 5', 15_000);
    await seesMessage(reader, 'written while away', 15_000);
    await seesMessage(writer, 'written while away', 15_000);
    expect(await messageTexts(reader)).toEqual(['before', ...meanwhile, 'written while away']);
    expect(await messageTexts(writer)).toEqual(['before', ...meanwhile, 'written while away']);
    expect(await reader.locator(`${tid('message-list')} .outbox .msg`).count()).toBe(0);
    await screenshot(reader);
  });
});
