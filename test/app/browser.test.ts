import fs from 'node:fs';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { defer } from '../helpers/cleanup';
import { startServer } from '../helpers/server';
import { storeQuietly } from '../sdk/sdk';

const APP = path.join(__dirname, '..', '..', 'dist', 'public', 'app.js');

/** The system's Chromium, headless; closed after the test. Never downloads a browser. */
async function launch(): Promise<Browser> {
  if (!fs.existsSync(APP)) throw new Error(`${APP} is missing: run \`npm run build\` first`);
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
  defer(() => browser.close());
  return browser;
}

/** A fresh page (its own storage) logged in as `name` in `room`, once it shows the chat connected. */
async function enter(browser: Browser, url: string, name: string, room = 'lobby'): Promise<Page> {
  const page = await (await browser.newContext()).newPage();
  const errors: string[] = [];
  page.on('pageerror', (err) => errors.push(err.message));
  defer(() => expect(errors).toEqual([]));
  await page.goto(url);
  await page.fill('#name', name);
  await page.fill('#room', room);
  await page.click('#login button[type=submit]');
  await page.waitForSelector('#chat:not([hidden]) #status.connected');
  return page;
}

describe('browser app', () => {
  it('shows a message sent from one page on another, as text, with its sender', async () => {
    const server = await startServer();
    const browser = await launch();
    const ada = await enter(browser, server.url, 'Ada');
    const bo = await enter(browser, server.url, 'Bo');
    await ada.waitForFunction(() => document.querySelector('#members-count')?.textContent === '2 members');

    const text = '<b>hello</b> from Ada';
    await ada.fill('#text', text);
    await ada.press('#text', 'Enter');

    const line = bo.locator('#messages li', { hasText: 'from Ada' });
    await line.waitFor();
    expect(await line.locator('.who').textContent()).toBe('Ada');
    expect(await line.locator('.text').textContent()).toBe(text);
    // User text is never markup.
    expect(await line.locator('b').count()).toBe(0);
    // The sender sees it too, no longer pending.
    await ada.locator('#messages li', { hasText: 'from Ada' }).waitFor();
    expect(await ada.locator('#outbox li').count()).toBe(0);
    expect(await bo.textContent('#room-title')).toBe('#lobby');

    // Offline: the page says so, and what is written waits, shown as pending, until the network is back.
    await ada.context().setOffline(true);
    await ada.waitForSelector('#status.offline');
    await ada.fill('#text', 'written offline');
    await ada.press('#text', 'Enter');
    await ada.locator('#outbox li.pending', { hasText: 'written offline' }).waitFor();
    await ada.context().setOffline(false);
    await bo.locator('#messages li', { hasText: 'written offline' }).waitFor();
    await ada.locator('#messages li', { hasText: 'written offline' }).waitFor();
    await ada.waitForSelector('#status.connected');
    expect(await ada.locator('#outbox li').count()).toBe(0);
    expect(await bo.locator('#messages li', { hasText: 'written offline' }).count()).toBe(1);
  });

  it('loads older messages on demand and shows who is typing', async () => {
    const server = await startServer();
    for (let i = 1; i <= 60; i++) await storeQuietly(server, 'lobby', `old ${i}`);
    const browser = await launch();
    const ada = await enter(browser, server.url, 'Ada');
    expect(await ada.locator('#messages li').count()).toBe(50);
    expect(await ada.locator('#messages li .text').first().textContent()).toBe('old 11');

    await ada.click('#older');
    await ada.waitForSelector('#older', { state: 'hidden' });
    expect(await ada.locator('#messages li').count()).toBe(60);
    expect(await ada.locator('#messages li .text').first().textContent()).toBe('old 1');
    expect(await ada.locator('#messages li .text').last().textContent()).toBe('old 60');

    const bo = await enter(browser, server.url, 'Bo');
    await bo.type('#text', 'hm');
    await ada.waitForFunction(() => document.querySelector('#typing')?.textContent === 'Bo is typing…');
  });

  it('serves the SDK as an ES module that a page can import and chat with', async () => {
    const server = await startServer();
    const browser = await launch();
    const page = await (await browser.newContext()).newPage();
    await page.goto(server.url);
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
});
