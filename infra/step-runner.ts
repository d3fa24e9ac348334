/** A step's state as the task list shows it. `resumed` = finished by an earlier run. */
export type StepStatus = 'pending' | 'running' | 'done' | 'resumed' | 'failed' | 'blocked';

export interface StepEvent {
  id: string;
  title: string;
  status: StepStatus;
  elapsedMs: number;
  detail?: string;
}

export interface StepDefinition<Id extends string, Context, Result> {
  id: Id;
  title: string;
  needs: readonly Id[];
  run(context: Context): Promise<Result>;
}

export interface StepFailure<Id extends string> {
  id: Id;
  error: unknown;
}

export interface RunStepsHooks<Id extends string, Result> {
  /** Called once per step as it finishes, before any step that needs it starts. */
  onDone(id: Id, result: Result): void;
  onEvent(event: StepEvent): void;
  describeError(error: unknown): string;
  signal?: AbortSignal;
}

/**
 * Runs steps as soon as what they need is done, concurrently, in the order given (list the
 * longest chain first so it starts first). A failed step blocks only the steps that need it:
 * the others go on, so a re-run has less left to do. Returns the failures (empty when all
 * went well); never starts a step after the signal aborts.
 */
export async function runSteps<Id extends string, Context, Result>(
  steps: ReadonlyArray<StepDefinition<Id, Context, Result>>,
  alreadyDone: ReadonlySet<Id>,
  context: Context,
  hooks: RunStepsHooks<Id, Result>,
): Promise<Array<StepFailure<Id>>> {
  const done = new Set<Id>(alreadyDone);
  const failed = new Set<Id>();
  const failures: Array<StepFailure<Id>> = [];
  const running = new Map<Id, Promise<void>>();
  for (const step of steps)
    hooks.onEvent({ id: step.id, title: step.title, status: done.has(step.id) ? 'resumed' : 'pending', elapsedMs: 0 });

  const isBlocked = (step: StepDefinition<Id, Context, Result>): boolean => step.needs.some((need) => failed.has(need));
  const start = (step: StepDefinition<Id, Context, Result>): void => {
    const startedAt = performance.now();
    const elapsed = (): number => performance.now() - startedAt;
    hooks.onEvent({ id: step.id, title: step.title, status: 'running', elapsedMs: 0 });
    const settled = step.run(context).then(
      (result) => {
        done.add(step.id);
        hooks.onDone(step.id, result);
        hooks.onEvent({ id: step.id, title: step.title, status: 'done', elapsedMs: elapsed() });
      },
      (error: unknown) => {
        failed.add(step.id);
        failures.push({ id: step.id, error });
        hooks.onEvent({
          id: step.id,
          title: step.title,
          status: 'failed',
          elapsedMs: elapsed(),
          detail: hooks.describeError(error),
        });
      },
    );
    running.set(
      step.id,
      settled.finally(() => running.delete(step.id)),
    );
  };

  for (;;) {
    if (!hooks.signal?.aborted) {
      for (const step of steps) {
        if (done.has(step.id) || failed.has(step.id) || running.has(step.id)) continue;
        if (isBlocked(step)) {
          failed.add(step.id);
          hooks.onEvent({
            id: step.id,
            title: step.title,
            status: 'blocked',
            elapsedMs: 0,
            detail: `needs ${step.needs.filter((n) => failed.has(n)).join(', ')}`,
          });
          continue;
        }
        if (step.needs.every((need) => done.has(need))) start(step);
      }
    }
    if (running.size === 0) break;
    await Promise.race(running.values());
  }
  return failures;
}
