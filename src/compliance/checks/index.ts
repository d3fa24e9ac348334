import type { Check } from '../check-kit.ts';
import { LINT_CHECKS } from '../lint/policy-lint.ts';
import { clientDisconnect } from './client-disconnect.ts';
import { concurrentStreams } from './concurrent-streams.ts';
import { contentType } from './content-type.ts';
import { doneTerminator } from './done-terminator.ts';
import { errorPassthrough } from './error-passthrough.ts';
import { frameIntegrity } from './frame-integrity.ts';
import { headersPassthrough } from './headers-passthrough.ts';
import { idleGap } from './idle-gap.ts';
import { incrementalDelivery } from './incremental-delivery.ts';
import { keepaliveComments } from './keepalive-comments.ts';
import { namedEvents } from './named-events.ts';
import { noBufferingHeaders } from './no-buffering-headers.ts';
import { noCompression } from './no-compression.ts';
import { noContentLength } from './no-content-length.ts';
import { ttftOverhead } from './ttft-overhead.ts';
import { usageChunk } from './usage-chunk.ts';

/** Every check, in the order reports list them: dynamic probes first, then static lint. */
export const ALL_CHECKS: readonly Check[] = [
  contentType,
  noContentLength,
  noBufferingHeaders,
  noCompression,
  incrementalDelivery,
  ttftOverhead,
  frameIntegrity,
  doneTerminator,
  usageChunk,
  namedEvents,
  keepaliveComments,
  idleGap,
  clientDisconnect,
  concurrentStreams,
  headersPassthrough,
  errorPassthrough,
  ...LINT_CHECKS,
];

export const CHECK_IDS: readonly string[] = ALL_CHECKS.map((c) => c.id);
