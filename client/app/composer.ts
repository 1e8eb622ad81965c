/** Typing is announced again at most this often while the user keeps typing, and ends after as long without a key. */
export const TYPING_EVERY_MS = 3000;

export interface ComposerActions {
  send(room: string, text: string): void;
  typing(room: string, typing: boolean): void;
}

/**
 * The message box: a text area that grows with its text, Enter sends,
 * Shift+Enter starts a new line (and Enter while an input method composes
 * does neither). Keeps a draft per room and tells the room while the user
 * types.
 */
export class Composer {
  private room: string | undefined;
  private readonly drafts = new Map<string, string>();
  private typingSince = 0;
  private idle: ReturnType<typeof setTimeout> | undefined;

  constructor(
    private readonly form: HTMLFormElement,
    private readonly input: HTMLTextAreaElement,
    private readonly sendButton: HTMLButtonElement,
    private readonly label: HTMLElement,
    private readonly actions: ComposerActions,
  ) {
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      this.submit();
    });
    input.addEventListener('keydown', (e) => {
      if (e.key === 'Enter' && !e.shiftKey && !e.isComposing && !e.altKey && !e.ctrlKey && !e.metaKey) {
        e.preventDefault();
        this.submit();
      }
    });
    input.addEventListener('input', () => this.changed());
    this.render();
  }

  /** The room the box writes to (undefined: none shown, the box is disabled). */
  setRoom(room: string | undefined): void {
    if (room === this.room) return;
    this.stopTyping();
    if (this.room !== undefined) this.drafts.set(this.room, this.input.value);
    this.room = room;
    this.input.value = room === undefined ? '' : (this.drafts.get(room) ?? '');
    this.render();
  }

  private render(): void {
    const { room } = this;
    this.input.disabled = room === undefined;
    this.input.placeholder = room === undefined ? 'Join a room to write' : `Message #${room}`;
    this.label.textContent = room === undefined ? 'Message' : `Message #${room}`;
    this.form.hidden = room === undefined;
    this.fit();
    this.sendButton.disabled = !this.hasText();
  }

  focus(): void {
    if (!this.input.disabled) this.input.focus({ preventScroll: true });
  }

  /** Forgets the drafts and stops any typing announcement (the session ended). */
  reset(): void {
    this.stopTyping();
    this.drafts.clear();
    this.room = undefined;
    this.input.value = '';
    this.render();
  }

  private submit(): void {
    const room = this.room;
    if (room === undefined || !this.hasText()) return;
    const text = this.input.value;
    this.stopTyping();
    this.input.value = '';
    this.drafts.delete(room);
    this.fit();
    this.sendButton.disabled = true;
    this.actions.send(room, text);
  }

  private changed(): void {
    this.fit();
    this.sendButton.disabled = !this.hasText();
    const room = this.room;
    if (room === undefined) return;
    if (!this.hasText()) return this.stopTyping();
    if (Date.now() - this.typingSince > TYPING_EVERY_MS) {
      this.actions.typing(room, true);
      this.typingSince = Date.now();
    }
    clearTimeout(this.idle);
    this.idle = setTimeout(() => this.stopTyping(), TYPING_EVERY_MS);
  }

  private stopTyping(): void {
    clearTimeout(this.idle);
    if (this.typingSince && this.room !== undefined) this.actions.typing(this.room, false);
    this.typingSince = 0;
  }

  private hasText(): boolean {
    return this.input.value.trim() !== '';
  }

  /** Grows the box with its text, up to the height the style sheet allows. */
  private fit(): void {
    this.input.style.height = 'auto';
    this.input.style.height = `${this.input.scrollHeight}px`;
  }
}
