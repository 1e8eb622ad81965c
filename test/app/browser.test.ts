/**
 * The browser app against one in-process instance: what a reader sees of
 * history, scrolling, the message box, sends that wait or fail, and the
 * SDK module every instance serves. (The cluster and failover suites cover
 * several instances.)
 */
import { randomUUID } from 'node:crypto';
import type { Message } from '../../protocol';
import { startServer, type TestServer } from '../helpers/server';
import { sdkClient } from '../sdk/sdk';
import { collect } from '../helpers/events';
import { chatPage, connectedPage, messageItem, messageTexts, openApp, screenshot, seesMessage, send, shown, tid, useBrowser } from './browser';

jest.setTimeout(30_000);

const DAY = 24 * 60 * 60 * 1000;

/** Stores a message as `name` at time `ts`, broadcasting nothing: history from before the page came. */
async function storeAt(server: TestServer, room: string, name: string, text: string, ts: number): Promise<Message> {
  const { message } = await server.backend.store.append({ id: randomUUID(), room, clientId: randomUUID(), user: { id: name, name }, text, ts });
  return message;
}

/** Scroll metrics of the message list. */
function scrollOf(page: import('playwright-core').Page) {
  return page.$eval(tid('message-list'), (node) => ({ top: node.scrollTop, height: node.scrollHeight, client: node.clientHeight }));
}

describe('browser app', () => {
  const browser = useBrowser();

  it('shows history with day separators and author groups, and loads older messages when scrolled to the top', async () => {
    const server = await startServer();
    const twoDaysAgo = new Date(Date.now() - 2 * DAY).setHours(10, 0, 0, 0);
    for (let i = 1; i <= 40; i++) await storeAt(server, 'history', i % 10 < 5 ? 'Grace' : 'Linus', `old ${i}`, twoDaysAgo + i * 1000);
    const today = Date.now() - 60_000;
    for (let i = 41; i <= 80; i++) await storeAt(server, 'history', i % 10 < 5 ? 'Grace' : 'Linus', `new ${i}`, today - (80 - i));

    const page = await chatPage(browser(), server.url, 'Ada', 'history');
    // The join brings the latest 50: 10 old ones, then today.
    expect((await messageTexts(page)).length).toBe(50);
    expect((await messageTexts(page))[0]).toBe('old 31');
    const days = () => page.locator(`${tid('message-list')} .day-divider`).allTextContents();
    expect(await days()).toEqual([expect.stringMatching(/\w/), 'Today']);
    // Consecutive messages of one author form a group: only the first says who wrote it.
    const first = page.locator(`${tid('message-list')} .msg`, { hasText: 'new 45' });
    const next = page.locator(`${tid('message-list')} .msg`, { hasText: 'new 46' });
    expect(await first.getAttribute('class')).not.toContain('grouped');
    expect(await first.locator('.author').textContent()).toBe('Linus');
    expect(await next.getAttribute('class')).toContain('grouped');
    expect(await next.locator('.author').count()).toBe(0);
    // At the bottom, the newest in view.
    const start = await scrollOf(page);
    expect(start.height - start.top - start.client).toBeLessThan(2);

    await page.$eval(tid('message-list'), (node) => node.scrollTo({ top: 0 }));
    await page.waitForFunction((sel) => document.querySelectorAll(sel).length === 80, `${tid('message-list')} .timeline .msg`);
    expect((await messageTexts(page)).slice(0, 2)).toEqual(['old 1', 'old 2']);
    expect((await messageTexts(page)).slice(-1)).toEqual(['new 80']);
    // The two days keep one separator each, and the reader's place is kept (not thrown back to the top).
    expect(await days()).toEqual([expect.stringMatching(/\w/), 'Today']);
    expect((await scrollOf(page)).top).toBeGreaterThan(100);
    await page.waitForSelector(`text=This is the beginning of #history.`);
    await screenshot(page);
  });

  it('scrolls new messages into view only when the reader is at the bottom; otherwise a marker says so', async () => {
    const server = await startServer();
    for (let i = 1; i <= 40; i++) await storeAt(server, 'busy', 'Grace', `backlog ${i}`, Date.now() - 60_000 + i);
    const page = await chatPage(browser(), server.url, 'Ada', 'busy');
    const grace = sdkClient(server.url, 'Grace');
    await grace.join('busy');

    await grace.send('busy', 'at the bottom');
    await seesMessage(page, 'at the bottom');
    let at = await scrollOf(page);
    expect(at.height - at.top - at.client).toBeLessThan(2);

    await page.$eval(tid('message-list'), (node) => node.scrollTo({ top: 100 }));
    await grace.send('busy', 'while reading back');
    await page.waitForSelector('#new-marker:not([hidden])');
    expect(await page.textContent('#new-marker')).toBe('1 new message ↓');
    expect((await scrollOf(page)).top).toBe(100);
    await screenshot(page);

    await page.click('#new-marker');
    await page.waitForSelector('#new-marker', { state: 'hidden' });
    at = await scrollOf(page);
    expect(at.height - at.top - at.client).toBeLessThan(2);
  });

  it('counts what came while the page was out of sight (another tab) in the title, until it is back in view', async () => {
    const server = await startServer();
    const page = await chatPage(browser(), server.url, 'Ada', 'away');
    const grace = sdkClient(server.url, 'Grace');
    await grace.join('away');
    // The browser says the page is hidden, as it does when another tab is in front.
    const setVisibility = (state: 'hidden' | 'visible') =>
      page.evaluate((value) => {
        Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => value });
        document.dispatchEvent(new Event('visibilitychange'));
      }, state);
    await setVisibility('hidden');
    await grace.send('away', 'while you were in another tab');
    await page.waitForFunction(() => document.title === '(1) #away · Parley');
    expect(await page.textContent(`li[data-room="away"] ${tid('unread')}`)).toBe('1');
    await setVisibility('visible');
    await page.waitForFunction(() => document.title === '#away · Parley');
    expect(await page.isHidden(`li[data-room="away"] ${tid('unread')}`)).toBe(true);
  });

  it('sends on Enter, makes a new line on Shift+Enter, and keeps the lines', async () => {
    const server = await startServer();
    const page = await chatPage(browser(), server.url, 'Ada', 'lines');
    const box = page.locator(tid('message-input'));
    await box.pressSequentially('first line');
    await box.press('Shift+Enter');
    await box.pressSequentially('second line');
    expect(await box.inputValue()).toBe('first line\nsecond line');
    await page.click(tid('send-button'));
    await seesMessage(page, 'first line\nsecond line');
    expect(await box.inputValue()).toBe('');
    const line = page.locator(`${tid('message-list')} .msg .text`).last();
    // Shown on two lines.
    expect((await line.boundingBox())!.height).toBeGreaterThan(30);
    await box.pressSequentially('third');
    await box.press('Enter');
    await seesMessage(page, 'third');
    // The latest send of this page says it was sent.
    expect(await page.locator(`${tid('message-list')} .msg`, { hasText: 'third' }).locator('.delivery').textContent()).toContain('Sent');
    expect(await page.locator(`${tid('message-list')} .delivery`).count()).toBe(1);
  });

  it('keeps what is written offline as pending until the network is back; a refused send offers Retry and Discard', async () => {
    const server = await startServer();
    const page = await chatPage(browser(), server.url, 'Ada', 'outbox');
    const status = tid('connection-status');

    await page.context().setOffline(true);
    await page.waitForSelector(`${status}[data-state="offline"]`);
    expect(await page.textContent(status)).toContain('offline');
    expect(await page.isVisible('#reconnect')).toBe(true);
    await send(page, 'written offline');
    const pending = page.locator(`${tid('message-list')} .outbox .msg`, { hasText: 'written offline' });
    await pending.waitFor();
    expect(await pending.locator('.delivery').textContent()).toMatch(/Waiting to send|Sending/);
    await screenshot(page, 'offline');

    await page.context().setOffline(false);
    await page.waitForSelector(`${status}[data-state="back-online"]`, { state: 'attached' });
    expect(await page.textContent(status)).toContain('Back online');
    await seesMessage(page, 'written offline');
    expect(await page.locator(`${tid('message-list')} .outbox .msg`).count()).toBe(0);
    await page.waitForSelector(`${status}[data-state="connected"]`, { state: 'attached' });

    // A NUL character is refused for good (invalid_payload): the send fails, and says so.
    await send(page, 'bad\u0000text');
    const failed = page.locator(`${tid('message-list')} .outbox .msg.is-failed`);
    await failed.waitFor();
    expect(await failed.locator('.delivery').textContent()).toContain('Not sent');
    await screenshot(page, 'failed');
    await failed.getByRole('button', { name: 'Retry sending this message' }).click();
    await page.locator(`${tid('message-list')} .outbox .msg.is-failed`).waitFor();
    await page.locator(`${tid('message-list')} .outbox .msg`).getByRole('button', { name: 'Discard this message' }).click();
    expect(await page.locator(`${tid('message-list')} .outbox .msg`).count()).toBe(0);
    expect(await messageTexts(page)).toEqual(['written offline']);
  });

  it('keeps edits and reactions made offline waiting until back; a refused edit offers Retry and Dismiss', async () => {
    const server = await startServer();
    const page = await chatPage(browser(), server.url, 'Ada', 'changes');
    const grace = sdkClient(server.url, 'Grace');
    await grace.join('changes');
    await grace.send('changes', 'hi Ada');
    await send(page, 'my note');
    await seesMessage(page, 'hi Ada');
    await seesMessage(page, 'my note');
    const updates = collect<Message>(grace, 'update');

    await page.context().setOffline(true);
    await page.waitForSelector(`${tid('connection-status')}[data-state="offline"]`);
    const hers = messageItem(page, 'hi Ada');
    await hers.hover();
    await hers.locator(tid('react-button')).click();
    await page.click(`${tid('reaction-picker')} [data-reaction="👍"]`);
    const mine = messageItem(page, 'my note');
    await mine.hover();
    await mine.locator(tid('edit-button')).click();
    await page.fill(tid('edit-input'), 'my note, fixed');
    await page.press(tid('edit-input'), 'Enter');
    await hers.locator('.change-status', { hasText: '👍 is added once you are back online' }).waitFor();
    await mine.locator('.change-status', { hasText: 'Your edit is saved once you are back online' }).waitFor();
    // Nothing shows as done before it is.
    expect(await hers.locator(tid('reaction')).count()).toBe(0);
    expect(await messageTexts(page)).toEqual(['hi Ada', 'my note']);
    await screenshot(page, 'offline');

    await page.context().setOffline(false);
    await seesMessage(page, 'my note, fixed');
    await messageItem(page, 'hi Ada').locator(`${tid('reaction')}[data-reaction="👍"]`).waitFor();
    expect(await page.locator(`${tid('message-list')} .change-status`).count()).toBe(0);
    await updates.until(2);
    expect(updates.items.map((m) => [m.text, m.reactions])).toEqual([
      ['hi Ada', { '👍': ['Ada'] }],
      ['my note, fixed', {}],
    ]);

    // A NUL character is refused for good (invalid_payload): the edit fails under the message, and says so.
    const fixed = messageItem(page, 'my note, fixed');
    await fixed.hover();
    await fixed.locator(tid('edit-button')).click();
    await page.fill(tid('edit-input'), 'bad\u0000text');
    await page.press(tid('edit-input'), 'Enter');
    const refused = fixed.locator('.change-status', { hasText: 'Edit not saved' });
    await refused.waitFor();
    await screenshot(page, 'refused');
    await refused.getByRole('button', { name: 'Give this change up' }).click();
    await refused.waitFor({ state: 'detached' });
    expect(await messageTexts(page)).toEqual(['hi Ada', 'my note, fixed']);
    expect(updates.items).toHaveLength(2);
  });

  it('explains the room-name rules when a name is refused, and joins nothing', async () => {
    const server = await startServer();
    const page = await chatPage(browser(), server.url, 'Ada', 'first');
    for (const [typed, says] of [
      ['Bad Room', 'cannot be a room name'],
      ['General', 'try "general"'],
      ['-dash', 'starting with a letter or a digit'],
    ]) {
      await page.fill(tid('room-input'), typed);
      await page.click(tid('join-button'));
      await page.waitForFunction((text) => document.querySelector('#join-error')?.textContent?.includes(text), says);
      expect(await page.textContent('#join-error')).toContain('lowercase letters, digits, "-" and "_"');
      expect(await page.getAttribute(tid('room-input'), 'aria-invalid')).toBe('true');
    }
    await screenshot(page);
    expect(await page.locator(`${tid('room-list')} li:not(.is-active-room)`).count()).toBe(1);
    await page.fill(tid('room-input'), '#second');
    await page.click(tid('join-button'));
    await shown(page, 'second');
    expect(await page.textContent('#join-error')).toBe('');
  });

  it('says that older messages were skipped when the service no longer keeps what came while the page was away', async () => {
    const server = await startServer({ historyMax: 5 });
    const page = await chatPage(browser(), server.url, 'Ada', 'retention');
    const grace = sdkClient(server.url, 'Grace');
    await grace.join('retention');
    await grace.send('retention', 'before the gap');
    await seesMessage(page, 'before the gap');

    await page.context().setOffline(true);
    await page.waitForSelector(`${tid('connection-status')}[data-state="offline"]`, { state: 'attached' });
    // Far more than the room keeps (5, trimmed in batches): the first ones are gone when the page is back.
    for (let i = 1; i <= 40; i++) await grace.send('retention', `while away ${i}`);
    await page.context().setOffline(false);
    await seesMessage(page, 'while away 40');

    const notice = page.locator(`${tid('message-list')} .notice`);
    expect(await notice.count()).toBe(1);
    const from = Number(await notice.getAttribute('data-skipped-from'));
    const to = Number(await notice.getAttribute('data-skipped-to'));
    expect(from).toBe(2);
    expect(to).toBeGreaterThanOrEqual(from);
    expect(await notice.textContent()).toContain(`${to - from + 1} older ${to === from ? 'message was' : 'messages were'} skipped`);
    // In its place: after the last message before the gap, before the first one kept after it.
    const texts = await messageTexts(page);
    expect(texts[0]).toBe('before the gap');
    expect(texts.slice(1)).toEqual(Array.from({ length: 40 - (to - 1) }, (_, i) => `while away ${to + i}`));
    expect(await notice.evaluate((node) => node.previousElementSibling?.querySelector('.text')?.textContent)).toBe('before the gap');
    expect(await notice.evaluate((node) => node.nextElementSibling?.querySelector('.text')?.textContent)).toBe(`while away ${to}`);
    await notice.scrollIntoViewIfNeeded();
    await screenshot(page);
  });

  it('serves the SDK as an ES module that a page can import and chat with', async () => {
    const server = await startServer();
    const page = await openApp(browser(), server.url);
    await page.waitForSelector(tid('name-input'));
    // Plain JavaScript, as a page would write it (and out of reach of the test's own module transform).
    const result = await page.evaluate(`(async () => {
      const { ParleyClient } = await import('/sdk/parley.mjs');
      const client = new ParleyClient({ auth: { name: 'Module' } });
      const seen = [];
      client.on('message', (m) => seen.push(m.text));
      const info = await client.join('modules');
      const message = await client.send('modules', 'imported');
      const status = client.status;
      client.close();
      return { members: info.members.map((u) => u.name), seq: message.seq, seen, status, offline: client.status };
    })()`);
    expect(result).toEqual({ members: ['Module'], seq: 1, seen: ['imported'], status: 'connected', offline: 'offline' });
  });

  it('signs in with the name typed and Enter, and refuses a blank one', async () => {
    const server = await startServer();
    const page = await openApp(browser(), server.url);
    await page.press(tid('name-input'), 'Enter');
    await page.waitForFunction(() => document.querySelector('#name-error')?.textContent !== '');
    await page.fill(tid('name-input'), '  Ada  ');
    await page.press(tid('name-input'), 'Enter');
    await connectedPage(page);
    expect(await page.textContent('#me-name')).toBe('Ada');
    expect(await page.textContent('#empty')).toContain('No room open');
    await screenshot(page);
  });
});
