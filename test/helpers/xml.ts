// Just enough XML checking for generated SVG: tags balance, attributes are quoted, text has no raw
// "<" or stray "&". Returns the elements found so tests can query them.

export interface XmlElement {
  name: string;
  attributes: Record<string, string>;
  text: string;
}

export function parseXmlElements(xml: string): XmlElement[] {
  const elements: XmlElement[] = [];
  const open: XmlElement[] = [];
  const token = /<(\/?)([a-zA-Z][\w:.-]*)((?:\s+[\w:.-]+="[^"<]*")*)\s*(\/?)>|([^<]+)/gy;
  let consumed = 0;
  for (const match of xml.matchAll(token)) {
    consumed = match.index + match[0].length;
    const [, closing, name, attributeText, selfClosing, text] = match;
    if (text !== undefined) {
      if (/&(?!(amp|lt|gt|quot|apos);)/.test(text)) throw new Error(`unescaped & in text ${JSON.stringify(text)}`);
      if (open.length) open[open.length - 1]!.text += text;
      continue;
    }
    if (closing) {
      const top = open.pop();
      if (top?.name !== name) throw new Error(`</${name}> closes <${top?.name}>`);
      continue;
    }
    const attributes: Record<string, string> = {};
    for (const [, key, value] of attributeText!.matchAll(/([\w:.-]+)="([^"]*)"/g)) attributes[key!] = value!;
    const element = { name: name!, attributes, text: '' };
    elements.push(element);
    if (!selfClosing) open.push(element);
  }
  if (consumed !== xml.length) throw new Error(`malformed XML at ${JSON.stringify(xml.slice(consumed, consumed + 40))}`);
  if (open.length) throw new Error(`unclosed <${open.map((e) => e.name).join('>, <')}>`);
  return elements;
}
