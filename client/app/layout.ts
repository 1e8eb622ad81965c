/** Below this width the room list is a drawer and the members a panel over the messages (as in style.css). */
const NARROW = '(max-width: 759px)';
const WIDE = '(min-width: 1100px)';

/**
 * The parts of the layout that open and close: the room list as a drawer
 * on phones, the member list beside the messages on wide screens and over
 * them on narrower ones. Escape closes whichever is open.
 */
export class Layout {
  constructor(
    private readonly parts: {
      shell: HTMLElement;
      sidebar: HTMLElement;
      scrim: HTMLElement;
      openSidebar: HTMLButtonElement;
      closeSidebar: HTMLButtonElement;
      membersToggle: HTMLButtonElement;
    },
  ) {
    parts.openSidebar.addEventListener('click', () => this.setSidebar(true));
    parts.closeSidebar.addEventListener('click', () => this.setSidebar(false));
    parts.scrim.addEventListener('click', () => {
      this.setSidebar(false);
      this.setMembers(false);
    });
    parts.membersToggle.addEventListener('click', () => this.setMembers(parts.membersToggle.getAttribute('aria-expanded') !== 'true'));
    document.addEventListener('keydown', (e) => {
      if (e.key !== 'Escape') return;
      if (this.sidebarOpen()) this.setSidebar(false, true);
      else if (!matchMedia(WIDE).matches && this.membersOpen()) this.setMembers(false, true);
    });
    this.setMembers(matchMedia(WIDE).matches);
  }

  /** Closes the drawer on phones (a room was picked). */
  roomPicked(): void {
    if (this.sidebarOpen()) this.setSidebar(false);
  }

  private sidebarOpen(): boolean {
    return this.parts.shell.classList.contains('sidebar-open');
  }

  private membersOpen(): boolean {
    return this.parts.membersToggle.getAttribute('aria-expanded') === 'true';
  }

  private setSidebar(open: boolean, returnFocus = open === false): void {
    const { shell, sidebar, openSidebar, scrim } = this.parts;
    if (open && !matchMedia(NARROW).matches) return;
    shell.classList.toggle('sidebar-open', open);
    openSidebar.setAttribute('aria-expanded', String(open));
    scrim.hidden = !open;
    if (open) sidebar.querySelector<HTMLElement>('input, button')?.focus();
    else if (returnFocus && sidebar.contains(document.activeElement)) openSidebar.focus();
  }

  private setMembers(open: boolean, returnFocus = false): void {
    const { shell, membersToggle, scrim } = this.parts;
    membersToggle.setAttribute('aria-expanded', String(open));
    shell.classList.toggle('members-open', open);
    if (!matchMedia(WIDE).matches) scrim.hidden = !open && !this.sidebarOpen();
    if (returnFocus) membersToggle.focus();
  }
}
