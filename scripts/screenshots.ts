/**
 * `npm run screenshots`: takes the README's pictures of the browser app
 * from the real thing. Starts one in-memory instance, fills a few rooms with
 * a conversation (yesterday's history and today's), has other users chat,
 * type, edit, delete, react and sit in other rooms, and photographs the app
 * in the system's headless Chromium at desktop and phone widths into
 * docs/screenshots/. `CHROMIUM_PATH` picks another Chromium. Reactions are
 * emoji: without a colour emoji font on the machine (Debian:
 * fonts-noto-color-emoji) they show as the fonts there draw them.
 */
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { chromium, type Page } from 'playwright-core';
import { ParleyClient } from '../client/sdk';
import { createApp } from '../server/app';
import { createMemoryBackend } from '../server/backend';
import { createLogger } from '../server/logger';
import { createMetrics } from '../server/metrics';
import { repoRoot } from './topology/instance';

const MINUTE = 60_000;

/** Yesterday's and today's conversation in #design: [author, text, minutes ago]. */
const DESIGN: Array<[string, string, number]> = [
  ['Grace Hopper', 'Morning! I pushed the new onboarding flow to staging.', 26 * 60],
  ['Linus', 'Looks good. The empty state of the room list reads much better now.', 26 * 60 - 2],
  ['Linus', 'One thing: the join button jumps a pixel on hover in Safari.', 26 * 60 - 3],
  ['Grace Hopper', 'Good catch, fixing it today.', 25 * 60],
  ['Ada Lovelace', 'Shipping the phone layout this afternoon.', 48],
  ['Ada Lovelace', 'The room list becomes a drawer under 760 px, members open over the messages.', 47],
  ['Linus', 'Wrong room, sorry.', 40],
  ['Grace Hopper', 'Tried it on my phone: no sideways scrolling, even with that 300-character URL Linus posted 😄', 31],
  ['Linus', 'https://example.com/a/very/long/link/that/used/to/break/every/layout/we/ever/had/and/now/simply/wraps', 30],
  ['Grace Hopper', 'Deploy checklist:\n1. bump the version\n2. run the load test\n3. announce in #release-train', 12],
  ['Ada Lovelace', 'On it.', 2],
];

async function main(): Promise<void> {
  const root = repoRoot();
  const out = path.join(root, 'docs', 'screenshots');
  fs.mkdirSync(out, { recursive: true });

  const backend = createMemoryBackend({ historyMax: 10_000, limits: false });
  const app = createApp(
    { backend, logger: createLogger('screenshots', 'silent'), metrics: createMetrics('screenshots'), publicDir: path.join(root, 'dist', 'public') },
    { instanceId: 'screenshots', allowedOrigins: [], trustProxy: false, limits: false, drainTimeoutMs: 500 },
  );
  const port = await app.listen(0, '127.0.0.1');
  const url = `http://127.0.0.1:${port}`;
  const clients: ParleyClient[] = [];
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--hide-scrollbars'],
  });
  try {
    // The pictures show the same clock whenever they are taken: 14:05 today, as the pages see it.
    const now = new Date().setHours(14, 5, 0, 0);
    const design = new Map<string, string>();
    for (const [name, text, minutesAgo] of DESIGN) {
      const { message } = await backend.store.append({ id: randomUUID(), room: 'design', clientId: randomUUID(), user: { id: name, name }, text, ts: now - minutesAgo * MINUTE });
      design.set(text, message.id);
    }
    const id = (start: string) => [...design].find(([text]) => text.startsWith(start))![1];
    const person = async (name: string, rooms: string[]) => {
      const client = new ParleyClient({ url, auth: { name } });
      clients.push(client);
      for (const room of rooms) await client.join(room);
      return client;
    };
    const grace = await person('Grace Hopper', ['design', 'lobby', 'release-train']);
    const linus = await person('Linus', ['design', 'lobby', 'release-train']);
    await person('Margaret', ['release-train', 'random']);
    await person('Dennis', ['random']);
    // Changes to #design: an edit, a deletion, reactions (one of them the page's user's, from another of her devices).
    const adaElsewhere = await person('Ada Lovelace', ['design']);
    await grace.edit('design', id('Tried it on my phone'), 'Tried it on my phone and my tablet: no sideways scrolling, even with that 300-character URL Linus posted 😄');
    await linus.remove('design', id('Wrong room'));
    await grace.react('design', id('Shipping the phone layout'), '🎉');
    await linus.react('design', id('Shipping the phone layout'), '🎉');
    await linus.react('design', id('Shipping the phone layout'), '🚀');
    await linus.react('design', id('Deploy checklist'), '👍');
    await adaElsewhere.react('design', id('Deploy checklist'), '👍');
    await grace.react('design', id('Tried it on my phone'), '😂');

    const page = async (viewport: { width: number; height: number }): Promise<Page> => {
      const context = await browser.newContext({ viewport, deviceScaleFactor: 2, colorScheme: 'light' });
      const p = await context.newPage();
      // Only Date is fixed: the page's timers run as usual.
      await p.clock.setFixedTime(now);
      await p.goto(`${url}/#/room/lobby`);
      await p.fill('[data-testid="name-input"]', 'Ada Lovelace');
      await p.press('[data-testid="name-input"]', 'Enter');
      await p.waitForSelector('li.is-current[data-room="lobby"]:not(.is-joining)', { state: 'attached' });
      await p.goto(`${url}/#/room/design`);
      await p.waitForSelector('li.is-current[data-room="design"]:not(.is-joining)', { state: 'attached' });
      await p.waitForSelector('li.is-active-room[data-room="random"]', { state: 'attached' });
      return p;
    };

    const desktop = await page({ width: 1280, height: 800 });
    await grace.send('lobby', 'Lunch at 12:30?');
    await linus.send('lobby', 'Yes!');
    await desktop.waitForSelector('li[data-room="lobby"] [data-testid="unread"]:not([hidden])');
    grace.setTyping('design', true);
    await desktop.waitForFunction(() => document.querySelector('[data-testid="typing"]')?.textContent !== '');
    // Who gave a reaction shows on hover (and on keyboard focus).
    await desktop.hover('[data-testid="reaction"][data-reaction="🎉"]');
    await desktop.waitForSelector('.reaction-who', { state: 'visible' });
    await desktop.screenshot({ path: path.join(out, 'desktop.png') });

    const phone = await page({ width: 390, height: 844 });
    grace.setTyping('design', true);
    await phone.waitForFunction(() => document.querySelector('[data-testid="typing"]')?.textContent !== '');
    await phone.screenshot({ path: path.join(out, 'phone.png') });
    await phone.click('#open-sidebar');
    await phone.waitForSelector('.shell.sidebar-open');
    // The drawer slides in.
    await phone.waitForFunction(() => getComputedStyle(document.querySelector('#sidebar')!).transform === 'none');
    await phone.screenshot({ path: path.join(out, 'phone-rooms.png') });
    console.log(`screenshots in ${path.relative(process.cwd(), out) || '.'}: desktop.png, phone.png, phone-rooms.png`);
  } finally {
    for (const client of clients) client.close();
    await browser.close();
    await app.close();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
