/** `256 ms`, `2,331 ms`, `8.4 ms`: how every sentence the tool prints writes a duration. */
export const formatMs = (value: number): string =>
  `${value >= 100 ? Math.round(value).toLocaleString('en-US') : value.toFixed(1)} ms`;
