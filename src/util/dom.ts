// Small helpers over @xmldom/xmldom for reading Pacemaker's XML (CIB, crm_mon, crm_simulate).
import { DOMParser, type Document, type Element, type Node } from '@xmldom/xmldom';
import { err, messageOf, ok, type Result } from './result.ts';

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

/**
 * Parses XML strictly: xmldom only reports errors and goes on, so a truncated or garbled output
 * would parse into a partial document. The error is the parser's first line, for the caller's message.
 */
export function parseXmlStrict(xml: string): Result<Document, string> {
  try {
    return ok(
      new DOMParser({
        onError: (level, message) => {
          if (level !== 'warning') throw new Error(message);
        },
      }).parseFromString(xml, 'text/xml'),
    );
  } catch (e) {
    return err(messageOf(e).split('\n')[0] ?? '');
  }
}
