import { SaxesParser } from 'saxes';

/** One element of an APIM policy document, flattened with where it sits. */
export interface PolicyElement {
  name: string;
  attributes: Record<string, string>;
  /** `inbound`, `backend`, `outbound` or `on-error` (empty at the root). */
  section: string;
  line: number;
  /** Text directly inside the element (policy expressions in `@{…}` bodies live here). */
  text: string;
  /** Index of the enclosing element in the flattened list (-1 for the root). */
  parent: number;
}

/** The document is not a well-formed APIM policy. Callers map it to their own error. */
export class PolicyXmlError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PolicyXmlError';
  }
}

const SECTIONS = new Set(['inbound', 'backend', 'outbound', 'on-error']);

/**
 * Parses a policy with a real XML parser. APIM's raw XML lets policy expressions such as
 * `@(context.Request.Body.As<JObject>())` or `condition="@(x.Contains("y"))"` carry unescaped
 * `<`, `>`, `&` and quotes; those are escaped
 * first (inside `@(…)` and `@{…}` only, keeping line numbers) so the document is well formed.
 */
export function parsePolicyXml(xml: string, file: string): PolicyElement[] {
  const elements: PolicyElement[] = [];
  const stack: PolicyElement[] = [];
  let section = '';
  const parser = new SaxesParser({ position: true });
  parser.on('opentag', (tag) => {
    if (SECTIONS.has(tag.name) && stack.at(-1)?.name === 'policies') section = tag.name;
    const attributes: Record<string, string> = {};
    for (const [name, value] of Object.entries(tag.attributes))
      attributes[name] = typeof value === 'string' ? value : value.value;
    const parent = stack.length > 0 ? elements.lastIndexOf(stack.at(-1)!) : -1;
    const element: PolicyElement = { name: tag.name, attributes, section, line: parser.line, text: '', parent };
    elements.push(element);
    stack.push(element);
  });
  parser.on('text', (text) => {
    const top = stack.at(-1);
    if (top) top.text += text;
  });
  parser.on('cdata', (text) => {
    const top = stack.at(-1);
    if (top) top.text += text;
  });
  parser.on('closetag', (tag) => {
    stack.pop();
    if (SECTIONS.has(tag.name)) section = '';
  });
  try {
    parser.write(escapeExpressions(xml)).close();
  } catch (error) {
    throw new PolicyXmlError(`"${file}" is not well-formed XML (${(error as Error).message.split('\n')[0]})`);
  }
  if (elements[0]?.name !== 'policies') throw new PolicyXmlError(`"${file}" has no <policies> root`);
  return elements;
}

/** Escapes `<`, `>`, quotes and bare `&` inside `@(…)` and `@{…}` expressions, bracket-matched. */
export function escapeExpressions(xml: string): string {
  let out = '';
  let i = 0;
  while (i < xml.length) {
    const start = xml.indexOf('@', i);
    if (start < 0 || start + 1 >= xml.length) return out + xml.slice(i);
    const open = xml[start + 1];
    if (open !== '(' && open !== '{') {
      out += xml.slice(i, start + 1);
      i = start + 1;
      continue;
    }
    const close = open === '(' ? ')' : '}';
    let depth = 0;
    let end = start + 1;
    for (; end < xml.length; end++) {
      if (xml[end] === open) depth++;
      else if (xml[end] === close && --depth === 0) break;
    }
    const expression = xml
      .slice(start, end + 1)
      .replace(/&(?![a-zA-Z]+;|#\d+;)/g, '&amp;')
      .replace(/</g, '&lt;')
      .replace(/>/g, '&gt;')
      .replace(/"/g, '&quot;')
      .replace(/'/g, '&apos;');
    out += xml.slice(i, start) + expression;
    i = end + 1;
  }
  return out;
}
