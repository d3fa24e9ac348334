import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadGatewayPolicy } from '../../stand-ins/apim/policy.ts';
import { createGateway, type Gateway, type GatewayOptions } from '../../stand-ins/apim/server.ts';

export const LAB_POLICY = (name: 'streaming' | 'buffered'): string =>
  fileURLToPath(new URL(`../../infra/policies/${name}.xml`, import.meta.url));

/** Writes a policy document to a temporary file and returns its path. */
export function policyFile(xml: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'gw-policy-'));
  const file = join(dir, 'policy.xml');
  writeFileSync(file, xml);
  return file;
}

/** A policy with the lab's inbound/backend shape and extra elements where asked. */
export function policyXml(parts: { inbound?: string; backend?: string; outbound?: string }): string {
  return `<policies>
  <inbound><base />${parts.inbound ?? '<set-backend-service backend-id="openai-backend" /><authentication-managed-identity resource="https://cognitiveservices.azure.com" />'}</inbound>
  <backend>${parts.backend ?? '<forward-request timeout="120" buffer-response="false" />'}</backend>
  <outbound><base />${parts.outbound ?? ''}</outbound>
  <on-error><base /></on-error>
</policies>`;
}

export function startGateway(
  policyPath: string,
  backendUrl: string,
  options: Partial<GatewayOptions> = {},
): Promise<Gateway> {
  return createGateway({ policy: loadGatewayPolicy(policyPath), backendUrl, host: '127.0.0.1', port: 0, ...options });
}

export interface CapturedRequest {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
}

/** A backend that records what reaches it and answers 200 with a small JSON body and a marker header. */
export async function startRecordingBackend(): Promise<{
  url: string;
  requests: CapturedRequest[];
  server: Server;
  close(): Promise<void>;
}> {
  const requests: CapturedRequest[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      requests.push({
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
      });
      res.writeHead(200, {
        'content-type': 'application/json',
        'x-backend-marker': 'upstream',
        'x-remove-me': 'secret-ish',
      });
      res.end('{"ok":true}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    server,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
