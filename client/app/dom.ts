/**
 * Small DOM helpers. User text only ever goes through `textContent`: no
 * message, name or room name becomes markup anywhere in the app.
 */

/** The element with `id`; the page is ours, so a missing one is a bug worth a loud error. */
export function byId<T extends HTMLElement = HTMLElement>(id: string): T {
  const node = document.getElementById(id);
  if (!node) throw new Error(`#${id} is missing from the page`);
  return node as T;
}

/** A new element with a class and text (as text). */
export function el<K extends keyof HTMLElementTagNameMap>(tag: K, className = '', text = ''): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text) node.textContent = text;
  return node;
}

/** A `type="button"` button with a class and visible text; `label` names it for assistive technology when the text alone would not. */
export function button(className: string, text: string, onClick: () => void, label?: string): HTMLButtonElement {
  const node = el('button', className, text);
  node.type = 'button';
  if (label) node.setAttribute('aria-label', label);
  node.addEventListener('click', onClick);
  return node;
}

/**
 * Makes `list`'s children the nodes of `items`, in order, reusing the node
 * already made for a key (`create` makes new ones, `update` refreshes each).
 * Nodes that keep their place are not moved, so a focused entry stays focused
 * while the list around it refreshes.
 */
export function syncList<T, N extends HTMLElement>(
  list: HTMLElement,
  nodes: Map<string, N>,
  items: readonly T[],
  key: (item: T) => string,
  create: (item: T) => N,
  update: (node: N, item: T) => void,
): void {
  const wanted = new Set(items.map(key));
  for (const [k, node] of nodes) {
    if (!wanted.has(k)) {
      node.remove();
      nodes.delete(k);
    }
  }
  let cursor = list.firstElementChild;
  for (const item of items) {
    const k = key(item);
    let node = nodes.get(k);
    if (!node) {
      node = create(item);
      nodes.set(k, node);
    }
    update(node, item);
    if (node === cursor) cursor = cursor.nextElementSibling;
    else list.insertBefore(node, cursor);
  }
}

/** localStorage where the browser allows it (private modes and blocked storage throw). */
export function storage(): Storage | undefined {
  try {
    return window.localStorage;
  } catch {
    return undefined;
  }
}
