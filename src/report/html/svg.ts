/**
 * Hand-drawn SVG charts: the report must open offline, so no chart library is fetched or
 * inlined. Colours come from CSS classes (`c0`…`c7`) so that the page's light and dark
 * themes restyle them; every data mark has the class `data` (the browser test counts them).
 */

export type Point = readonly [number, number];

export interface Series {
  name: string;
  points: readonly Point[];
  /** line: straight segments; step: a staircase (CDFs, token counts); points: markers only. */
  style: 'line' | 'step' | 'points' | 'line-points';
  color: number;
  dashed?: boolean;
  /** One hover text per point (SVG <title>), for markers. */
  labels?: readonly string[];
}

export interface XYChart {
  id: string;
  title: string;
  xLabel: string;
  yLabel: string;
  xLog?: boolean;
  /** Start a linear x axis at zero (default); CDFs start at their smallest value instead. */
  xFromZero?: boolean;
  /** Fix the y axis (CDFs: 0..1 as percent). */
  yDomain?: readonly [number, number];
  yFormat?: (v: number) => string;
  series: readonly Series[];
}

export interface BarChart {
  id: string;
  title: string;
  xLabel: string;
  categories: readonly string[];
  stacks: ReadonlyArray<{ name: string; color: number; values: readonly number[] }>;
}

const WIDTH = 640;
const M = { left: 64, right: 16, top: 12, bottom: 44 };

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

const fixed = (v: number): string => (Math.round(v * 10) / 10).toString();

/** 1,234 / 12.5 / 0.25: enough digits for a tick, thousands separated. */
export function formatNumber(v: number): string {
  const a = Math.abs(v);
  if (a >= 1000) return Math.round(v).toLocaleString('en-US');
  if (a >= 10) return (Math.round(v * 10) / 10).toString();
  if (a >= 1) return (Math.round(v * 100) / 100).toString();
  return Number(v.toPrecision(2)).toString();
}

/** "Nice" linear ticks (steps of 1, 2 or 5 × 10^k) covering [min, max]. */
export function linearTicks(min: number, max: number, count = 5): number[] {
  if (!(max > min)) return [min];
  const raw = (max - min) / count;
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * power).find((s) => s >= raw) ?? 10 * power;
  const ticks: number[] = [];
  for (let t = Math.ceil(min / step) * step; t <= max + step * 1e-9; t += step) ticks.push(Math.round(t / step) * step);
  return ticks;
}

/** Decades, with 2 and 5 between them when the range spans few decades. */
export function logTicks(min: number, max: number): number[] {
  const ticks: number[] = [];
  const span = Math.log10(max / min);
  const steps = span <= 2 ? [1, 2, 5] : [1];
  for (let e = Math.floor(Math.log10(min)); e <= Math.ceil(Math.log10(max)); e++) {
    for (const m of steps) {
      const t = m * 10 ** e;
      if (t >= min * 0.999 && t <= max * 1.001) ticks.push(t);
    }
  }
  return ticks;
}

interface Axis {
  toPx: (v: number) => number;
  ticks: number[];
}

function axis(
  values: readonly number[],
  fromPx: number,
  toPx: number,
  log: boolean,
  fixedDomain?: readonly [number, number],
  fromZero = true,
): Axis {
  let [min, max] = fixedDomain ?? [Math.min(...values), Math.max(...values)];
  if (log) {
    min = Math.max(min, 1e-3);
    max = Math.max(max, min * 10);
    const lo = Math.log10(min);
    const hi = Math.log10(max);
    return {
      toPx: (v) => fromPx + ((Math.log10(Math.max(v, min)) - lo) / (hi - lo)) * (toPx - fromPx),
      ticks: logTicks(min, max),
    };
  }
  if (!fixedDomain) {
    const pad = Math.max((max - min) * 0.05, Math.abs(max) * 0.01, 1e-3);
    min = fromZero ? Math.min(0, min) : min - pad;
    max = max + pad;
  }
  const ticks = linearTicks(min, max);
  return { toPx: (v) => fromPx + ((v - min) / (max - min)) * (toPx - fromPx), ticks };
}

function pathOf(points: readonly Point[], style: Series['style'], x: Axis, y: Axis): string {
  let d = '';
  points.forEach(([px, py], i) => {
    const sx = fixed(x.toPx(px));
    const sy = fixed(y.toPx(py));
    if (i === 0) d += `M${sx} ${sy}`;
    else if (style === 'step') d += `H${sx}V${sy}`;
    else d += `L${sx} ${sy}`;
  });
  return d;
}

function frame(chart: { id: string; title: string }, width: number, height: number, body: string): string {
  return `<svg class="chart" id="${escapeHtml(chart.id)}" viewBox="0 0 ${width} ${height}" role="img" aria-labelledby="${escapeHtml(chart.id)}-title"><title id="${escapeHtml(chart.id)}-title">${escapeHtml(chart.title)}</title>${body}</svg>`;
}

/**
 * A line/step/marker chart with axes, grid and unit-carrying axis labels. Small multiples
 * get a narrower view box rather than a scaled-down one, so their text stays readable.
 */
export function renderXY(
  chart: XYChart,
  size: { width: number; height: number } = { width: WIDTH, height: 300 },
): string {
  const { width: W, height } = size;
  const shown = chart.series.filter((s) => s.points.length > 0);
  const xs = shown.flatMap((s) => s.points.map((p) => p[0]));
  const ys = shown.flatMap((s) => s.points.map((p) => p[1]));
  if (xs.length === 0) return '';
  const x = axis(xs, M.left, W - M.right, chart.xLog === true, undefined, chart.xFromZero !== false);
  const y = axis(ys, height - M.bottom, M.top, false, chart.yDomain);
  const yFormat = chart.yFormat ?? formatNumber;
  const grid = [
    ...y.ticks.map(
      (t) =>
        `<line class="grid" x1="${M.left}" x2="${W - M.right}" y1="${fixed(y.toPx(t))}" y2="${fixed(y.toPx(t))}"/><text class="tick" x="${M.left - 6}" y="${fixed(y.toPx(t) + 4)}" text-anchor="end">${escapeHtml(yFormat(t))}</text>`,
    ),
    ...x.ticks.map(
      (t) =>
        `<line class="grid" x1="${fixed(x.toPx(t))}" x2="${fixed(x.toPx(t))}" y1="${M.top}" y2="${height - M.bottom}"/><text class="tick" x="${fixed(x.toPx(t))}" y="${height - M.bottom + 16}" text-anchor="middle">${escapeHtml(formatNumber(t))}</text>`,
    ),
  ].join('');
  const labels = `<text class="axis-label" x="${(M.left + W - M.right) / 2}" y="${height - 6}" text-anchor="middle">${escapeHtml(chart.xLabel)}</text><text class="axis-label" transform="translate(14 ${(M.top + height - M.bottom) / 2}) rotate(-90)" text-anchor="middle">${escapeHtml(chart.yLabel)}</text>`;
  const marks = shown
    .map((s) => {
      const cls = `c${s.color % 8}${s.dashed ? ' dashed' : ''}`;
      const line =
        s.style === 'points'
          ? ''
          : `<path class="data line ${cls}" d="${pathOf(s.points, s.style, x, y)}"><title>${escapeHtml(s.name)}</title></path>`;
      const dots =
        s.style === 'points' || s.style === 'line-points'
          ? s.points
              .map(
                (p, i) =>
                  `<circle class="data dot ${cls}" cx="${fixed(x.toPx(p[0]))}" cy="${fixed(y.toPx(p[1]))}" r="4"><title>${escapeHtml(s.labels?.[i] ?? `${s.name}: ${formatNumber(p[1])}`)}</title></circle>`,
              )
              .join('')
          : '';
      return `<g>${line}${dots}</g>`;
    })
    .join('');
  const axes = `<line class="axis" x1="${M.left}" x2="${M.left}" y1="${M.top}" y2="${height - M.bottom}"/><line class="axis" x1="${M.left}" x2="${W - M.right}" y1="${height - M.bottom}" y2="${height - M.bottom}"/>`;
  return frame(chart, W, height, `${grid}${axes}${labels}${marks}`);
}

/** Horizontal stacked bars, one per category (errors by outcome per scenario). */
export function renderStackedBars(chart: BarChart): string {
  const W = WIDTH;
  const rowPx = 22;
  const labelPx = 230;
  const height = M.top + chart.categories.length * rowPx + M.bottom;
  const totals = chart.categories.map((_, i) => chart.stacks.reduce((sum, s) => sum + (s.values[i] ?? 0), 0));
  const x = axis([0, ...totals], labelPx, W - M.right, false);
  const rows = chart.categories
    .map((name, i) => {
      const yTop = M.top + i * rowPx;
      let offset = 0;
      const segments = chart.stacks
        .map((s) => {
          const value = s.values[i] ?? 0;
          if (value <= 0) return '';
          const x0 = x.toPx(offset);
          offset += value;
          return `<rect class="data bar c${s.color % 8}" x="${fixed(x0)}" y="${yTop + 3}" width="${fixed(Math.max(1, x.toPx(offset) - x0))}" height="${rowPx - 6}"><title>${escapeHtml(`${name}: ${value} ${s.name}`)}</title></rect>`;
        })
        .join('');
      return `<text class="tick" x="${labelPx - 6}" y="${yTop + rowPx / 2 + 4}" text-anchor="end">${escapeHtml(name)}</text>${segments}`;
    })
    .join('');
  const ticks = x.ticks
    .map(
      (t) =>
        `<line class="grid" x1="${fixed(x.toPx(t))}" x2="${fixed(x.toPx(t))}" y1="${M.top}" y2="${height - M.bottom}"/><text class="tick" x="${fixed(x.toPx(t))}" y="${height - M.bottom + 16}" text-anchor="middle">${formatNumber(t)}</text>`,
    )
    .join('');
  const label = `<text class="axis-label" x="${(labelPx + W - M.right) / 2}" y="${height - 6}" text-anchor="middle">${escapeHtml(chart.xLabel)}</text>`;
  return frame(chart, W, height, `${ticks}${rows}${label}`);
}

/** The legend as HTML (wraps on narrow screens, unlike SVG text). */
export function renderLegend(series: ReadonlyArray<{ name: string; color: number; dashed?: boolean }>): string {
  return `<ul class="legend">${series.map((s) => `<li><span class="swatch c${s.color % 8}${s.dashed ? ' dashed' : ''}"></span>${escapeHtml(s.name)}</li>`).join('')}</ul>`;
}
