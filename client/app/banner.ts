import type { ConnectionStatus } from '../sdk';

/** How long "Back online" stays after the connection came back. */
export const BACK_ONLINE_MS = 3000;

/** What the banner shows: the SDK's status, and briefly `back-online` after a reconnect. */
export type BannerState = ConnectionStatus | 'back-online';

const TEXT: Record<BannerState, string> = {
  connecting: 'Connecting…',
  connected: 'Connected',
  reconnecting: 'Connection lost. Reconnecting…',
  offline: 'You are offline. Messages you write are sent once you are back.',
  'back-online': 'Back online',
};

/**
 * The connection banner: says in words when the page is not connected
 * (`data-state` tells tools the same), offers Reconnect when offline, and
 * says "Back online" for a moment when the connection returns.
 */
export class ConnectionBanner {
  private status: ConnectionStatus | undefined;
  private timer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    private readonly node: HTMLElement,
    private readonly text: HTMLElement,
    private readonly reconnect: HTMLButtonElement,
  ) {}

  /** The SDK's status changed (undefined: no session). */
  set(status: ConnectionStatus | undefined): void {
    const was = this.status;
    this.status = status;
    clearTimeout(this.timer);
    if (status === 'connected' && (was === 'reconnecting' || was === 'offline')) {
      this.show('back-online');
      this.timer = setTimeout(() => this.show('connected'), BACK_ONLINE_MS);
    } else {
      this.show(status ?? 'connecting');
    }
  }

  /** The instance serving this page, for whoever operates the service (shown in a tooltip). */
  setInstance(instanceId: string | undefined): void {
    if (instanceId === undefined) {
      delete this.node.dataset.instance;
      this.node.removeAttribute('title');
    } else {
      this.node.dataset.instance = instanceId;
      this.node.title = `Served by ${instanceId}`;
    }
  }

  private show(state: BannerState): void {
    this.node.dataset.state = state;
    this.text.textContent = TEXT[state];
    this.reconnect.hidden = state !== 'offline';
  }
}
