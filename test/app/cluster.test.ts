/**
 * The browser app against the service as deployed: two instance processes on
 * one Redis behind HAProxy, pages in headless Chromium coming through the
 * balancer. One topology for the whole file (no test here breaks it).
 */
import type { Browser, Page } from 'playwright-core';
import { useSharedCluster } from '../helpers/cluster';
import {
  chatPage,
  joinRoom,
  memberNames,
  membersAre,
  messageItem,
  messageTexts,
  openApp,
  PHONE,
  screenshot,
  seesMessage,
  seriousViolations,
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
    const audit = seriousViolations;
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

  it('shows an edit and a reaction made on one page on a page served by the other instance, with who reacted', async () => {
    const [ada, bo] = await pagesOnTwoInstances('changes');
    await send(ada, 'helo everyone');
    await seesMessage(bo, 'helo everyone');

    // Ada fixes her typo: hover, Edit, type, Enter.
    const adas = messageItem(ada, 'helo everyone');
    await adas.hover();
    await adas.locator(tid('edit-button')).click();
    await ada.fill(tid('edit-input'), 'hello everyone');
    await ada.press(tid('edit-input'), 'Enter');
    await seesMessage(bo, 'hello everyone');
    const bos = messageItem(bo, 'hello everyone');
    expect(await bos.locator('.edited').textContent()).toBe('(edited)');
    expect(await messageTexts(bo)).toEqual(['hello everyone']);

    // Bo reacts from the picker; Ada sees it, with who gave it.
    await bos.hover();
    await bos.locator(tid('react-button')).click();
    await bo.click(`${tid('reaction-picker')} [data-reaction="👍"]`);
    const chip = (page: Page) => messageItem(page, 'hello everyone').locator(`${tid('reaction')}[data-reaction="👍"]`);
    await chip(ada).waitFor();
    const counted = async (page: Page, n: number) =>
      page.waitForFunction(([sel, count]) => document.querySelector(sel)?.querySelector('.reaction-count')?.textContent === count, [
        `${tid('message-list')} ${tid('reaction')}[data-reaction="👍"]`,
        String(n),
      ] as const);
    await counted(ada, 1);
    expect(await chip(ada).getAttribute('title')).toBe('Bo');
    expect(await chip(ada).getAttribute('aria-pressed')).toBe('false');

    // One click on the chip adds Ada's; both pages count two, and name both.
    await chip(ada).click();
    await counted(bo, 2);
    expect(await chip(bo).getAttribute('aria-label')).toBe('👍 2: You and Ada. Click to remove yours');
    expect(await chip(bo).getAttribute('aria-pressed')).toBe('true');
    await counted(ada, 2);
    expect(await chip(ada).getAttribute('title')).toBe('Bo and You');
    // Who reacted shows on keyboard focus too: Shift+Tab from the message's first control reaches the chip.
    await ada.mouse.move(0, 0);
    await messageItem(ada, 'hello everyone').locator(tid('react-button')).focus();
    await ada.keyboard.press('Shift+Tab');
    expect(await ada.evaluate(() => document.activeElement?.getAttribute('data-reaction'))).toBe('👍');
    const who = messageItem(ada, 'hello everyone').locator('.reaction-who');
    await who.waitFor({ state: 'visible' });
    expect(await who.textContent()).toBe('Bo and You');
    await screenshot(ada);

    // Bo takes his back with one click.
    await chip(bo).click();
    await counted(ada, 1);
    expect(await chip(ada).getAttribute('title')).toBe('You');
    expect(await chip(ada).getAttribute('aria-pressed')).toBe('true');
  });

  it('shows a deleted message as "message deleted" everywhere, and stays clean for axe-core with edits, reactions and the picker shown', async () => {
    const [ada, bo] = await pagesOnTwoInstances('tombstones');
    await send(bo, 'oops, wrong room');
    await send(ada, 'look at this');
    await seesMessage(ada, 'oops, wrong room');
    await seesMessage(bo, 'look at this');

    const oops = messageItem(bo, 'oops');
    await oops.hover();
    await oops.locator(tid('delete-button')).click();
    await bo.click(tid('delete-confirm'));
    for (const page of [ada, bo]) {
      await page.waitForFunction((sel) => document.querySelector(sel)?.textContent === 'message deleted', `${tid('message-list')} .msg .text.deleted`);
      expect(await messageTexts(page)).toEqual(['message deleted', 'look at this']);
      // A tombstone has nothing left to edit or react to.
      expect(await page.locator(`${tid('message-list')} .msg.is-deleted button`).count()).toBe(0);
    }

    // An edit and a reaction on screen, and the picker open.
    const look = messageItem(bo, 'look at this');
    await look.hover();
    await look.locator(tid('react-button')).click();
    await bo.click(`${tid('reaction-picker')} [data-reaction="🎉"]`);
    await messageItem(ada, 'look at this').locator(`${tid('reaction')}[data-reaction="🎉"]`).waitFor();
    const mine = messageItem(ada, 'look at this');
    await mine.hover();
    await mine.locator(tid('edit-button')).click();
    await ada.fill(tid('edit-input'), 'look at this one');
    await ada.press(tid('edit-input'), 'Enter');
    await seesMessage(bo, 'look at this one');
    await messageItem(ada, 'look at this one').hover();
    await messageItem(ada, 'look at this one').locator(tid('react-button')).click();
    await ada.waitForSelector(tid('reaction-picker'));
    expect(await seriousViolations(ada)).toEqual([]);
    expect(await seriousViolations(bo)).toEqual([]);
    await screenshot(ada);
    // Escape closes the picker.
    await ada.keyboard.press('Escape');
    await ada.waitForSelector(tid('reaction-picker'), { state: 'detached' });
  });
});
