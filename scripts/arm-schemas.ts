/**
 * Writes test/fixtures/arm-schemas/: the few resource definitions of Microsoft's published ARM
 * template schemas that the lab PUTs, for the fake ARM to validate every request body against
 * (test/helpers/arm-schemas.ts). Reads a local clone of github.com/Azure/azure-resource-manager-schemas:
 *
 *   node scripts/arm-schemas.ts /path/to/azure-resource-manager-schemas
 *
 * Each output file keeps, for one provider and api-version, the resource definitions listed
 * below and the closure of the definitions they reference (the common `expression` definition
 * included), with the source repository, commit and path noted. Three edits, all for a REST
 * body rather than a template: the template-only members of a resource (`name`, `type`,
 * `apiVersion`, nested `resources`; a REST PUT carries them in its URL) are dropped from its
 * properties and `required`; where the template requires more than the REST API, the REST
 * list is kept (REST_REQUIRED, with its source); references to the common file point into
 * the same file.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** What the lab PUTs, by schema file: the resource definitions' keys (resourceDefinitions or subscription_resourceDefinitions). */
const WANTED: Record<string, string[]> = {
  'schemas/2024-05-01/Microsoft.ApiManagement.json': [
    'service',
    'service_apis',
    'service_apis_operations',
    'service_apis_policies',
    'service_backends',
    'service_subscriptions',
    'service_loggers',
    'service_namedValues',
  ],
  'schemas/2025-09-01/Microsoft.CognitiveServices.json': ['accounts', 'accounts_deployments'],
  'schemas/2022-04-01/Microsoft.Authorization.json': ['roleAssignments'],
  'schemas/2025-04-01/Microsoft.Resources.json': ['resourceGroups'],
  'schemas/2025-08-01/Microsoft.Storage.json': ['storageAccounts', 'storageAccounts_fileServices_shares'],
  'schemas/2026-01-01/Microsoft.App.json': ['managedEnvironments', 'managedEnvironments_storages', 'jobs'],
};
const TEMPLATE_ONLY = ['name', 'type', 'apiVersion', 'resources'];
/**
 * Where a template schema requires more than the REST API does, the REST API's own list (from
 * the REST spec, as github.com/Azure/bicep-types-az generates it): a resource group's
 * `properties` is required in templates only; a REST PUT needs just `location`.
 */
const REST_REQUIRED: Record<string, string[]> = { resourceGroups: ['location'] };
const COMMON = 'https://schema.management.azure.com/schemas/common/definitions.json#/definitions/';

const clone = process.argv[2];
if (!clone) {
  process.stderr.write('usage: node scripts/arm-schemas.ts <clone of Azure/azure-resource-manager-schemas>\n');
  process.exit(2);
}
const commit = execFileSync('git', ['-C', clone, 'rev-parse', 'HEAD'], { encoding: 'utf8' }).trim();
const show = (path: string): Record<string, unknown> =>
  JSON.parse(
    execFileSync('git', ['-C', clone, 'show', `HEAD:${path}`], { encoding: 'utf8', maxBuffer: 64 << 20 }),
  ) as Record<string, unknown>;
const common = (show('schemas/common/definitions.json')['definitions'] ?? {}) as Record<string, unknown>;
const out = join(import.meta.dirname, '..', 'test', 'fixtures', 'arm-schemas');
mkdirSync(out, { recursive: true });

for (const [path, keys] of Object.entries(WANTED)) {
  const file = show(path);
  const definitions = file['definitions'] as Record<string, unknown>;
  const kept: Record<string, unknown> = {};
  const resources: Record<string, unknown> = {};
  const pending: string[] = [];
  /** Rewrites common refs into this file and queues every definition referenced. */
  const walk = (node: unknown): unknown => {
    if (Array.isArray(node)) return node.map(walk);
    if (node === null || typeof node !== 'object') return node;
    const copy: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(node)) {
      if (k === '$ref' && typeof v === 'string') {
        const name = v.startsWith(COMMON) ? `common.${v.slice(COMMON.length)}` : v.replace('#/definitions/', '');
        pending.push(name);
        copy[k] = `#/definitions/${name}`;
      } else {
        copy[k] = walk(v);
      }
    }
    return copy;
  };
  for (const key of keys) {
    const def = ((file['resourceDefinitions'] as Record<string, unknown> | undefined)?.[key] ??
      (file['subscription_resourceDefinitions'] as Record<string, unknown> | undefined)?.[key]) as
      | Record<string, unknown>
      | undefined;
    if (def === undefined) throw new Error(`${path}: no resource definition ${key}`);
    const {
      name: _name,
      type: _type,
      apiVersion: _apiVersion,
      resources: _nested,
      ...properties
    } = def['properties'] as Record<string, unknown>;
    const required =
      REST_REQUIRED[key] ?? ((def['required'] ?? []) as string[]).filter((r) => !TEMPLATE_ONLY.includes(r));
    resources[key] = walk({ ...def, properties, required });
  }
  while (pending.length > 0) {
    const name = pending.pop()!;
    if (name in kept) continue;
    const source = name.startsWith('common.') ? common[name.slice('common.'.length)] : definitions[name];
    if (source === undefined) throw new Error(`${path}: no definition ${name}`);
    kept[name] = walk(source);
  }
  const name = path.replace(/^schemas\//, '').replace(/\//g, '_');
  const body = {
    source: { repository: 'https://github.com/Azure/azure-resource-manager-schemas', commit, path },
    resources,
    definitions: kept,
  };
  writeFileSync(join(out, name), `${JSON.stringify(body)}\n`);
  process.stdout.write(`${name}: ${keys.length} resources, ${Object.keys(kept).length} definitions\n`);
}
