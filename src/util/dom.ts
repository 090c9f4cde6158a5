// Small helpers over @xmldom/xmldom for reading Pacemaker's XML (CIB, crm_mon, crm_simulate).
import type { Element, Node } from '@xmldom/xmldom';

const ELEMENT_NODE = 1;

/** The element children of `parent`, in document order (text and comments skipped). */
export function children(parent: Element | undefined): Element[] {
  const out: Element[] = [];
  for (let n: Node | null = parent?.firstChild ?? null; n; n = n.nextSibling) if (n.nodeType === ELEMENT_NODE) out.push(n as Element);
  return out;
}

/** The first element child named `name`. */
export function child(parent: Element | undefined, name: string): Element | undefined {
  return children(parent).find((c) => c.nodeName === name);
}
