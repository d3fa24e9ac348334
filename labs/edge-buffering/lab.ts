import {
  defineLab,
  describeShift,
  type BenchSummary,
  type ComplianceReport,
  type LabContext,
  type PathComparison,
} from '../../src/index.ts';

/** The two edges the lab starts locally in front of the streaming gateway. */
const EDGES = [
  { name: 'streaming-safe', edge: 'nginx', what: 'nginx with HTTP/1.1 to the gateway and proxy_buffering off' },
  {
    name: 'buffered',
    edge: 'nginx:buffered',
    what: 'nginx as installed: proxy_buffering on, HTTP/1.0 upstream, X-Accel-Buffering ignored',
  },
] as const;

// --stamp: the mock stamps its frames, so each hop's added per-frame delivery delay is measured too.
// --concurrency 3, one per path: a closed loop's batches then line up with the interleaved rounds (at 4 the middle path takes one launch slot more often).
const BENCH = [
  '--api',
  'chat',
  '--stream',
  'on',
  '--max-tokens',
  '160',
  '--requests',
  '8',
  '--concurrency',
  '3',
  '--warmup',
  '1',
  '--stamp',
];
const CHECKS = 'incremental-delivery,done-terminator';

/** The hop comparison of `path` over the path inside it, for one metric. */
function hopOf(summary: BenchSummary, path: string, metric: PathComparison['metric']): PathComparison | undefined {
  return summary.comparisons.find(
    (c): c is PathComparison =>
      c.kind === 'path-overhead' && c.metric === metric && c.stream && c.path === path && c.hop === 'hop',
  );
}

/** One edge: bench the chain and verify it hop by hop; the sentence says which hop breaks what and what each hop costs. */
async function measure(
  lab: LabContext,
  name: string,
  what: string,
  facts: Record<string, number | string | boolean>,
  shifts: Map<string, PathComparison>,
): Promise<string> {
  const summary = await lab.bench(`bench-${name}`, BENCH);
  const report: ComplianceReport = await lab.verify(`verify-${name}`, ['--checks', CHECKS, '--api', 'chat']);
  const [, ...hops] = lab.chain();
  const broken = Object.entries(report.firstFailingHop ?? {});
  facts[`${name}.verdict`] = report.verdict;
  facts[`${name}.firstFailingHop`] = broken.map(([id, hop]) => `${id}@${hop}`).join(',') || 'none';
  const costs: string[] = [];
  for (const hop of hops) {
    for (const [metric, key, what] of [
      ['ttftMs', 'Ttft', 'to time to first token'],
      ['deliveryMs', 'Delivery', "to each frame's delivery"],
    ] as const) {
      const shift = hopOf(summary, hop, metric);
      if (!shift) continue;
      facts[`${name}.${hop}${key}ShiftMs`] = Math.round(shift.medianDifferenceMs.estimate * 10) / 10;
      facts[`${name}.${hop}${key}Verdict`] = shift.verdict;
      shifts.set(`${name}.${hop}${key}`, shift);
      costs.push(describeShift(shift.medianDifferenceMs, `the ${hop} hop`, what, shift.baseline));
    }
  }
  const where =
    broken.length === 0
      ? 'every hop passes'
      : broken
          .map(
            ([id, hop]) =>
              `${id} first fails at the ${hop} (${hops.slice(0, hops.indexOf(hop)).join(', ') || 'nothing'} inside it passes)`,
          )
          .join('; ');
  return `${name[0]!.toUpperCase()}${name.slice(1)} edge (${what}): compliance ${report.verdict}, ${where}; ${costs.join('; ') || 'no paired comparison'}.`;
}

/** The same streaming gateway behind an edge that streams and one that buffers: which hop holds the first token back. */
export default defineLab({
  name: 'edge-buffering',
  title: 'Edge buffering: which hop holds the stream back',
  mockArgs: ['--itl-ms', '8', '--output-tokens', '256'],
  async run(lab) {
    const facts: Record<string, number | string | boolean> = {};
    const sentences: string[] = [];
    if (lab.target === 'azure') {
      // On Azure the edge is the user's (Application Gateway, Front Door, an ingress): the lab measures the one recorded.
      const chain = lab.chain();
      if (chain.length < 3) {
        facts['azure.verdict'] = 'not run';
        return {
          finding: `Not run on Azure: the lab records no edge in front of APIM. Put yours there and record it with npm run lab:deploy -- --target azure --edge-url URL (its key, if any, in the variable --edge-key-env names), then run the lab again.`,
          facts,
        };
      }
      sentences.push(await measure(lab, 'azure', 'your edge in front of APIM', facts, new Map()));
      return { finding: sentences.join('\n'), facts };
    }
    const shifts = new Map<string, PathComparison>();
    for (const edge of EDGES) {
      await lab.deploy('streaming', { edge: edge.edge });
      sentences.push(await measure(lab, edge.name, edge.what, facts, shifts));
    }
    // The answer to "which hop is doing it?", in one sentence, only when the measurements say so.
    if (
      facts['buffered.firstFailingHop'] === 'incremental-delivery@edge' &&
      facts['buffered.edgeDeliveryVerdict'] === 'adds'
    ) {
      const ttft = shifts.get('buffered.edgeTtft');
      const firstToken =
        ttft?.verdict === 'adds'
          ? `; it delays the first token too: ${describeShift(ttft.medianDifferenceMs, 'it', 'to time to first token', 'gateway')}`
          : '';
      sentences.push(
        `So the edge, not APIM, holds the stream back: ${describeShift(shifts.get('buffered.edgeDelivery')!.medianDifferenceMs, 'behind the buffered edge it', "to each frame's delivery", 'gateway')}, and the gateway inside it streams${firstToken}.`,
      );
    }
    return { finding: sentences.join('\n'), facts };
  },
});
