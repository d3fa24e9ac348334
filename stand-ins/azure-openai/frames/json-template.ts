/**
 * Renders many JSON frames that differ only in a few values, without re-serialising the
 * whole object each time: the object is stringified once with sentinel strings in the
 * varying places, split on them, and each frame is the parts joined with
 * `JSON.stringify(value)` for each slot. The output is byte-identical to JSON.stringify of
 * the filled-in object (key order included); the mock capacity benchmark is why it exists.
 */
export interface JsonTemplate {
  (values: readonly unknown[]): string;
  /**
   * The same with the values already JSON text (`encoded[i]` is `JSON.stringify(value i)`):
   * per content frame, `JSON.stringify` of a token and an obfuscation string cost more than
   * the rest of the frame, and both can be encoded more cheaply (see `TokenSequence.json`).
   */
  fromJson(encoded: readonly string[]): string;
}

const sentinel = (index: number): string => `\u0000slot${index}\u0000`;

/**
 * Builds a template from `build(slots)`, where `slots[i]` stands for the i-th value.
 * `prefix` and `suffix` wrap the JSON (an SSE frame's `data: ` and blank line) so a frame
 * is rendered in one pass.
 */
export function createJsonTemplate(
  slotCount: number,
  build: (slots: readonly string[]) => unknown,
  prefix = '',
  suffix = '',
): JsonTemplate {
  const slots = Array.from({ length: slotCount }, (_, i) => sentinel(i));
  let rest = prefix + JSON.stringify(build(slots)) + suffix;
  const parts: string[] = [];
  const order: number[] = [];
  for (;;) {
    let next = -1;
    let at = Infinity;
    slots.forEach((slot, i) => {
      const found = rest.indexOf(JSON.stringify(slot));
      if (found !== -1 && found < at) {
        at = found;
        next = i;
      }
    });
    if (next === -1) break;
    parts.push(rest.slice(0, at));
    order.push(next);
    rest = rest.slice(at + JSON.stringify(slots[next]).length);
  }
  parts.push(rest);
  const fromJson = (encoded: readonly string[]): string => {
    let out = parts[0]!;
    for (let i = 0; i < order.length; i++) out += encoded[order[i]!]! + parts[i + 1]!;
    return out;
  };
  // JSON.stringify(undefined) is undefined: an absent value renders as before, as "undefined".
  const render = (values: readonly unknown[]): string =>
    fromJson(values.map((value) => JSON.stringify(value) as string));
  return Object.assign(render, { fromJson });
}
