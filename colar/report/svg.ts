// Hand-written SVG charts for the reproduction report: a line chart (training curves) and a
// scatter chart with two-way error bars (accuracy vs chain length, the paper's Fig. 1). No
// plotting library, so the report renders anywhere Node runs. Output is deterministic: the same
// input gives the same bytes (coordinates rounded to 0.1 px, no ids, no timestamps).

export type Point = [x: number, y: number | null];

export interface LineSeries {
  name: string;
  /** a point whose x or y is null, NaN, ±Infinity or beyond ±1e300 (or y ≤ 0 on a log axis) is a gap */
  points: Point[];
}

export interface LineChartOptions {
  title: string;
  xLabel: string;
  yLabel: string;
  series: LineSeries[];
  width?: number;
  height?: number;
  logY?: boolean;
}

export interface ScatterPoint {
  label: string;
  x: number;
  y: number;
  /** half-widths of the error bars; a bar is drawn only when its error is finite and > 0 */
  xErr?: number;
  yErr?: number;
  group: string;
}

export interface ScatterChartOptions {
  title: string;
  xLabel: string;
  yLabel: string;
  points: ScatterPoint[];
  width?: number;
  height?: number;
}

export const DEFAULT_CHART_WIDTH = 640;
export const DEFAULT_CHART_HEIGHT = 360;

// Okabe–Ito: distinguishable under the common colour-vision deficiencies; yellow last, it is faint.
const PALETTE = ['#0072B2', '#D55E00', '#009E73', '#CC79A7', '#E69F00', '#56B4E9', '#000000', '#F0E442'];
const GRID_COLOUR = '#e6e6e6';
const AXIS_COLOUR = '#333333';
const FONT_SIZE = 12;
const LABEL_FONT_SIZE = 11;
// No font metrics without a renderer: text width is estimated from the character count.
const CHAR_WIDTH = 0.6;
const TARGET_TICKS = 5;

// ---------------------------------------------------------------------------------------------
// XML text

export function escapeXml(text: string): string {
  return text
    // control characters other than tab and newlines are not allowed in XML 1.0, even escaped
    .replace(/[\x00-\x08\x0B\x0C\x0E-\x1F]/g, '')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;');
}

type Attributes = Record<string, string | number>;

/** Coordinates to 0.1 px: finer is invisible, and fixed rounding keeps the output byte-stable. */
function coordinate(value: number): string {
  const rounded = Math.round(value * 10) / 10;
  return (rounded === 0 ? 0 : rounded).toString();
}

function element(tag: string, attributes: Attributes, ...children: string[]): string {
  const attributeText = Object.entries(attributes)
    .map(([name, value]) => ` ${name}="${typeof value === 'number' ? coordinate(value) : escapeXml(value)}"`)
    .join('');
  return children.length === 0
    ? `<${tag}${attributeText}/>`
    : `<${tag}${attributeText}>${children.join('')}</${tag}>`;
}

function text(x: number, y: number, content: string, attributes: Attributes = {}): string {
  return element('text', { x, y, ...attributes }, escapeXml(content));
}

function estimatedTextWidth(content: string, fontSize: number): number {
  return content.length * fontSize * CHAR_WIDTH;
}

// ---------------------------------------------------------------------------------------------
// Axis ticks

export interface Ticks {
  /** tick values, ascending; the first and last bound the axis */
  values: number[];
  format(value: number): string;
}

/**
 * Values are plotted within these magnitudes, so spans, ticks and pixels stay finite in float64;
 * beyond them (a diverged loss is Infinity long before) a value counts as missing.
 */
const LARGEST_PLOTTED = 1e300;
const SMALLEST_LOG_PLOTTED = 1e-300;
/** Below this a span holds no distinct 1-2-5 ticks in float64, so it is drawn as one value. */
const SMALLEST_SPAN = 1e-250;
const RELATIVE_SPAN = 1e-9;
/** toFixed takes at most 100 decimals; ticks that fine print in exponent form. */
const MOST_FIXED_DECIMALS = 20;

const isPlottable = (value: number | null | undefined): value is number =>
  typeof value === 'number' && Number.isFinite(value) && Math.abs(value) <= LARGEST_PLOTTED;

/** Decimals needed to print multiples of `step` exactly: 0.25 → 2, 20 → 0. */
function decimalsOf(step: number): number {
  return Math.max(0, -Math.floor(Math.log10(step) + 1e-9));
}

/** Snaps k·step's float error away (0.30000000000000004 → 0.3). */
function roundToDecimals(value: number, decimals: number): number {
  return decimals <= MOST_FIXED_DECIMALS ? Number(value.toFixed(decimals)) : Number(value.toPrecision(12));
}

function formatWithDecimals(value: number, decimals: number): string {
  if (decimals > MOST_FIXED_DECIMALS) return value === 0 ? '0' : Number(value.toPrecision(12)).toExponential();
  const textValue = value.toFixed(decimals);
  return Number(textValue) === 0 ? (0).toFixed(decimals) : textValue;
}

/** Widens an empty or degenerate range so an axis can still be drawn around it. */
function usableRange(low: number, high: number): [number, number] {
  if (!isPlottable(low) || !isPlottable(high)) return [0, 1];
  const magnitude = Math.max(Math.abs(low), Math.abs(high));
  if (high - low > Math.max(magnitude * RELATIVE_SPAN, SMALLEST_SPAN)) return [low, high];
  const pad = magnitude > SMALLEST_SPAN ? magnitude * 0.1 : 1;
  return [low - pad, high + pad];
}

/**
 * Ticks spaced by 1, 2 or 5 × 10^k, the smallest such step giving at most `targetIntervals`
 * intervals over [low, high]; the axis then runs from the tick at or below `low` to the tick at
 * or above `high`.
 */
export function niceTicks(low: number, high: number, targetIntervals = TARGET_TICKS): Ticks {
  const [from, to] = usableRange(low, high);
  const rawStep = (to - from) / targetIntervals;
  const magnitude = 10 ** Math.floor(Math.log10(rawStep));
  const mantissa = [1, 2, 5, 10].find((m) => m * magnitude >= rawStep * (1 - 1e-9)) ?? 10;
  const step = mantissa * magnitude;
  const decimals = decimalsOf(step);
  const first = Math.floor(from / step + 1e-9);
  const last = Math.ceil(to / step - 1e-9);
  const values: number[] = [];
  for (let k = first; k <= last; k++) values.push(roundToDecimals(k * step, decimals));
  return { values, format: (value) => formatWithDecimals(value, decimals) };
}

/**
 * Log-axis ticks: the decades enclosing [low, high] (low > 0), with 2× and 5× between them when
 * the axis spans at most two decades, where bare powers of ten would be too sparse to read, and
 * every n-th decade when it spans so many that labels would crowd.
 */
export function logTicks(low: number, high: number): Ticks {
  const valid = low >= SMALLEST_LOG_PLOTTED && high >= low && high <= LARGEST_PLOTTED;
  const [from, to] = valid ? [low, high] : [1, 10];
  const firstDecade = Math.floor(Math.log10(from) + 1e-9);
  const lastDecade = Math.max(Math.ceil(Math.log10(to) - 1e-9), firstDecade + 1);
  const decades = lastDecade - firstDecade;
  const mantissas = decades <= 2 ? [1, 2, 5] : [1];
  const decadeStep = Math.ceil(decades / (TARGET_TICKS + 3));
  const values: number[] = [];
  for (let decade = firstDecade; decade < lastDecade + decadeStep; decade += decadeStep) {
    for (const mantissa of mantissas) {
      if (decade >= lastDecade && mantissa > 1) break;
      values.push(roundToDecimals(mantissa * 10 ** decade, Math.max(0, -decade)));
    }
  }
  return { values, format: (value) => formatWithDecimals(value, decimalsOf(value)) };
}

// ---------------------------------------------------------------------------------------------
// Chart frame: title, grid, axes, ticks, axis labels and legend, shared by both charts

interface Scale {
  ticks: Ticks;
  toPixel(value: number): number;
}

function linearScale(ticks: Ticks, pixelFrom: number, pixelTo: number): Scale {
  const low = ticks.values[0]!;
  const high = ticks.values[ticks.values.length - 1]!;
  return { ticks, toPixel: (value) => pixelFrom + ((value - low) / (high - low)) * (pixelTo - pixelFrom) };
}

function logScale(ticks: Ticks, pixelFrom: number, pixelTo: number): Scale {
  const low = Math.log10(ticks.values[0]!);
  const high = Math.log10(ticks.values[ticks.values.length - 1]!);
  return {
    ticks,
    toPixel: (value) => pixelFrom + ((Math.log10(value) - low) / (high - low)) * (pixelTo - pixelFrom),
  };
}

interface PlotArea {
  left: number;
  top: number;
  right: number;
  bottom: number;
}

interface LegendEntry {
  name: string;
  colour: string;
  marker: 'line' | 'dot';
}

const MARGIN = { top: 40, left: 70, bottom: 50, right: 16 };
const LEGEND_SWATCH = 18;
const LEGEND_ROW = 18;

/** Legend names sit right of the plot, so the plot shrinks to make room for the longest. */
function plotArea(width: number, height: number, legend: LegendEntry[]): PlotArea {
  const longestName = Math.max(0, ...legend.map((entry) => estimatedTextWidth(entry.name, FONT_SIZE)));
  const legendWidth = legend.length === 0 ? 0 : LEGEND_SWATCH + 6 + longestName + 12;
  return {
    left: MARGIN.left,
    top: MARGIN.top,
    right: Math.max(MARGIN.left + 100, width - MARGIN.right - legendWidth),
    bottom: height - MARGIN.bottom,
  };
}

function frame(
  options: { title: string; xLabel: string; yLabel: string; width: number; height: number },
  area: PlotArea,
  x: Scale,
  y: Scale,
  legend: LegendEntry[],
): { background: string; foreground: string } {
  const gridLines = [
    ...x.ticks.values.map((value) => {
      const px = x.toPixel(value);
      return element('line', { x1: px, y1: area.top, x2: px, y2: area.bottom });
    }),
    ...y.ticks.values.map((value) => {
      const py = y.toPixel(value);
      return element('line', { x1: area.left, y1: py, x2: area.right, y2: py });
    }),
  ];
  const xTickLabels = x.ticks.values.map((value) =>
    text(x.toPixel(value), area.bottom + 16, x.ticks.format(value), { 'text-anchor': 'middle' }),
  );
  const yTickLabels = y.ticks.values.map((value) =>
    text(area.left - 6, y.toPixel(value) + 4, y.ticks.format(value), { 'text-anchor': 'end' }),
  );
  const middleX = (area.left + area.right) / 2;
  const middleY = (area.top + area.bottom) / 2;
  const background = [
    element('rect', { width: options.width, height: options.height, fill: 'white' }),
    element('g', { class: 'grid', stroke: GRID_COLOUR, 'stroke-width': 1 }, ...gridLines),
  ].join('');
  const foreground = [
    element('rect', {
      class: 'axes',
      x: area.left,
      y: area.top,
      width: area.right - area.left,
      height: area.bottom - area.top,
      fill: 'none',
      stroke: AXIS_COLOUR,
    }),
    element('g', { class: 'x-ticks', fill: AXIS_COLOUR }, ...xTickLabels),
    element('g', { class: 'y-ticks', fill: AXIS_COLOUR }, ...yTickLabels),
    text(options.width / 2, 24, options.title, {
      class: 'title',
      'text-anchor': 'middle',
      'font-size': 14,
      'font-weight': 'bold',
    }),
    text(middleX, options.height - 12, options.xLabel, { class: 'x-label', 'text-anchor': 'middle' }),
    text(0, 0, options.yLabel, {
      class: 'y-label',
      'text-anchor': 'middle',
      transform: `translate(${coordinate(18)},${coordinate(middleY)}) rotate(-90)`,
    }),
    legendGroup(legend, area),
  ].join('');
  return { background, foreground };
}

function legendGroup(legend: LegendEntry[], area: PlotArea): string {
  if (legend.length === 0) return '';
  const left = area.right + 12;
  const rows = legend.map((entry, index) => {
    const rowY = area.top + 8 + index * LEGEND_ROW;
    const swatch =
      entry.marker === 'line'
        ? element('line', {
            x1: left,
            y1: rowY,
            x2: left + LEGEND_SWATCH,
            y2: rowY,
            stroke: entry.colour,
            'stroke-width': 2,
          })
        : element('circle', { cx: left + LEGEND_SWATCH / 2, cy: rowY, r: 4, fill: entry.colour });
    return swatch + text(left + LEGEND_SWATCH + 6, rowY + 4, entry.name);
  });
  return element('g', { class: 'legend' }, ...rows);
}

function svgDocument(width: number, height: number, ...children: string[]): string {
  return (
    element(
      'svg',
      {
        xmlns: 'http://www.w3.org/2000/svg',
        width,
        height,
        viewBox: `0 0 ${coordinate(width)} ${coordinate(height)}`,
        'font-family': 'sans-serif',
        'font-size': FONT_SIZE,
      },
      ...children,
    ) + '\n'
  );
}

function noDataNotice(area: PlotArea): string {
  const middle = { x: (area.left + area.right) / 2, y: (area.top + area.bottom) / 2 };
  return text(middle.x, middle.y, 'no data', { 'text-anchor': 'middle', fill: '#999999' });
}

function colourOf(index: number): string {
  return PALETTE[index % PALETTE.length]!;
}

/** [min, max] by a loop: spreading a long training curve into Math.min overflows the stack. */
function extent(values: number[]): [number, number] {
  let low = Infinity;
  let high = -Infinity;
  for (const value of values) {
    if (value < low) low = value;
    if (value > high) high = value;
  }
  return [low, high];
}

// ---------------------------------------------------------------------------------------------
// Line chart

export function lineChart(options: LineChartOptions): string {
  const width = options.width ?? DEFAULT_CHART_WIDTH;
  const height = options.height ?? DEFAULT_CHART_HEIGHT;
  const drawable = (point: Point): point is [number, number] =>
    isPlottable(point[0]) && isPlottable(point[1]) && (!options.logY || point[1] >= SMALLEST_LOG_PLOTTED);
  const kept = options.series.flatMap((series) => series.points.filter(drawable));
  const xs = kept.map(([x]) => x);
  const ys = kept.map(([, y]) => y);

  const legend: LegendEntry[] = options.series.map((series, index) => ({
    name: series.name,
    colour: colourOf(index),
    marker: 'line',
  }));
  const area = plotArea(width, height, legend);
  const x = linearScale(niceTicks(...extent(xs)), area.left, area.right);
  const yTicks = (options.logY ? logTicks : niceTicks)(...extent(ys));
  const y = (options.logY ? logScale : linearScale)(yTicks, area.bottom, area.top);

  const lines = options.series.map((series, index) => {
    // A gap ends the line: joining across a missing value would draw data that was not logged.
    const runs: Array<Array<[number, number]>> = [[]];
    for (const point of series.points) {
      if (drawable(point)) runs[runs.length - 1]!.push([x.toPixel(point[0]), y.toPixel(point[1])]);
      else if (runs[runs.length - 1]!.length > 0) runs.push([]);
    }
    const path = runs
      .filter((run) => run.length > 1)
      .map((run) => run.map(([px, py], i) => `${i === 0 ? 'M' : 'L'}${coordinate(px)} ${coordinate(py)}`))
      .flat()
      .join('');
    // A point alone between gaps has no segment to show it, so it gets a dot.
    const dots = runs
      .filter((run) => run.length === 1)
      .map(([[px, py]]) => element('circle', { cx: px!, cy: py!, r: 2.5, fill: colourOf(index) }));
    const pathElement =
      path === '' ? '' : element('path', { d: path, fill: 'none', stroke: colourOf(index), 'stroke-width': 1.5 });
    return element('g', { class: 'series', 'data-name': series.name }, pathElement, ...dots);
  });

  const { background, foreground } = frame({ ...options, width, height }, area, x, y, legend);
  const empty = kept.length === 0 ? noDataNotice(area) : '';
  return svgDocument(width, height, background, ...lines, empty, foreground);
}

// ---------------------------------------------------------------------------------------------
// Scatter chart with error bars and point labels

const CAP_HALF_WIDTH = 4;
const MARKER_RADIUS = 4;
/** Space kept between a label and any marker; under LABEL_OFFSET - MARKER_RADIUS, so a point's own
 * marker never blocks its label. */
const LABEL_CLEARANCE = 2;
const LABEL_OFFSET = 7;

interface Box {
  left: number;
  top: number;
  right: number;
  bottom: number;
}

const overlaps = (a: Box, b: Box): boolean =>
  a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom;

/**
 * Places a point's label at the first of eight spots around it that stays inside the plot and
 * overlaps nothing `occupied` (markers, labels placed before), and marks its box occupied; labels
 * of close points (e.g. the c=2 runs) would otherwise collide.
 */
function placeLabel(
  label: string,
  px: number,
  py: number,
  area: PlotArea,
  occupied: Box[],
): { x: number; y: number; anchor: 'start' | 'end' } {
  const labelWidth = estimatedTextWidth(label, LABEL_FONT_SIZE);
  const candidates: Array<{ dx: number; dy: number; anchor: 'start' | 'end' }> = [
    { dx: LABEL_OFFSET, dy: -LABEL_OFFSET, anchor: 'start' },
    { dx: LABEL_OFFSET, dy: LABEL_OFFSET + LABEL_FONT_SIZE, anchor: 'start' },
    { dx: -LABEL_OFFSET, dy: -LABEL_OFFSET, anchor: 'end' },
    { dx: -LABEL_OFFSET, dy: LABEL_OFFSET + LABEL_FONT_SIZE, anchor: 'end' },
    { dx: LABEL_OFFSET, dy: -LABEL_OFFSET - 1.2 * LABEL_FONT_SIZE, anchor: 'start' },
    { dx: LABEL_OFFSET, dy: LABEL_OFFSET + 2.2 * LABEL_FONT_SIZE, anchor: 'start' },
    { dx: -LABEL_OFFSET, dy: -LABEL_OFFSET - 1.2 * LABEL_FONT_SIZE, anchor: 'end' },
    { dx: -LABEL_OFFSET, dy: LABEL_OFFSET + 2.2 * LABEL_FONT_SIZE, anchor: 'end' },
  ];
  const boxOf = (c: (typeof candidates)[number]): Box => {
    const left = c.anchor === 'start' ? px + c.dx : px + c.dx - labelWidth;
    return { left, right: left + labelWidth, top: py + c.dy - LABEL_FONT_SIZE, bottom: py + c.dy + 2 };
  };
  const inside = (box: Box): boolean =>
    box.left >= area.left && box.right <= area.right && box.top >= area.top && box.bottom <= area.bottom;
  const chosen =
    candidates.find((c) => inside(boxOf(c)) && !occupied.some((box) => overlaps(box, boxOf(c)))) ??
    candidates.find((c) => inside(boxOf(c))) ??
    candidates[0]!;
  occupied.push(boxOf(chosen));
  return { x: px + chosen.dx, y: py + chosen.dy, anchor: chosen.anchor };
}

/** An error bar from `from` to `to` along one axis at `across` on the other, with end caps. */
function errorBarPath(axis: 'x' | 'y', from: number, to: number, across: number): string {
  const [along, perpendicular] = axis === 'x' ? ['H', 'V'] : ['V', 'H'];
  const at = (a: number, b: number): string =>
    axis === 'x' ? `${coordinate(a)} ${coordinate(b)}` : `${coordinate(b)} ${coordinate(a)}`;
  const cap = (end: number): string =>
    `M${at(end, across - CAP_HALF_WIDTH)}${perpendicular}${coordinate(across + CAP_HALF_WIDTH)}`;
  return `M${at(from, across)}${along}${coordinate(to)}${cap(from)}${cap(to)}`;
}

export function scatterChart(options: ScatterChartOptions): string {
  const width = options.width ?? DEFAULT_CHART_WIDTH;
  const height = options.height ?? DEFAULT_CHART_HEIGHT;
  const points = options.points.filter((point) => isPlottable(point.x) && isPlottable(point.y));
  const errorOf = (error: number | undefined): number => (isPlottable(error) && error > 0 ? error : 0);

  const groups = [...new Set(points.map((point) => point.group))];
  const legend: LegendEntry[] = groups.map((group, index) => ({
    name: group,
    colour: colourOf(index),
    marker: 'dot',
  }));
  const area = plotArea(width, height, legend);
  const xExtent = points.flatMap((p) => [p.x - errorOf(p.xErr), p.x + errorOf(p.xErr)]);
  const yExtent = points.flatMap((p) => [p.y - errorOf(p.yErr), p.y + errorOf(p.yErr)]);
  const x = linearScale(niceTicks(...extent(xExtent)), area.left, area.right);
  const y = linearScale(niceTicks(...extent(yExtent)), area.bottom, area.top);

  const pixels = points.map((point) => ({ px: x.toPixel(point.x), py: y.toPixel(point.y) }));
  // Labels keep clear of every marker, so a label never sits against a neighbour's point; placing
  // the topmost first puts the lower of two close points' labels below it.
  const clearance = MARKER_RADIUS + LABEL_CLEARANCE;
  const occupied: Box[] = pixels.map(({ px, py }) => ({
    left: px - clearance,
    right: px + clearance,
    top: py - clearance,
    bottom: py + clearance,
  }));
  const labelSpots = new Map<number, ReturnType<typeof placeLabel>>();
  const topFirst = pixels.map((_, index) => index).sort((a, b) => pixels[a]!.py - pixels[b]!.py || a - b);
  for (const index of topFirst) {
    labelSpots.set(index, placeLabel(points[index]!.label, pixels[index]!.px, pixels[index]!.py, area, occupied));
  }

  const marks = points.map((point, index) => {
    const colour = colourOf(groups.indexOf(point.group));
    const { px, py } = pixels[index]!;
    const bars: string[] = [];
    const xError = errorOf(point.xErr);
    if (xError > 0) {
      const d = errorBarPath('x', x.toPixel(point.x - xError), x.toPixel(point.x + xError), py);
      bars.push(element('path', { class: 'x-error', d, stroke: colour, fill: 'none' }));
    }
    const yError = errorOf(point.yErr);
    if (yError > 0) {
      const d = errorBarPath('y', y.toPixel(point.y - yError), y.toPixel(point.y + yError), px);
      bars.push(element('path', { class: 'y-error', d, stroke: colour, fill: 'none' }));
    }
    const spot = labelSpots.get(index)!;
    return element(
      'g',
      { class: 'point', 'data-label': point.label, 'data-group': point.group },
      ...bars,
      element('circle', { cx: px, cy: py, r: MARKER_RADIUS, fill: colour }),
      text(spot.x, spot.y, point.label, { 'text-anchor': spot.anchor, 'font-size': LABEL_FONT_SIZE }),
    );
  });

  const { background, foreground } = frame({ ...options, width, height }, area, x, y, legend);
  const empty = points.length === 0 ? noDataNotice(area) : '';
  return svgDocument(width, height, background, ...marks, empty, foreground);
}

// ---------------------------------------------------------------------------------------------
// Composition

/** Several charts, one above the other, in one SVG file (each keeps its own coordinates). */
export function stackVertically(charts: Array<{ svg: string; width: number; height: number }>): string {
  let offset = 0;
  const placed = charts.map((chart) => {
    const group = element('g', { transform: `translate(0,${coordinate(offset)})` }, chart.svg.trimEnd());
    offset += chart.height;
    return group;
  });
  return svgDocument(Math.max(0, ...charts.map((chart) => chart.width)), offset, ...placed);
}
