import { describe, expect, it } from 'vitest';
import { describeArmFailure, readArmError } from '../../infra/arm-errors.ts';
import { newLabId, planAzureLab } from '../../infra/azure-plan.ts';
import { callerFromToken } from '../../infra/preflight.ts';
import { roleAssignmentName } from '../../infra/role-name.ts';
import { runSteps, type StepEvent } from '../../infra/step-runner.ts';

describe('role assignment names', () => {
  it('are UUID v5: the same grant gives the same name, another grant another name', () => {
    const a = roleAssignmentName('subscriptions/s/resourceGroups/rg/providers/X/accounts/a', 'p1', '/role/1');
    expect(a).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(roleAssignmentName('subscriptions/s/resourceGroups/rg/providers/X/accounts/a', 'p1', '/role/1')).toBe(a);
    expect(roleAssignmentName('SUBSCRIPTIONS/s/resourceGroups/rg/providers/X/accounts/a', 'P1', '/role/1')).toBe(a);
    expect(roleAssignmentName('subscriptions/s/resourceGroups/rg/providers/X/accounts/a', 'p2', '/role/1')).not.toBe(a);
  });
});

describe('ARM errors', () => {
  it('reads a RestError and a failed long-running operation alike, with the fix', () => {
    expect(
      readArmError(Object.assign(new Error('quota exceeded'), { code: 'InsufficientQuota', statusCode: 400 })),
    ).toEqual({ code: 'InsufficientQuota', statusCode: 400, message: 'quota exceeded' });
    expect(
      readArmError(new Error('The long-running operation has failed. ActivationFailed. Could not activate')),
    ).toEqual({ code: 'ActivationFailed', statusCode: undefined, message: 'Could not activate' });
    expect(readArmError(new Error('The long-running operation has failed'))).toMatchObject({ code: 'OperationFailed' });
    expect(
      describeArmFailure(Object.assign(new Error('x'), { code: 'FlagMustBeSetForRestore', statusCode: 409 })),
    ).toMatch(/^FlagMustBeSetForRestore \(HTTP 409\): x\. Fix: .*az cognitiveservices account purge/);
  });
});

describe('the plan and the caller', () => {
  it('names every resource from the lab id, within Azure naming rules', () => {
    const id = newLabId();
    expect(id).toMatch(/^sl[a-z0-9]{7}$/);
    const record = planAzureLab({
      subscriptionId: 's',
      location: 'eastus2',
      labId: id,
      model: 'm',
      modelVersion: 'v',
      modelSku: 'GlobalStandard',
      capacityK: 1,
      apimSku: 'BasicV2',
      forceConsumption: false,
      publisherEmail: 'a@b.c',
      localAuth: false,
      roles: 'assign',
      whatIf: false,
    });
    expect(record.apimService).toMatch(/^[a-zA-Z](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?$/);
    expect(record.apimService.length).toBeLessThanOrEqual(50);
    expect(record.openaiAccount).toMatch(/^[a-z0-9][a-z0-9-]{1,62}[a-z0-9]$/);
    expect(record.resourceGroup).toBe(`rg-streamlab-${id}`);
  });

  it('reads the principal from the token, and copes with a token that is not a JWT', () => {
    const claims = Buffer.from(JSON.stringify({ oid: 'o1', idtyp: 'app' })).toString('base64url');
    expect(callerFromToken(`h.${claims}.s`)).toEqual({ principalId: 'o1', principalType: 'ServicePrincipal' });
    expect(callerFromToken('opaque')).toEqual({ principalId: undefined, principalType: 'User' });
  });
});

describe('runSteps', () => {
  const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));
  it('runs independent steps at once, blocks only what needs a failed step, and records each as it ends', async () => {
    const order: string[] = [];
    const step = (id: string, needs: string[], ms: number, fail = false) => ({
      id,
      title: id,
      needs,
      run: async () => {
        order.push(`start ${id}`);
        await wait(ms);
        if (fail) throw new Error(`${id} broke`);
        order.push(`end ${id}`);
        return id;
      },
    });
    const events: StepEvent[] = [];
    const done: string[] = [];
    const failures = await runSteps(
      [
        step('a', [], 5),
        step('slow', ['a'], 150),
        step('b', ['a'], 5, true),
        step('c', ['b'], 5),
        step('d', ['a'], 5),
        step('e', ['slow'], 5),
      ],
      new Set(),
      {},
      { onDone: (id) => done.push(id), onEvent: (e) => events.push(e), describeError: (e) => (e as Error).message },
    );
    expect(failures.map((f) => f.id)).toEqual(['b']);
    expect(order.slice(0, 4)).toEqual(['start a', 'end a', 'start slow', 'start b']);
    expect(done).toEqual(['a', 'd', 'slow', 'e']);
    expect(events.find((e) => e.id === 'c' && e.status === 'blocked')?.detail).toBe('needs b');
    expect(events.find((e) => e.id === 'b' && e.status === 'failed')?.detail).toBe('b broke');
  });

  it('skips steps already done and starts nothing after an abort', async () => {
    const abort = new AbortController();
    const ran: string[] = [];
    const failures = await runSteps(
      [
        { id: 'a', title: 'a', needs: [], run: async () => void ran.push('a') },
        {
          id: 'b',
          title: 'b',
          needs: ['a'],
          run: async () => {
            ran.push('b');
            abort.abort();
          },
        },
        { id: 'c', title: 'c', needs: ['b'], run: async () => void ran.push('c') },
      ],
      new Set(['a']),
      {},
      { onDone: () => {}, onEvent: () => {}, describeError: String, signal: abort.signal },
    );
    expect(ran).toEqual(['b']);
    expect(failures).toEqual([]);
  });
});
