import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadGatewayPolicy } from '../../stand-ins/apim/policy.ts';
import { compileCondition, ConditionError, MAX_CONDITION_TERMS } from '../../stand-ins/apim/retry-condition.ts';
import { createGateway, GATEWAY_HEALTH_PATH } from '../../stand-ins/apim/server.ts';
import { InvalidOptionError } from '../../src/errors.ts';
import { BackendsFileError, parseBackends } from '../../src/protocol/index.ts';

// The backends file and the retry condition are user input (issue 31): every hostile shape is a
// BackendsFileError / ConditionError naming the backend and the field, never a TypeError or a
// stack overflow, and a name that is an Object prototype key is just a name.
const single = (name: string, properties: Record<string, unknown> = { url: 'http://127.0.0.1:1/openai' }) => ({
  name,
  properties,
});
const breaker = (cb: unknown) => [single('a', { url: 'http://127.0.0.1:1/openai', circuitBreaker: cb })];

const HOSTILE: Array<[string, unknown, RegExp]> = [
  ['circuitBreaker: null', breaker(null), /backend "a": circuitBreaker must be an object/],
  ['circuitBreaker: a string', breaker('on'), /backend "a": circuitBreaker must be an object/],
  ['rules: [null]', breaker({ rules: [null] }), /circuit breaker: its rule must be an object/],
  ['rules: {}', breaker({ rules: {} }), /rules must hold exactly one rule/],
  ['failureCondition: null', breaker({ rules: [{ failureCondition: null }] }), /failureCondition is missing/],
  [
    'statusCodeRanges as an object',
    breaker({
      rules: [
        {
          failureCondition: { count: 1, interval: 'PT1M', statusCodeRanges: { min: 500, max: 599 } },
          tripDuration: 'PT1M',
        },
      ],
    }),
    /statusCodeRanges must be a list/,
  ],
  [
    'statusCodeRanges: [null]',
    breaker({
      rules: [{ failureCondition: { count: 1, interval: 'PT1M', statusCodeRanges: [null] }, tripDuration: 'PT1M' }],
    }),
    /statusCodeRanges entry null/,
  ],
  [
    'pool: null',
    [single('a'), { name: 'p', properties: { type: 'Pool', pool: null } }],
    /pool "p" needs pool, an object/,
  ],
  [
    'pool services: [null]',
    [single('a'), { name: 'p', properties: { type: 'Pool', pool: { services: [null] } } }],
    /pool "p" service 1: each service is an object/,
  ],
  [
    'pool services: a string',
    [single('a'), { name: 'p', properties: { type: 'Pool', pool: { services: 'a' } } }],
    /pool "p" needs pool\.services, a non-empty list/,
  ],
  [
    'properties: null',
    [{ name: 'a', properties: null }],
    /backend 1 needs "name" \(a string\) and "properties" \(an object\)/,
  ],
  ['the file is an object', { name: 'a' }, /a JSON array of backends/],
  ['a name with a space', [single('a b')], /a name is 1–80 letters/],
];

describe('a hostile backends file', () => {
  for (const [what, file, names] of HOSTILE) {
    it(`${what}: refused naming it`, () => {
      let thrown: unknown;
      try {
        parseBackends(file);
      } catch (error) {
        thrown = error;
      }
      expect(thrown).toBeInstanceOf(BackendsFileError);
      expect((thrown as Error).message).toMatch(names);
    });
  }

  it('a backend named after an Object prototype key is only a name', () => {
    const table = parseBackends([
      single('constructor'),
      single('toString'),
      {
        name: 'hasOwnProperty',
        properties: {
          type: 'Pool',
          pool: { services: [{ id: '/backends/constructor' }, { id: '/backends/toString' }] },
        },
      },
    ]);
    expect([...table.singles.keys()]).toEqual(['constructor', 'toString']);
    expect(table.pools.get('hasOwnProperty')!.members.map((m) => m.name)).toEqual(['constructor', 'toString']);
  });
});

describe('a hostile retry condition', () => {
  it('nesting thousands deep is refused, not a stack overflow; 64 levels still compile', () => {
    for (const deep of [`${'('.repeat(10_000)}true${')'.repeat(10_000)}`, `${'!'.repeat(100_000)}true`]) {
      expect(() => compileCondition(`@(${deep})`)).toThrow(ConditionError);
      expect(() => compileCondition(`@(${deep})`)).toThrow(/nested deeper than 64 levels/);
    }
    const ok = compileCondition(`@(${'('.repeat(60)}context.Response.StatusCode == 429${')'.repeat(60)})`);
    expect(ok({ statusCode: 429, statusReason: '' })).toBe(true);
  });
});

describe('the gateway CLI on a hostile backends file', () => {
  it('exits 2 naming the field, no stack trace; a backend named "constructor" without a url asks for its url', () => {
    const dir = mkdtempSync(join(tmpdir(), 'gateway-hostile-'));
    try {
      const run = (file: unknown) => {
        writeFileSync(join(dir, 'backends.json'), JSON.stringify(file));
        return spawnSync(
          process.execPath,
          [
            'stand-ins/apim/cli.ts',
            '--port',
            '0',
            '--policy',
            'infra/policies/streaming.xml',
            '--backends',
            join(dir, 'backends.json'),
          ],
          { encoding: 'utf8', timeout: 20_000 },
        );
      };
      for (const [, file, names] of [HOSTILE[0]!, HOSTILE[5]!, HOSTILE[7]!]) {
        const result = run(file);
        expect(result.status).toBe(2);
        expect(result.stderr).toMatch(names);
        expect(result.stderr).not.toMatch(/\n\s+at /);
      }
      const prototypeName = run([
        { name: 'constructor', properties: {} },
        { name: 'openai-backend', properties: { type: 'Pool', pool: { services: [{ id: '/backends/constructor' }] } } },
      ]);
      expect(prototypeName.status).toBe(2);
      expect(prototypeName.stderr).toMatch(/backend "constructor" has no url in the backends file and none was given/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

// A policy the gateway cannot run is refused at start (issue: it started, then answered 500 or
// 504 to every request, or left the client waiting): an --policy error naming the line, the
// attribute, what is wrong and what is allowed, loaded as the gateway loads it.
describe('a policy the gateway cannot run', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gateway-hostile-policy-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  let files = 0;
  const load = (xml: string) => {
    const file = join(dir, `policy-${++files}.xml`);
    writeFileSync(file, xml);
    return loadGatewayPolicy(file);
  };
  const refusal = (xml: string): InvalidOptionError => {
    let thrown: unknown;
    try {
      load(xml);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(InvalidOptionError);
    expect((thrown as InvalidOptionError).option).toBe('--policy');
    return thrown as InvalidOptionError;
  };
  const setHeader = (section: 'inbound' | 'outbound', attributes: string, value = '<value>1</value>') =>
    `<policies>\n<${section}>\n<set-header ${attributes} exists-action="override">${value}</set-header>\n</${section}>\n</policies>`;
  const retry = (condition: string) =>
    `<policies><backend><retry condition="${condition}" count="1" interval="0"><forward-request /></retry></backend></policies>`;
  const term = (status: number) => `context.Response.StatusCode == ${status}`;

  const HEADER_NAMES: Array<[string, string]> = [
    ['a space', 'x y'],
    ['empty', ''],
    ['a colon', 'x-a:b'],
    ['non-ASCII', 'x-café'],
  ];
  for (const [what, name] of HEADER_NAMES) {
    for (const section of ['inbound', 'outbound'] as const) {
      it(`set-header name with ${what} (${section}): refused as not a header name, with its line`, () => {
        const error = refusal(setHeader(section, `name="${name}"`));
        expect(error.message).toContain(`line 3: set-header name ${JSON.stringify(name)} is not an HTTP header name`);
        expect(error.message).toMatch(/Allowed: a header name: .*RFC 9110 token/);
      });
    }
  }

  it('set-header without a name is refused, not taken for an expression', () => {
    expect(refusal(setHeader('inbound', 'id="x"')).message).toMatch(/line 3: set-header has no name\. Allowed: name="/);
  });

  const HEADER_VALUES: Array<[string, string, RegExp]> = [
    ['CR/LF', 'a&#13;&#10;b', /value "a\\r\\nb" has a line break \(CR\/LF\) \(U\+000D\)/],
    ['a lone LF', 'a&#10;x-injected: 1', /has a line break \(CR\/LF\) \(U\+000A\)/],
    ['DEL', 'a&#127;b', /has a control character \(U\+007F\)/],
    ['text above U+00FF', 'caf→', /has non-ASCII text \(U\+2192\)/],
    ['Latin-1 text', 'café', /has non-ASCII text \(U\+00E9\)/],
    ['an emoji', 'ok 👍', /has non-ASCII text \(U\+1F44D\)/],
  ];
  for (const [what, value, names] of HEADER_VALUES) {
    for (const section of ['inbound', 'outbound'] as const) {
      it(`set-header value with ${what} (${section}): refused naming the header and the character`, () => {
        const error = refusal(setHeader(section, 'name="x-lab"', `<value>ok</value>\n<value>${value}</value>`));
        expect(error.message).toContain('line 4: set-header "x-lab" value');
        expect(error.message).toMatch(names);
        expect(error.message).toMatch(/Allowed: visible ASCII characters, spaces and tabs/);
      });
    }
  }

  it('header names and values a header may carry still load; an expression value is still only listed as ignored', () => {
    const policy =
      load(`<policies><inbound><set-header name="X-Lab_1!#$%&amp;'*+.^\`|~" exists-action="append"><value>a b\tc "quoted" ;=,</value><value></value></set-header>
      <set-header name="x-from-expression" exists-action="override"><value>@(context.RequestId.ToString())</value></set-header></inbound>
      <outbound><set-header name="x-drop" exists-action="delete" /></outbound></policies>`);
    expect(policy.inboundHeaders).toEqual([
      { name: "x-lab_1!#$%&'*+.^`|~", existsAction: 'append', values: ['a b\tc "quoted" ;=,', ''] },
    ]);
    expect(policy.outboundHeaders).toEqual([{ name: 'x-drop', existsAction: 'delete', values: [] }]);
    expect(policy.ignored).toEqual(['<set-header> (inbound, line 2): policy expressions are not evaluated locally']);
  });

  for (const name of [
    'transfer-encoding',
    'Content-Length',
    'connection',
    'keep-alive',
    'proxy-connection',
    'upgrade',
    'te',
    'trailer',
  ]) {
    it(`set-header ${name} is refused, in either section and with any exists-action: the gateway frames each message itself`, () => {
      for (const section of ['inbound', 'outbound'] as const) {
        const error = refusal(setHeader(section, `name="${name}"`, '<value>chunked</value>'));
        expect(error.message).toContain(`line 3: set-header name "${name}" is a framing (hop-by-hop) header`);
        expect(error.message).toContain(
          'Allowed: any header but transfer-encoding, content-length, connection, keep-alive, proxy-connection, upgrade, te, trailer.',
        );
      }
      expect(
        refusal(`<policies><outbound><set-header name="${name}" exists-action="delete" /></outbound></policies>`)
          .message,
      ).toMatch(/is a framing \(hop-by-hop\) header/);
    });
  }

  it('token limit header names: retry-after-header-name and remaining-tokens-header-name must be header names, not framing headers', () => {
    const limit = (attributes: string) =>
      `<policies><inbound>\n<azure-openai-token-limit tokens-per-minute="1000" ${attributes} /></inbound></policies>`;
    expect(refusal(limit('retry-after-header-name="a b"')).message).toContain(
      'line 2: azure-openai-token-limit retry-after-header-name "a b" is not an HTTP header name',
    );
    expect(refusal(limit('retry-after-header-name=""')).message).toContain(
      'retry-after-header-name "" is not an HTTP header name',
    );
    expect(refusal(limit('remaining-tokens-header-name="x:y"')).message).toContain(
      'remaining-tokens-header-name "x:y" is not an HTTP header name',
    );
    expect(refusal(limit('remaining-tokens-header-name="content-length"')).message).toContain(
      'remaining-tokens-header-name "content-length" is a framing (hop-by-hop) header',
    );
    expect(refusal(limit('retry-after-header-name="@(context.Variables)"')).message).toMatch(/not an HTTP header name/);
    expect(
      load(limit('retry-after-header-name="X-Retry-After" remaining-tokens-header-name="x-remaining"')).tokenLimit,
    ).toMatchObject({ retryAfterHeaderName: 'x-retry-after', remainingTokensHeaderName: 'x-remaining' });
    expect(load(limit('')).tokenLimit).toMatchObject({
      retryAfterHeaderName: 'retry-after',
      remainingTokensHeaderName: undefined,
    });
  });

  const TIMEOUTS: Array<[string, string]> = [
    ['timeout="99999999"', 'timeout "99999999" is not a number of seconds from 1 to 2147483'],
    ['timeout="2147484"', 'timeout "2147484" is not a number of seconds from 1 to 2147483'],
    ['timeout=""', 'timeout "" is not a number of seconds from 1 to 2147483'],
    ['timeout="0"', 'timeout "0" is not a number of seconds'],
    ['timeout="-5"', 'timeout "-5" is not a number of seconds'],
    ['timeout="1.5"', 'timeout "1.5" is not a number of seconds'],
    ['timeout="1e3"', 'timeout "1e3" is not a number of seconds'],
    [
      'timeout="@(30)"',
      'timeout "@(30)" is not a number of seconds from 1 to 2147483 (expressions are not evaluated locally)',
    ],
    ['timeout-ms="2147483648"', 'timeout-ms "2147483648" is not a number of milliseconds from 1 to 2147483647'],
    ['timeout-ms=""', 'timeout-ms "" is not a number of milliseconds'],
    ['timeout-ms="0"', 'timeout-ms "0" is not a number of milliseconds'],
  ];
  for (const [attribute, names] of TIMEOUTS) {
    it(`forward-request ${attribute}: refused, not a timer that fires at once or never waits`, () => {
      const error = refusal(
        `<policies>\n<backend>\n<forward-request ${attribute} buffer-response="false" />\n</backend></policies>`,
      );
      expect(error.message).toContain(`line 3: forward-request ${names}`);
      expect(error.message).toMatch(
        /Allowed: timeout(-ms)?="\d+" \(a whole number of (seconds|milliseconds), 1 to \d+: the longest a timer can wait is 2147483647 ms\)/,
      );
    });
  }

  it('forward-request timeouts a timer can hold still load', () => {
    const timeout = (attribute: string) =>
      load(`<policies><backend><forward-request ${attribute} /></backend></policies>`).timeoutMs;
    expect(timeout('timeout="1"')).toBe(1000);
    expect(timeout('timeout="2147483"')).toBe(2_147_483_000);
    expect(timeout('timeout-ms="2147483647"')).toBe(2 ** 31 - 1);
    expect(timeout('timeout-ms="300"')).toBe(300);
  });

  it(`a retry condition of more than ${MAX_CONDITION_TERMS} terms is refused naming the limit, its text cut short; ${MAX_CONDITION_TERMS} terms still load and evaluate`, () => {
    for (const count of [MAX_CONDITION_TERMS + 1, 10_000, 12_000]) {
      for (const op of ['||', '&amp;&amp;']) {
        const error = refusal(retry(`@(${Array.from({ length: count }, () => term(500)).join(` ${op} `)})`));
        expect(error.message).toContain(`cannot be evaluated locally (more than ${MAX_CONDITION_TERMS} terms)`);
        expect(error.message).toMatch(/… \(\d+ characters\)/);
        expect(error.message.length).toBeLessThan(1000);
        expect(error.message).toContain(`at most ${MAX_CONDITION_TERMS} terms`);
      }
    }
    const terms = Array.from({ length: MAX_CONDITION_TERMS }, (_, i) => term(400 + i));
    const any = load(retry(`@(${terms.join(' || ')})`)).retry!.condition;
    const all = load(retry(`@(${terms.map((t, i) => (i === 0 ? t : t.replace('==', '!='))).join(' &amp;&amp; ')})`))
      .retry!.condition;
    expect(any({ statusCode: 400 + MAX_CONDITION_TERMS - 1, statusReason: '' })).toBe(true);
    expect(any({ statusCode: 200, statusReason: '' })).toBe(false);
    expect(all({ statusCode: 400, statusReason: '' })).toBe(true);
    expect(all({ statusCode: 401, statusReason: '' })).toBe(false);
  });

  it('the real gateway on 127.0.0.1: a 1000-term condition retries; a header Node refuses at run time is a 500 that leaves the gateway serving', async () => {
    let calls = 0;
    const backend = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        calls++;
        res.writeHead(calls === 1 ? 503 : 200, { 'content-type': 'application/json' }).end('{"ok":true}');
      });
    });
    await new Promise<void>((resolve) => backend.listen(0, '127.0.0.1', resolve));
    const backendUrl = `http://127.0.0.1:${(backend.address() as AddressInfo).port}`;
    const terms = Array.from({ length: MAX_CONDITION_TERMS }, (_, i) =>
      term(i === MAX_CONDITION_TERMS - 1 ? 503 : 1000 + i),
    );
    const policy = load(
      `<policies><backend><retry condition="@(${terms.join(' || ')})" count="1" interval="0"><forward-request timeout="10" /></retry></backend></policies>`,
    );
    const post = (url: string) =>
      fetch(`${url}/openai/deployments/d/chat/completions?api-version=2024-10-21`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{}',
        signal: AbortSignal.timeout(10_000),
      });
    const retrying = await createGateway({ policy, backendUrl, host: '127.0.0.1', port: 0 });
    // A value only a run-time computation could give (the policy's own are checked at start).
    const computed = await createGateway({
      policy: {
        ...load('<policies />'),
        outboundHeaders: [{ name: 'x-computed', existsAction: 'override', values: ['a\r\nb'] }],
      },
      backendUrl,
      host: '127.0.0.1',
      port: 0,
    });
    try {
      const retried = await post(retrying.url);
      expect(retried.status).toBe(200);
      expect(await retried.text()).toBe('{"ok":true}');
      expect(calls).toBe(2);
      expect(retrying.stats.retried).toBe(1);

      const refused = await post(computed.url);
      expect(refused.status).toBe(500);
      expect(await refused.json()).toEqual({
        statusCode: 500,
        message: expect.stringMatching(/^Gateway failure: Invalid character in header content \["x-computed"\]/),
      });
      const again = await post(computed.url);
      expect(again.status).toBe(500);
      await again.text();
      expect((await fetch(`${computed.url}${GATEWAY_HEALTH_PATH}`)).status).toBe(200);
    } finally {
      await retrying.close();
      await computed.close();
      await new Promise((resolve) => backend.close(resolve));
    }
  });

  it('the gateway CLI exits 2 on each, naming it, with no stack trace and before it listens', () => {
    const cases: Array<[string, string]> = [
      [setHeader('outbound', 'name="x y"'), 'set-header name "x y" is not an HTTP header name'],
      [
        setHeader('outbound', 'name="transfer-encoding"'),
        'set-header name "transfer-encoding" is a framing (hop-by-hop) header',
      ],
      [
        '<policies><backend><forward-request timeout="99999999" /></backend></policies>',
        'forward-request timeout "99999999" is not a number of seconds from 1 to 2147483',
      ],
      [
        retry(`@(${Array.from({ length: 10_000 }, () => term(500)).join(' || ')})`),
        `(more than ${MAX_CONDITION_TERMS} terms)`,
      ],
    ];
    for (const [xml, names] of cases) {
      const file = join(dir, `cli-${++files}.xml`);
      writeFileSync(file, xml);
      const result = spawnSync(
        process.execPath,
        ['stand-ins/apim/cli.ts', '--port', '0', '--backend', 'http://127.0.0.1:9', '--policy', file],
        { encoding: 'utf8', timeout: 20_000 },
      );
      expect(result.status).toBe(2);
      expect(result.stderr).toContain('Failed to read option "--policy"');
      expect(result.stderr).toContain(names);
      expect(result.stderr).not.toMatch(/\n\s+at /);
      expect(result.stdout).not.toContain('listening');
    }
  });
});
