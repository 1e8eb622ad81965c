/**
 * The browser app against the service as deployed: two instance processes on
 * one Redis behind HAProxy, pages in headless Chromium coming through the
 * balancer. One topology for the whole file (no test here breaks it).
 */
import fs from 'node:fs';
import type { Browser, Page } from 'playwright-core';
import { useSharedCluster } from '../helpers/cluster';
import {
  chatPage,
  joinRoom,
  memberNames,
  membersAre,
  messageTexts,
  openApp,
  PHONE,
  screenshot,
  seesMessage,
  send,
  shown,
  sidewaysScroll,
  signIn,
  tid,
  useBrowser,
} from './browser';

jest.setTimeout(30_000);

/** The instance serving a page, as its connection banner tells. */
function instanceOf(page: Page): Promise<string | null> {
  return page.getAttribute(tid('connection-status'), 'data-instance');
}

describe('the browser app on two instances behind the balancer', () => {
  const cluster = useSharedCluster({ instances: 2 });
  const browser = useBrowser();
  const url = () => cluster().balancer!.url;

  /**
   * Two pages in `room`, served by different instances: the second page is
   * opened again (a new browser context, so a new sticky cookie) until the
   * balancer puts it on the other instance.
   */
  async function pagesOnTwoInstances(room: string): Promise<[Page, Page]> {
    const ada = await chatPage(browser(), url(), 'Ada', room);
    const adaOn = await instanceOf(ada);
    for (let attempt = 0; attempt < 6; attempt++) {
      const bo = await chatPage(browser(), url(), 'Bo', room);
      if ((await instanceOf(bo)) !== adaOn) return [ada, bo];
      await bo.context().close();
    }
    throw new Error('the balancer kept both pages on one instance');
  }

  it('shows two pages on different instances each other’s messages, presence and typing', async () => {
    const [ada, bo] = await pagesOnTwoInstances('crossing');
    expect(await instanceOf(ada)).not.toBe(await instanceOf(bo));
    await membersAre(ada, ['Ada', 'Bo']);
    await membersAre(bo, ['Ada', 'Bo']);

    await send(ada, 'hello from Ada');
    await seesMessage(bo, 'hello from Ada');
    await send(bo, 'hi Ada');
    await seesMessage(ada, 'hi Ada');
    for (const page of [ada, bo]) expect(await messageTexts(page)).toEqual(['hello from Ada', 'hi Ada']);
    const line = bo.locator(`${tid('message-list')} .msg`, { hasText: 'hello from Ada' });
    expect(await line.locator('.author').textContent()).toBe('Ada');
    expect(await line.locator('time').getAttribute('datetime')).toMatch(/^\d{4}-\d\d-\d\dT/);

    await bo.locator(tid('message-input')).pressSequentially('typing…');
    await ada.waitForFunction((sel) => document.querySelector(sel)?.textContent === 'Bo is typing…', tid('typing'));
    await screenshot(ada);
    // Sending ends it.
    await bo.press(tid('message-input'), 'Enter');
    await seesMessage(ada, 'typing…');
    await ada.waitForFunction((sel) => document.querySelector(sel)?.textContent === '', tid('typing'));

    // Bo leaves the room: Ada's member list follows, live.
    await bo.click(`${tid('room-list')} li[data-room="crossing"] .room-leave`);
    await membersAre(ada, ['Ada']);
    expect(await memberNames(ada)).toEqual(['Ada']);
  });

  it('counts unread messages of a room not shown, and clears the count on switching to it', async () => {
    const ada = await chatPage(browser(), url(), 'Ada', 'unread-a');
    await joinRoom(ada, 'unread-b');
    const bo = await chatPage(browser(), url(), 'Bo', 'unread-a');

    const unread = ada.locator(`${tid('room-list')} li[data-room="unread-a"] ${tid('unread')}`);
    expect(await unread.isHidden()).toBe(true);
    for (const text of ['one', 'two', 'three']) await send(bo, text);
    await ada.waitForFunction((sel) => document.querySelector(sel)?.textContent === '3', `${tid('room-list')} li[data-room="unread-a"] ${tid('unread')}`);
    expect(await unread.isVisible()).toBe(true);
    // The room shown counts nothing, and the tab's title tells the total.
    expect(await ada.locator(`${tid('room-list')} li[data-room="unread-b"] ${tid('unread')}`).textContent()).toBe('0');
    expect(await ada.title()).toBe('(3) #unread-b · Parley');
    await screenshot(ada);

    await ada.click(`${tid('room-list')} li[data-room="unread-a"]`);
    await shown(ada, 'unread-a');
    expect(await unread.textContent()).toBe('0');
    expect(await unread.isHidden()).toBe(true);
    expect(await messageTexts(ada)).toEqual(['one', 'two', 'three']);
    expect(ada.url()).toMatch(/#\/room\/unread-a$/);
    // The back button goes to the room shown before.
    await ada.goBack();
    await shown(ada, 'unread-b');
  });

  it('lists a room opened on another page among the active rooms, with its member count; one click joins it', async () => {
    const watcher = await chatPage(browser(), url(), 'Watcher', 'watching');
    const entry = watcher.locator(`${tid('room-list')} li.is-active-room[data-room="just-opened"]`);
    expect(await entry.count()).toBe(0);

    await chatPage(browser(), url(), 'Opener', 'just-opened');
    await entry.waitFor({ timeout: 10_000 });
    expect(await entry.locator('.room-name').textContent()).toBe('just-opened');
    expect(await entry.locator('.member-count').textContent()).toBe('1');
    await screenshot(watcher);

    await entry.click();
    await shown(watcher, 'just-opened');
    await membersAre(watcher, ['Opener', 'Watcher']);
    // Joined now: listed once, among the joined rooms.
    expect(await watcher.locator(`${tid('room-list')} li[data-room="just-opened"]`).count()).toBe(1);
  });

  it('joins the room of a link as soon as the name is set, and keeps the name for the next visit', async () => {
    const page = await openApp(browser(), url(), { path: '/#/room/linked' });
    await signIn(page, 'Linda');
    await shown(page, 'linked');
    expect(await page.textContent('#room-title')).toBe('#linked');
    await membersAre(page, ['Linda']);
    await screenshot(page);

    // The name is remembered: a reload signs in again, in the same room.
    await page.reload();
    await shown(page, 'linked');
    expect(await page.locator(tid('name-input')).isVisible()).toBe(false);

    // A link to a name that cannot be a room explains the rule instead.
    await page.goto(`${url()}/#/room/Not%20A%20Room`);
    await page.waitForFunction(() => /lowercase letters, digits/.test(document.querySelector('#join-error')?.textContent ?? ''));
    await shown(page, 'linked');
  });

  it('shows markup in a message or a name as text, and runs none of it', async () => {
    // Without the page's Content-Security-Policy: the rendering alone must keep it inert.
    const attack = '<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script>';
    const sender = await chatPage(browser(), url(), '<b onclick=x>Mallory</b>', 'markup', { bypassCSP: true });
    const reader = await chatPage(browser(), url(), 'Reader', 'markup', { bypassCSP: true });
    await send(sender, attack);
    await seesMessage(reader, attack);
    for (const page of [sender, reader]) {
      const list = page.locator(tid('message-list'));
      expect(await list.locator('img, script, b').count()).toBe(0);
      expect(await page.locator(`${tid('member-list')} b`).count()).toBe(0);
      expect(await page.evaluate(() => (window as { __pwned?: number }).__pwned)).toBeUndefined();
    }
    expect(await reader.locator(`${tid('message-list')} .author`).first().textContent()).toBe('<b onclick=x>Mallory</b>');
    await screenshot(reader);
  });

  it('wraps a 300-character word: nothing scrolls sideways at phone or desktop width', async () => {
    const word = 'w'.repeat(300);
    const phone = await chatPage(browser(), url(), 'Phone', 'long-words', { viewport: PHONE });
    const desktop = await chatPage(browser(), url(), 'Desk', 'long-words');
    await send(desktop, `${word} and ${'ü'.repeat(300)}`);
    await seesMessage(phone, `${word} and ${'ü'.repeat(300)}`);
    for (const page of [phone, desktop]) {
      expect(await sidewaysScroll(page)).toEqual({ page: 0, messages: 0 });
      const width = page.viewportSize()!.width;
      const box = await page.locator(`${tid('message-list')} .text`).first().boundingBox();
      expect(box!.x + box!.width).toBeLessThanOrEqual(width);
    }
    await screenshot(phone);
  });

  it('has no serious or critical accessibility violations (axe-core)', async () => {
    const axeSource = fs.readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
    const audit = async (page: Page) => {
      // Evaluated through the debugger protocol, which the page's CSP does not govern.
      await page.evaluate(axeSource);
      const violations = await page.evaluate(async () => {
        const axe = (window as unknown as { axe: { run(): Promise<{ violations: Array<{ id: string; impact: string; nodes: Array<{ target: string[] }> }> }> } }).axe;
        const result = await axe.run();
        return result.violations.map((v) => ({ id: v.id, impact: v.impact, targets: v.nodes.map((n) => n.target.join(' ')) }));
      });
      return violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
    };
    const welcome = await openApp(browser(), url());
    await welcome.waitForSelector(tid('name-input'));
    expect(await audit(welcome)).toEqual([]);

    const ada = await chatPage(browser(), url(), 'Ada', 'a11y');
    const bo = await chatPage(browser(), url(), 'Bo', 'a11y');
    await send(bo, 'a message to look at');
    await send(ada, 'and an answer');
    await seesMessage(ada, 'a message to look at');
    await seesMessage(ada, 'and an answer');
    await joinRoom(ada, 'a11y-other');
    await send(bo, 'unread in the other room');
    await ada.waitForSelector(`li[data-room="a11y"] ${tid('unread')}:not([hidden])`);
    expect(await audit(ada)).toEqual([]);
    const phone = await chatPage(browser(), url(), 'Pho', 'a11y', { viewport: PHONE });
    expect(await audit(phone)).toEqual([]);
    await screenshot(ada);

    // Focus is visible: a focused control draws an outline.
    await ada.focus(tid('join-button'));
    await ada.keyboard.press('Tab');
    await ada.keyboard.press('Shift+Tab');
    const outline = await ada.evaluate(() => getComputedStyle(document.activeElement!).outlineStyle);
    expect(outline).toBe('solid');
  });
});
