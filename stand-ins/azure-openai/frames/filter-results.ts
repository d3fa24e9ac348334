/** Azure content-filter annotations, as current deployments emit them. */

const SAFE = { filtered: false, severity: 'safe' };

export function promptFilterResults(): unknown[] {
  return [
    {
      prompt_index: 0,
      content_filter_results: {
        hate: SAFE,
        jailbreak: { detected: false, filtered: false },
        self_harm: SAFE,
        sexual: SAFE,
        violence: SAFE,
      },
    },
  ];
}

export function completionFilterResults(): Record<string, unknown> {
  return {
    hate: SAFE,
    protected_material_code: { detected: false, filtered: false },
    protected_material_text: { detected: false, filtered: false },
    self_harm: SAFE,
    sexual: SAFE,
    violence: SAFE,
  };
}
