import type { StepEvent } from '../lab/azure-lab.ts';

const MARK: Record<StepEvent['status'], string> = {
  pending: '·',
  running: '…',
  done: '✓',
  resumed: '✓',
  failed: '✗',
  blocked: '-',
};

export function formatElapsed(ms: number): string {
  const seconds = Math.round(ms / 1000);
  if (seconds < 60) return `${seconds}s`;
  return `${Math.floor(seconds / 60)}m${String(seconds % 60).padStart(2, '0')}s`;
}

function line(event: StepEvent, now: number, startedAt: number | undefined): string {
  const elapsed = event.status === 'running' && startedAt !== undefined ? now - startedAt : event.elapsedMs;
  const time =
    event.status === 'running' || event.status === 'done' || event.status === 'failed' ? formatElapsed(elapsed) : '';
  const status = event.status === 'resumed' ? 'done earlier' : event.status;
  return `  ${MARK[event.status]} ${event.title.padEnd(40)} ${status.padEnd(12)} ${time.padStart(6)}${event.detail ? `  ${event.detail}` : ''}`;
}

/**
 * The deploy's task list on stderr: on a terminal, one line per step redrawn in place every
 * second (state and elapsed time); elsewhere (CI, a pipe), one line per change of state.
 */
export function createTaskList(stream: NodeJS.WriteStream = process.stderr): {
  onEvent(event: StepEvent): void;
  onNote(note: string): void;
  stop(): void;
} {
  const steps = new Map<string, StepEvent>();
  const started = new Map<string, number>();
  let drawnLines = 0;
  const interactive = stream.isTTY === true;
  const draw = (): void => {
    const now = performance.now();
    const lines = [...steps.values()].map((e) => line(e, now, started.get(e.id)));
    stream.write(`${drawnLines > 0 ? `\x1b[${drawnLines}A` : ''}${lines.map((l) => `\x1b[2K${l}`).join('\n')}\n`);
    drawnLines = lines.length;
  };
  const timer = interactive ? setInterval(draw, 1000) : undefined;
  timer?.unref();
  return {
    onEvent(event) {
      if (event.status === 'running') started.set(event.id, performance.now());
      steps.set(event.id, event);
      if (interactive) draw();
      else if (event.status !== 'pending') stream.write(`${line(event, performance.now(), started.get(event.id))}\n`);
    },
    onNote(note) {
      stream.write(`note: ${note}\n`);
      drawnLines = 0;
    },
    stop() {
      if (timer) clearInterval(timer);
      if (interactive && steps.size > 0) draw();
    },
  };
}
