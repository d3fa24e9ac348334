import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import type { ApiKind } from '../../../src/protocol/index.ts';
import { badRequest, type AzureErrorSpec } from '../azure-errors.ts';
import { REQUEST_SCHEMAS, schemaVersionFor, type SchemaVersion } from './schemas.ts';

// Compiled once per process: a validation is then a few property checks per field.
const ajv = new Ajv({ allErrors: false, strict: false, verbose: true });
const compiled = new Map<string, ValidateFunction>();

function validatorFor(api: ApiKind, version: SchemaVersion): ValidateFunction {
  const kind = api === 'on-your-data' ? 'chat' : api;
  const key = `${kind}@${version}`;
  let validate = compiled.get(key);
  if (!validate) {
    validate = ajv.compile(REQUEST_SCHEMAS[kind][version]);
    compiled.set(key, validate);
  }
  return validate;
}

/** `/messages/0/role` -> `messages[0].role`, the way Azure (and OpenAI) name a parameter. */
function paramOf(instancePath: string, property?: string): string {
  const parts = instancePath.split('/').slice(1);
  if (property !== undefined) parts.push(property);
  return parts.reduce(
    (out, part) => (/^\d+$/.test(part) ? `${out}[${part}]` : out === '' ? part : `${out}.${part}`),
    '',
  );
}

const article = (type: string): string =>
  type === 'array' || type === 'integer' || type === 'object' ? `an ${type}` : `a ${type}`;

function typeName(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'number') return Number.isInteger(value) ? 'an integer' : 'a number';
  return article(typeof value);
}

/** The instance value at a JSON pointer. */
function valueAt(body: unknown, instancePath: string): unknown {
  return instancePath
    .split('/')
    .slice(1)
    .reduce<unknown>(
      (value, key) =>
        value !== null && typeof value === 'object' ? (value as Record<string, unknown>)[key] : undefined,
      body,
    );
}

/** One ajv error as Azure's 400: `invalid_request_error`, the parameter, OpenAI's wording (Azure passes it through). */
function toAzureError(error: ErrorObject, body: unknown): AzureErrorSpec {
  const value = valueAt(body, error.instancePath);
  const param = paramOf(error.instancePath);
  // The field's declared type decides the wording (temperature 7 is a decimal field), not the value's.
  const isInteger = ([] as unknown[])
    .concat((error.parentSchema as { type?: unknown } | undefined)?.type)
    .includes('integer');
  switch (error.keyword) {
    case 'required': {
      const missing = paramOf(error.instancePath, (error.params as { missingProperty: string }).missingProperty);
      return badRequest(`Missing required parameter: '${missing}'.`, missing, 'missing_required_parameter');
    }
    case 'type': {
      const expected = ([] as string[])
        .concat((error.params as { type: string | string[] }).type)
        .filter((t) => t !== 'null');
      return badRequest(
        `Invalid type for '${param}': expected ${expected.map(article).join(' or ')}, but got ${typeName(value)} instead.`,
        param,
        'invalid_type',
      );
    }
    case 'minimum': {
      const limit = (error.params as { limit: number }).limit;
      return badRequest(
        `Invalid '${param}': ${isInteger ? 'integer' : 'decimal'} below minimum value. Expected a value >= ${limit}, but got ${String(value)} instead.`,
        param,
        isInteger ? 'integer_below_min_value' : 'decimal_below_min_value',
      );
    }
    case 'maximum': {
      const limit = (error.params as { limit: number }).limit;
      return badRequest(
        `Invalid '${param}': ${isInteger ? 'integer' : 'decimal'} above maximum value. Expected a value <= ${limit}, but got ${String(value)} instead.`,
        param,
        isInteger ? 'integer_above_max_value' : 'decimal_above_max_value',
      );
    }
    case 'enum': {
      const allowed = (error.params as { allowedValues: unknown[] }).allowedValues.map((v) => `'${String(v)}'`);
      const list = allowed.length > 1 ? `${allowed.slice(0, -1).join(', ')}, and ${allowed.at(-1)}` : allowed.join('');
      return badRequest(`Invalid value: '${String(value)}'. Supported values are: ${list}.`, param, 'invalid_value');
    }
    case 'minItems': {
      const limit = (error.params as { limit: number }).limit;
      return badRequest(
        `Invalid '${param}': empty array. Expected an array with minimum length ${limit}, but got an empty array instead.`,
        param,
        'empty_array',
      );
    }
    case 'maxItems': {
      const limit = (error.params as { limit: number }).limit;
      return badRequest(
        `Invalid '${param}': array too long. Expected an array with maximum length ${limit}, but got an array with length ${Array.isArray(value) ? value.length : '?'} instead.`,
        param,
        'array_above_max_length',
      );
    }
    default:
      return badRequest(
        `Invalid type for '${param}': got ${typeName(value)}, which is not one of the types this parameter accepts.`,
        param,
        'invalid_type',
      );
  }
}

/**
 * Validates a request body against the rules of its API and api-version (schemas.ts). Returns
 * the Azure 400 to answer with, or null when the body is acceptable.
 */
export function validateRequestBody(
  api: ApiKind,
  apiVersion: string | null,
  body: Record<string, unknown>,
): AzureErrorSpec | null {
  const overflow = nonFinite(body, '');
  if (overflow !== undefined)
    return badRequest(
      `Invalid '${paramOf(overflow)}': the number is too large to represent.`,
      paramOf(overflow),
      'invalid_type',
    );
  const validate = validatorFor(api, schemaVersionFor(apiVersion));
  if (validate(body)) return null;
  const errors = validate.errors ?? [];
  const [first] = errors;
  if (!first) return badRequest('The request body is not valid.', null, 'invalid_request');
  // A field of several types reports each branch, then the anyOf. When the value had one of the
  // types but failed inside it (an array item), say what failed inside; else that the type is wrong.
  const union = errors.find((e) => e.keyword === 'anyOf' && first.instancePath.startsWith(e.instancePath));
  if (!union) return toAzureError(first, body);
  const inside = errors.find(
    (e) =>
      e.keyword !== 'anyOf' &&
      e.instancePath.length > union.instancePath.length &&
      e.instancePath.startsWith(union.instancePath),
  );
  return toAzureError(inside ?? union, body);
}

/** JSON such as `1e309` parses to Infinity; no schema type admits it. Returns its pointer (walked without recursion). */
function nonFinite(value: unknown, pointer: string): string | undefined {
  const stack: Array<[unknown, string]> = [[value, pointer]];
  while (stack.length > 0) {
    const [node, at] = stack.pop()!;
    if (typeof node === 'number') {
      if (!Number.isFinite(node)) return at;
      continue;
    }
    if (node === null || typeof node !== 'object') continue;
    const entries = Object.entries(node);
    for (let i = entries.length - 1; i >= 0; i--) stack.push([entries[i]![1], `${at}/${entries[i]![0]}`]);
  }
  return undefined;
}
