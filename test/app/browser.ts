/**
 * Helpers for the browser app's end-to-end tests: the system's headless
 * Chromium (never a downloaded one) driven by playwright-core, pages that
 * sign in and wait on the app's `data-testid` hooks, and a screenshot of
 * every test under test-output/app/.
 */
import fs from 'node:fs';
import path from 'node:path';
import { chromium, type Browser, type BrowserContextOptions, type Locator, type Page } from 'playwright-core';
import { defer } from '../helpers/cleanup';

const ROOT = path.join(__dirname, '..', '..');
const INDEX = path.join(ROOT, 'dist', 'public', 'index.html');
/** Where each test leaves its screenshot. */
export const OUTPUT_DIR = path.join(ROOT, 'test-output', 'app');

export const DESKTOP = { width: 1280, height: 800 };
export const PHONE = { width: 390, height: 844 };

/** A `data-testid` selector. */
export const tid = (id: string) => `[data-testid="${id}"]`;

/** The system's Chromium, headless, for every test of a file: launched before the first, closed after the last. */
export function useBrowser(): () => Browser {
  let browser: Browser | undefined;
  beforeAll(async () => {
    if (!fs.existsSync(INDEX)) throw new Error(`${INDEX} is missing: run \`npm run build\` first`);
    browser = await chromium.launch({
      executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    });
  }, 30_000);
  afterAll(() => browser?.close());
  return () => {
    if (!browser) throw new Error('Chromium did not start');
    return browser;
  };
}

export interface OpenOptions extends Pick<BrowserContextOptions, 'bypassCSP'> {
  /** Where to go on the app's origin, e.g. `/#/room/lobby`. @default '/' */
  path?: string;
  viewport?: { width: number; height: number };
}

/**
 * A page of the app in a fresh browser context (its own storage and
 * cookies), closed after the test. A script error in the page, or anything
 * its Content-Security-Policy blocks, fails the test.
 */
export async function openApp(browser: Browser, url: string, options: OpenOptions = {}): Promise<Page> {
  const context = await browser.newContext({ viewport: options.viewport ?? DESKTOP, bypassCSP: options.bypassCSP });
  defer(() => context.close());
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (err) => errors.push(err.message));
  // The app must work within its own Content-Security-Policy.
  page.on('console', (message) => {
    if (/Content Security Policy/i.test(message.text())) errors.push(message.text());
  });
  defer(() => expect(errors).toEqual([]));
  await page.goto(url + (options.path ?? '/'));
  return page;
}

/** Types `name` into the name field and presses Enter; resolves once the page is connected. */
export async function signIn(page: Page, name: string): Promise<void> {
  await page.fill(tid('name-input'), name);
  await page.press(tid('name-input'), 'Enter');
  await connectedPage(page);
}

/** Resolves once the page says it is connected. */
export async function connectedPage(page: Page, timeout = 10_000): Promise<void> {
  await page.waitForSelector(`${tid('connection-status')}:is([data-state="connected"], [data-state="back-online"])`, { state: 'attached', timeout });
}

/** A page signed in as `name` and showing `room` (joined through the room field). */
export async function chatPage(browser: Browser, url: string, name: string, room: string, options: OpenOptions = {}): Promise<Page> {
  const page = await openApp(browser, url, options);
  await signIn(page, name);
  await joinRoom(page, room);
  return page;
}

/** Joins `room` by typing its name and clicking Join; resolves once it is shown and joined. */
export async function joinRoom(page: Page, room: string): Promise<void> {
  // On a phone the room list is a drawer.
  if (await page.isVisible('#open-sidebar')) await page.click('#open-sidebar');
  await page.fill(tid('room-input'), room);
  await page.click(tid('join-button'));
  await shown(page, room);
}

/** Resolves once `room` is the room shown, joined. */
export async function shown(page: Page, room: string): Promise<void> {
  await page.waitForSelector(`${tid('room-list')} li.is-current[data-room="${room}"]:not(.is-joining)`, { state: 'attached' });
}

/** Writes `text` into the message box and presses Enter. */
export async function send(page: Page, text: string): Promise<void> {
  await page.fill(tid('message-input'), text);
  await page.press(tid('message-input'), 'Enter');
}

/** The texts of the stored messages shown, in order. */
export function messageTexts(page: Page): Promise<string[]> {
  return page.locator(`${tid('message-list')} .timeline:not(.outbox) .msg .text`).allTextContents();
}

/** Resolves once a stored message with exactly `text` is shown. */
export async function seesMessage(page: Page, text: string, timeout = 10_000): Promise<void> {
  await page.waitForFunction(
    ([list, t]) => [...document.querySelectorAll(`${list} .timeline:not(.outbox) .msg .text`)].some((node) => node.textContent === t),
    [tid('message-list'), text] as const,
    { timeout },
  );
}

/** The stored message shown whose text contains `text`. */
export function messageItem(page: Page, text: string): Locator {
  return page.locator(`${tid('message-list')} .timeline:not(.outbox) .msg`, { has: page.locator('.text', { hasText: text }) });
}

/** The serious and critical accessibility violations axe-core finds on the page as it is. */
export async function seriousViolations(page: Page): Promise<Array<{ id: string; impact: string; targets: string[] }>> {
  // Evaluated through the debugger protocol, which the page's CSP does not govern.
  await page.evaluate(fs.readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8'));
  const violations = await page.evaluate(async () => {
    const axe = (window as unknown as { axe: { run(): Promise<{ violations: Array<{ id: string; impact: string; nodes: Array<{ target: string[] }> }> }> } }).axe;
    const result = await axe.run();
    return result.violations.map((v) => ({ id: v.id, impact: v.impact, targets: v.nodes.map((n) => n.target.join(' ')) }));
  });
  return violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
}

/** The names in the member list. */
export function memberNames(page: Page): Promise<string[]> {
  return page.locator(`${tid('member-list')} .member-name`).allTextContents();
}

/** Resolves once the member list holds exactly `names` (in any order). */
export async function membersAre(page: Page, names: string[], timeout = 10_000): Promise<void> {
  await page.waitForFunction(
    ([list, want]) => {
      const got = [...document.querySelectorAll(`${list} .member-name`)].map((n) => n.textContent).sort();
      return JSON.stringify(got) === JSON.stringify([...want].sort());
    },
    [tid('member-list'), names] as const,
    { timeout },
  );
}

/** Saves a screenshot of `page` under test-output/app/, named after the running test (and `suffix`). */
export async function screenshot(page: Page, suffix = ''): Promise<string> {
  const test = expect.getState().currentTestName ?? 'test';
  const name = `${test}${suffix ? ` ${suffix}` : ''}`.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '').slice(0, 120);
  fs.mkdirSync(OUTPUT_DIR, { recursive: true });
  const file = path.join(OUTPUT_DIR, `${name}.png`);
  await page.screenshot({ path: file });
  return file;
}

/** How far the page, and the message list, can scroll sideways (0: not at all). */
export function sidewaysScroll(page: Page): Promise<{ page: number; messages: number }> {
  return page.evaluate((list) => {
    const root = document.scrollingElement!;
    const messages = document.querySelector<HTMLElement>(list)!;
    return { page: root.scrollWidth - root.clientWidth, messages: messages.scrollWidth - messages.clientWidth };
  }, tid('message-list'));
}
