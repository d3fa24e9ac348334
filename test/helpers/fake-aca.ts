import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { http, HttpResponse } from 'msw';
import type { FakeArm } from './fake-arm.ts';

const ARM = 'https://management.azure.com';

/** What the fake hands a test's runner when an execution starts: the container as ACA would run it. */
export interface FakeExecution {
  job: string;
  name: string;
  args: string[];
  /** Environment with secret references resolved from the job's secrets, as ACA does. */
  env: Record<string, string>;
}

interface Stored {
  kind: string;
  body: Record<string, unknown>;
}

/**
 * Microsoft.App (managed environments, their storages, manual jobs, executions) and
 * Microsoft.Storage (accounts, keys, file shares) for the fake ARM, plus the Azure Files data
 * plane, all over MSW for the real `@azure/arm-appcontainers`, `@azure/arm-storage` and
 * `@azure/storage-file-share` clients. Environments and jobs are created as long-running
 * operations (201 + Azure-AsyncOperation, InProgress at the first poll); storage accounts
 * answer 202 + Location (the account in the final answer), as Azure does; `jobs/start` is one
 * (202 + Location, the execution in the final answer). An execution really runs: the fake
 * resolves the container's secret references and its Azure Files mount to a local folder
 * (`shareRoot/<account>/<share>`) and calls the test's runner; the execution is Running until
 * the runner settles, then Succeeded or Failed. The data plane serves that folder back.
 *
 * As on Azure: a start request with a template override runs the override's containers in
 * place of the job's (an execution's container has no volume mounts, so a path the job
 * mounted is then the container's own disk, gone when it ends); and an image from a private
 * registry (`*.azurecr.io`) is pulled only with the job's `registries` credentials, else the
 * execution fails.
 */
export class FakeAca {
  readonly shareRoot: string;
  readonly executions = new Map<string, { status: string; job: string }>();
  /** Every PUT and POST body, by lower-cased path (to check what went over the wire). */
  readonly bodies = new Map<string, Record<string, unknown>[]>();
  private readonly arm: FakeArm;
  private readonly runner: (execution: FakeExecution) => Promise<boolean>;
  private readonly operations = new Map<string, { body?: Record<string, unknown>; polls: number }>();
  /** Executions that failed before running, and why (an image that could not be pulled). */
  readonly pullFailures: string[] = [];
  private next = 1;

  constructor(arm: FakeArm, shareRoot: string, runner: (execution: FakeExecution) => Promise<boolean>) {
    this.arm = arm;
    this.shareRoot = shareRoot;
    this.runner = runner;
    arm.extensions.push((request, rest, body) => this.route(request, rest, body));
    arm.use(
      http.all('https://:account.file.core.windows.net/*', ({ request, params }) =>
        this.files(request, String(params['account'])),
      ),
    );
  }

  private get sub(): string {
    return `/subscriptions/${this.arm.subscriptionId}`;
  }

  private route(request: Request, rest: string, body: Record<string, unknown>): Response | undefined {
    const method = request.method;
    let m: RegExpExecArray | null;
    // Every operation is still running at its first poll, as on Azure.
    if ((m = /^\/providers\/fake\.aca\/operations\/(\d+)$/.exec(rest)))
      return this.poll(m[1]!)
        ? json(200, { id: m[1], status: 'Succeeded' })
        : json(200, { id: m[1], status: 'InProgress' });
    if ((m = /^\/providers\/fake\.aca\/locations\/(\d+)$/.exec(rest))) {
      if (!this.poll(m[1]!))
        return new HttpResponse(null, {
          status: 202,
          headers: { location: `${ARM}${this.sub}/providers/Fake.Aca/locations/${m[1]}` },
        });
      return json(200, this.operations.get(m[1]!)?.body ?? {});
    }
    if (rest === '/providers/microsoft.storage/checknameavailability') {
      const taken = [...this.arm.resources.values()].some(
        (r) => r.kind === 'storage' && r.id.toLowerCase().endsWith(`/${String(body['name']).toLowerCase()}`),
      );
      return json(200, {
        nameAvailable: !taken,
        reason: taken ? 'AlreadyExists' : undefined,
        message: taken ? 'The storage account name is already taken.' : undefined,
      });
    }
    const scoped = /^\/resourcegroups\/([^/]+)\/providers\/(microsoft\.app|microsoft\.storage)\/(.+)$/.exec(rest);
    if (!scoped) return undefined;
    const [, group, , resource] = scoped;
    if (!this.arm.resourceGroup(group!))
      return error(404, 'ResourceGroupNotFound', `Resource group '${group}' could not be found.`);
    const path = `${this.sub}${rest}`;
    if (method === 'PUT' || method === 'POST') this.bodies.set(path, [...(this.bodies.get(path) ?? []), body]);

    if ((m = /^storageaccounts\/([^/]+)$/.exec(resource!))) {
      const answer = this.put(method, path, 'storage', body, {
        primaryEndpoints: { file: `https://${m[1]}.file.core.windows.net/` },
      });
      if (method !== 'PUT' || answer.status >= 300) return answer;
      // Storage Accounts – Create answers 202 + Location (or 200): never 201.
      return this.accepted(this.get(path)!.body);
    }
    if ((m = /^storageaccounts\/([^/]+)\/listkeys$/.exec(resource!))) {
      if (!this.get(path.replace(/\/listkeys$/, '')))
        return error(404, 'ResourceNotFound', 'storage account not found');
      return json(200, {
        keys: [{ keyName: 'key1', value: Buffer.from(`storage-key-${m[1]}`).toString('base64'), permissions: 'FULL' }],
      });
    }
    if ((m = /^storageaccounts\/([^/]+)\/fileservices\/default\/shares\/([^/]+)$/.exec(resource!))) {
      if (method === 'PUT') mkdirSync(join(this.shareRoot, m[1]!, m[2]!), { recursive: true });
      return this.put(method, path, 'share', body, {});
    }
    if ((m = /^managedenvironments\/([^/]+)$/.exec(resource!)))
      return this.put(method, path, 'environment', body, {}, true);
    if ((m = /^managedenvironments\/([^/]+)\/storages\/([^/]+)$/.exec(resource!)))
      return this.put(method, path, 'environment-storage', body, {});
    if ((m = /^jobs\/([^/]+)$/.exec(resource!))) return this.put(method, path, 'job', body, {}, true);
    if ((m = /^jobs\/([^/]+)\/start$/.exec(resource!))) return this.start(path.replace(/\/start$/, ''), m[1]!, body);
    if ((m = /^jobs\/([^/]+)\/executions\/([^/]+)$/.exec(resource!))) {
      const execution = this.executions.get(m[2]!);
      if (!execution) return error(404, 'ResourceNotFound', `execution ${m[2]} not found`);
      return json(200, { id: path, name: m[2], properties: { status: execution.status } });
    }
    return error(404, 'NotFoundInFake', `The fake ACA has no route for ${method} ${rest}`);
  }

  private get(path: string): Stored | undefined {
    return this.arm.resources.get(path.toLowerCase());
  }

  /** A resource PUT (sync, or 201 + Azure-AsyncOperation for `lro`), GET, DELETE. */
  private put(
    method: string,
    path: string,
    kind: string,
    body: Record<string, unknown>,
    extra: Record<string, unknown>,
    lro = false,
  ): Response {
    const key = path.toLowerCase();
    const existing = this.arm.resources.get(key);
    if (method === 'GET')
      return existing ? json(200, existing.body) : error(404, 'ResourceNotFound', `${kind} not found`);
    if (method === 'DELETE') {
      this.arm.resources.delete(key);
      return new HttpResponse(null, { status: existing ? 200 : 204 });
    }
    if (method !== 'PUT') return error(405, 'MethodNotAllowed', method);
    const resource = {
      id: path,
      kind,
      body: {
        ...body,
        id: path,
        name: path.split('/').at(-1),
        properties: { ...((body['properties'] as object) ?? {}), ...extra, provisioningState: 'Succeeded' },
      },
      readyAt: 0,
    };
    if (!existing) this.arm.countCreation(key);
    this.arm.resources.set(key, resource);
    if (!lro) return json(existing ? 200 : 201, resource.body);
    const id = String(this.next++);
    this.operations.set(id, { polls: 0 });
    return json(
      existing ? 200 : 201,
      { ...resource.body, properties: { ...(resource.body.properties as object), provisioningState: 'InProgress' } },
      { 'azure-asyncoperation': `${ARM}${this.sub}/providers/Fake.Aca/operations/${id}` },
    );
  }

  /** True once an operation has been polled before (the second poll finds it done). */
  private poll(id: string): boolean {
    const operation = this.operations.get(id);
    if (!operation) return true;
    operation.polls++;
    return operation.polls > 1;
  }

  /** 202 + Location; `body` is the final answer, at the second poll. */
  private accepted(body: Record<string, unknown>): Response {
    const id = String(this.next++);
    this.operations.set(id, { body, polls: 0 });
    return new HttpResponse(null, {
      status: 202,
      headers: { location: `${ARM}${this.sub}/providers/Fake.Aca/locations/${id}` },
    });
  }

  /** `POST jobs/{job}/start`: 202 + Location; the execution runs now, through the test's runner. */
  private start(jobPath: string, job: string, body: Record<string, unknown>): Response {
    const stored = this.get(jobPath);
    if (!stored) return error(404, 'ResourceNotFound', `job ${job} not found`);
    const properties = stored.body['properties'] as {
      configuration: {
        secrets?: Array<{ name: string; value: string }>;
        registries?: Array<{ server: string; username?: string; passwordSecretRef?: string }>;
      };
      template: { containers: Array<Record<string, any>>; volumes?: Array<{ name: string; storageName: string }> };
      environmentId: string;
    };
    // A template override replaces the job's containers (Microsoft Learn: "the job's entire template configuration is replaced").
    const overrides = body['containers'] as Array<Record<string, any>> | undefined;
    const container =
      overrides !== undefined && overrides.length > 0 ? overrides[0]! : properties.template.containers[0]!;
    const secrets = new Map((properties.configuration.secrets ?? []).map((s) => [s.name, s.value]));
    const env: Record<string, string> = {};
    for (const variable of (container['env'] ?? []) as Array<{ name: string; value?: string; secretRef?: string }>) {
      const value = variable.secretRef !== undefined ? secrets.get(variable.secretRef) : variable.value;
      if (value === undefined)
        return error(
          400,
          'ContainerAppSecretRefNotFound',
          `secretRef ${variable.secretRef} is not a secret of job ${job}`,
        );
      env[variable.name] = value;
    }
    // The results volume: environment storage -> Azure Files share -> a local folder.
    const mounts = new Map<string, string>();
    for (const mount of (container['volumeMounts'] ?? []) as Array<{ volumeName: string; mountPath: string }>) {
      const volume = properties.template.volumes?.find((v) => v.name === mount.volumeName);
      const storage = volume && this.get(`${properties.environmentId}/storages/${volume.storageName}`);
      const file = (
        storage?.body['properties'] as { azureFile?: { accountName: string; shareName: string } } | undefined
      )?.azureFile;
      if (file) mounts.set(mount.mountPath, join(this.shareRoot, file.accountName, file.shareName));
    }
    const name = `${job}-${Math.random().toString(36).slice(2, 9)}`;
    // A private image pulls only with the job's credentials for its registry.
    const image = String(container['image'] ?? '');
    const server = (image.split('/')[0] ?? '').toLowerCase();
    if (server.endsWith('.azurecr.io')) {
      const registry = properties.configuration.registries?.find((r) => r.server.toLowerCase() === server);
      if (
        !registry ||
        registry.username === undefined ||
        registry.passwordSecretRef === undefined ||
        !secrets.has(registry.passwordSecretRef)
      ) {
        this.executions.set(name, { status: 'Failed', job });
        this.pullFailures.push(
          `${name}: ImagePullBackOff: ${image}: unauthorized (the job has no credentials for ${server})`,
        );
        return this.accepted({ name, id: `${jobPath}/executions/${name}` });
      }
    }
    this.executions.set(name, { status: 'Running', job });
    // A path the container does not mount is its own disk: written, then gone with it.
    const scratch = mkdtempSync(join(tmpdir(), 'fake-aca-container-'));
    const args = ((container['args'] ?? []) as string[]).map(
      (arg) => mounts.get(arg) ?? (arg.startsWith('/') ? join(scratch, arg) : arg),
    );
    void this.runner({ job, name, args, env })
      .then(
        (ok) => this.executions.set(name, { status: ok ? 'Succeeded' : 'Failed', job }),
        () => this.executions.set(name, { status: 'Failed', job }),
      )
      .finally(() => rmSync(scratch, { recursive: true, force: true }));
    return this.accepted({ name, id: `${jobPath}/executions/${name}` });
  }

  /** Azure Files: list a directory (XML) and read a file (HEAD and ranged GET), from the share's local folder. */
  private files(request: Request, account: string): Response {
    const url = new URL(request.url);
    const [share, ...parts] = decodeURIComponent(url.pathname)
      .split('/')
      .filter((p) => p !== '');
    const local = join(this.shareRoot, account, share ?? '', ...parts);
    const common = { 'x-ms-request-id': 'fake', 'x-ms-version': '2025-05-05' };
    if (url.searchParams.get('restype') === 'directory' && url.searchParams.get('comp') === 'list') {
      let names: string[];
      try {
        names = readdirSync(local);
      } catch {
        return new HttpResponse(
          `<?xml version="1.0" encoding="utf-8"?><Error><Code>ResourceNotFound</Code><Message>The specified resource does not exist.</Message></Error>`,
          {
            status: 404,
            headers: { ...common, 'content-type': 'application/xml', 'x-ms-error-code': 'ResourceNotFound' },
          },
        );
      }
      const entries = names
        .map((n) =>
          statSync(join(local, n)).isDirectory()
            ? `<Directory><Name>${n}</Name><Properties /></Directory>`
            : `<File><Name>${n}</Name><Properties><Content-Length>${statSync(join(local, n)).size}</Content-Length></Properties></File>`,
        )
        .join('');
      const xml = `<?xml version="1.0" encoding="utf-8"?><EnumerationResults ServiceEndpoint="https://${account}.file.core.windows.net/" ShareName="${share}" DirectoryPath="${parts.join('/')}"><Entries>${entries}</Entries><NextMarker /></EnumerationResults>`;
      return new HttpResponse(xml, { status: 200, headers: { ...common, 'content-type': 'application/xml' } });
    }
    let data: Buffer;
    try {
      data = readFileSync(local);
    } catch {
      return new HttpResponse(null, { status: 404, headers: { ...common, 'x-ms-error-code': 'ResourceNotFound' } });
    }
    const headers = {
      ...common,
      'x-ms-type': 'File',
      'content-type': 'application/octet-stream',
      'last-modified': new Date().toUTCString(),
      etag: '"0x1"',
    };
    if (request.method === 'HEAD')
      return new HttpResponse(null, { status: 200, headers: { ...headers, 'content-length': String(data.length) } });
    const range = /bytes=(\d+)-(\d+)?/.exec(request.headers.get('x-ms-range') ?? request.headers.get('range') ?? '');
    if (!range)
      return new HttpResponse(data, { status: 200, headers: { ...headers, 'content-length': String(data.length) } });
    const start = Number(range[1]);
    const end = Math.min(data.length - 1, range[2] !== undefined ? Number(range[2]) : data.length - 1);
    const slice = data.subarray(start, end + 1);
    return new HttpResponse(slice, {
      status: 206,
      headers: {
        ...headers,
        'content-length': String(slice.length),
        'content-range': `bytes ${start}-${end}/${data.length}`,
      },
    });
  }
}

function json(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return HttpResponse.json(body as Record<string, unknown>, { status, headers });
}

function error(status: number, code: string, message: string): Response {
  return json(status, { error: { code, message } });
}
