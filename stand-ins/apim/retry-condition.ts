/**
 * The `<retry condition="@(…)">` expressions the AI-Gateway labs use, evaluated locally on a
 * backend response before its headers are relayed. The grammar is the part of C# policy
 * expressions those conditions need: `context.Response.StatusCode` compared with integers
 * (`==`, `!=`, `<`, `<=`, `>`, `>=`), `context.Response.StatusReason.Contains("…")`,
 * `true`/`false`, `!`, `&&`, `||` and parentheses. Anything else is refused at start rather
 * than guessed.
 */

export interface ResponseFacts {
  statusCode: number;
  statusReason: string;
}

export type Condition = (response: ResponseFacts) => boolean;

export class ConditionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConditionError';
  }
}

/** How deep `!` and parentheses may nest in a retry condition (real ones nest two or three). */
const MAX_CONDITION_DEPTH = 64;
/** How many terms (comparisons, Contains, true/false) a retry condition may hold (real ones hold a handful); it is evaluated on every attempt. */
export const MAX_CONDITION_TERMS = 1000;

export const CONDITION_GRAMMAR = `comparisons of context.Response.StatusCode with integers, context.Response.StatusReason.Contains("…"), true, false, !, &&, || and parentheses (at most ${MAX_CONDITION_TERMS} terms, nested at most ${MAX_CONDITION_DEPTH} levels)`;

type Token =
  | { kind: 'op'; value: string }
  | { kind: 'number'; value: number }
  | { kind: 'string'; value: string }
  | { kind: 'name'; value: string };

const OPERATORS = ['==', '!=', '<=', '>=', '&&', '||', '<', '>', '!', '(', ')'];

function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    const op = OPERATORS.find((o) => text.startsWith(o, i));
    if (op) {
      tokens.push({ kind: 'op', value: op });
      i += op.length;
      continue;
    }
    if (/\d/.test(c)) {
      const digits = /^\d+/.exec(text.slice(i))![0];
      tokens.push({ kind: 'number', value: Number(digits) });
      i += digits.length;
      continue;
    }
    if (c === '"') {
      const end = text.indexOf('"', i + 1);
      if (end < 0) throw new ConditionError('a string is not closed');
      tokens.push({ kind: 'string', value: text.slice(i + 1, end) });
      i = end + 1;
      continue;
    }
    const name = /^[A-Za-z_][A-Za-z0-9_.]*/.exec(text.slice(i))?.[0];
    if (!name) throw new ConditionError(`unexpected "${c}"`);
    tokens.push({ kind: 'name', value: name });
    i += name.length;
  }
  return tokens;
}

/** Compiles `@(…)` (or a bare expression) into a predicate; throws ConditionError for anything outside the grammar. */
export function compileCondition(source: string): Condition {
  const trimmed = source.trim();
  const body = trimmed.startsWith('@(') && trimmed.endsWith(')') ? trimmed.slice(2, -1) : trimmed;
  const tokens = tokenize(body);
  let at = 0;
  const peek = (): Token | undefined => tokens[at];
  const isOp = (value: string): boolean => peek()?.kind === 'op' && peek()!.value === value;
  const expectOp = (value: string): void => {
    if (!isOp(value)) throw new ConditionError(`expected "${value}"`);
    at++;
  };

  // A hostile condition may nest thousands deep: bounded, so it is refused, not a stack overflow.
  let depth = 0;
  let termCount = 0;
  const nested = <T>(parse: () => T): T => {
    if (++depth > MAX_CONDITION_DEPTH) throw new ConditionError(`nested deeper than ${MAX_CONDITION_DEPTH} levels`);
    try {
      return parse();
    } finally {
      depth--;
    }
  };
  const primary = (): Condition => {
    if (isOp('!')) {
      at++;
      const inner = nested(primary);
      return (r) => !inner(r);
    }
    if (isOp('(')) {
      at++;
      const inner = nested(or);
      expectOp(')');
      return inner;
    }
    if (++termCount > MAX_CONDITION_TERMS) throw new ConditionError(`more than ${MAX_CONDITION_TERMS} terms`);
    const token = tokens[at++];
    if (token?.kind !== 'name') throw new ConditionError(`unexpected ${token ? `"${String(token.value)}"` : 'end'}`);
    if (token.value === 'true' || token.value === 'false') {
      const value = token.value === 'true';
      return () => value;
    }
    if (token.value === 'context.Response.StatusCode') {
      const op = tokens[at++];
      const operand = tokens[at++];
      if (op?.kind !== 'op' || !['==', '!=', '<', '<=', '>', '>='].includes(op.value) || operand?.kind !== 'number')
        throw new ConditionError('StatusCode must be compared with an integer');
      const n = operand.value;
      switch (op.value) {
        case '==':
          return (r) => r.statusCode === n;
        case '!=':
          return (r) => r.statusCode !== n;
        case '<':
          return (r) => r.statusCode < n;
        case '<=':
          return (r) => r.statusCode <= n;
        case '>':
          return (r) => r.statusCode > n;
        default:
          return (r) => r.statusCode >= n;
      }
    }
    if (token.value === 'context.Response.StatusReason.Contains') {
      expectOp('(');
      const text = tokens[at++];
      if (text?.kind !== 'string') throw new ConditionError('Contains takes one string');
      expectOp(')');
      return (r) => r.statusReason.includes(text.value);
    }
    throw new ConditionError(`"${token.value}" is not evaluated locally`);
  };
  // A chain of `&&` / `||` is evaluated as a list, in a loop: its length costs no stack.
  const and = (): Condition => {
    const factors = [primary()];
    while (isOp('&&')) {
      at++;
      factors.push(primary());
    }
    return factors.length === 1 ? factors[0]! : (r) => factors.every((factor) => factor(r));
  };
  const or = (): Condition => {
    const terms = [and()];
    while (isOp('||')) {
      at++;
      terms.push(and());
    }
    return terms.length === 1 ? terms[0]! : (r) => terms.some((term) => term(r));
  };
  const condition = or();
  if (at !== tokens.length) throw new ConditionError(`unexpected "${String(tokens[at]!.value)}"`);
  return condition;
}
