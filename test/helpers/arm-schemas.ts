import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv, type ValidateFunction } from 'ajv';

/**
 * Microsoft's published ARM template schemas for what the lab PUTs (vendored by
 * scripts/arm-schemas.ts into test/fixtures/arm-schemas/, each file naming its source commit),
 * compiled for the fake ARM: every PUT body is validated against its resource type's schema
 * before the fake acts on it.
 */
const DIR = join(import.meta.dirname, '..', 'fixtures', 'arm-schemas');

interface SchemaFile {
  source: { repository: string; commit: string; path: string };
  resources: Record<string, Record<string, unknown>>;
  definitions: Record<string, unknown>;
}

/** Provider namespace (lower case) → its vendored file (Container Apps: the SDK sends 2026-07-01; the latest published template schema is 2026-01-01). */
const FILES = new Map<string, SchemaFile>();
for (const name of readdirSync(DIR).filter((n) => n.endsWith('.json'))) {
  const file = JSON.parse(readFileSync(join(DIR, name), 'utf8')) as SchemaFile;
  FILES.set(/_(Microsoft\.[A-Za-z]+)\.json$/.exec(name)![1]!.toLowerCase(), file);
}

const ajv = new Ajv({ strict: false, allErrors: true, validateFormats: false });
const compiled = new Map<string, ValidateFunction>();

function validatorFor(namespace: string, key: string): ValidateFunction | undefined {
  const id = `${namespace}/${key}`;
  const cached = compiled.get(id);
  if (cached) return cached;
  const file = FILES.get(namespace);
  const entry = file && Object.entries(file.resources).find(([k]) => k.toLowerCase() === key.toLowerCase());
  if (!file || !entry) return undefined;
  const validate = ajv.compile({ ...entry[1], definitions: file.definitions });
  compiled.set(id, validate);
  return validate;
}

/**
 * The schema key of a PUT path under a subscription (`rest` = the path after
 * `/subscriptions/{id}`, lower case): the provider namespace after the last `/providers/`, and
 * its type segments joined by `_` (`service/x/apis/y/policies/policy` → `service_apis_policies`).
 */
export function schemaKeyOf(rest: string): { namespace: string; key: string } | undefined {
  if (/^\/resourcegroups\/[^/]+$/.test(rest)) return { namespace: 'microsoft.resources', key: 'resourcegroups' };
  const at = rest.lastIndexOf('/providers/');
  if (at < 0) return undefined;
  const [namespace, ...segments] = rest.slice(at + '/providers/'.length).split('/');
  if (namespace === undefined || segments.length < 2 || segments.length % 2 !== 0) return undefined;
  return { namespace, key: segments.filter((_, i) => i % 2 === 0).join('_') };
}

/** Why a PUT body does not match Microsoft's schema for its resource type, or undefined when it does. */
export function schemaProblem(rest: string, body: unknown): { code: string; message: string } | undefined {
  const at = schemaKeyOf(rest);
  if (at === undefined) return undefined;
  const validate = validatorFor(at.namespace, at.key);
  if (validate === undefined)
    return {
      code: 'NoSchemaInFake',
      message: `The fake ARM has no vendored schema for ${at.namespace} ${at.key}: add it to scripts/arm-schemas.ts`,
    };
  if (validate(body)) return undefined;
  // oneOf alternatives (a value or an ARM expression) repeat each error: keep the first per path.
  const seen = new Set<string>();
  const errors = (validate.errors ?? []).filter(
    (e) =>
      e.keyword !== 'oneOf' &&
      !e.schemaPath.includes('common.expression') &&
      !seen.has(e.instancePath) &&
      seen.add(e.instancePath),
  );
  const text = errors
    .map(
      (e) =>
        `${e.instancePath || '(body)'} ${e.message ?? 'is invalid'}${e.keyword === 'enum' ? ` (${(e.params as { allowedValues: unknown[] }).allowedValues.join(', ')})` : ''}`,
    )
    .join('; ');
  return {
    code: 'InvalidRequestContent',
    message: `The request content was invalid for ${at.namespace} ${at.key.replace(/_/g, '/')}: ${text}.`,
  };
}

/** Where the schemas came from, for the test that says so. */
export function schemaSources(): Array<SchemaFile['source']> {
  return [...FILES.values()].map((f) => f.source);
}
