// Hand-written SVG charts for the reproduction report: a line chart (training curves, optionally
// smoothed over a faint raw trace) and a scatter chart with two-way error bars (accuracy vs chain
// length, the paper's Fig. 1). Each series has its own colour, marker shape and dash, so series
// that run on top of each other, or a print in grey, still tell them apart. No plotting library,
// so the report renders anywhere Node runs. Output is deterministic: the same input gives the same
// bytes (coordinates rounded to 0.1 px, no ids, no timestamps).

import { ema } from './ema.js';

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
  /**
   * EMA weight of the past in [0, 1) (TensorBoard's smoothing): each series is drawn smoothed over
   * its faint raw trace. On a log axis the logarithm is averaged, so one spike does not lift a decade.
   */
  smoothing?: number;
}

export interface ScatterPoint {
  /** the legend entry; points of one series share its colour and marker */
  series: string;
  x: number;
  y: number;
  /** half-widths of the error bars; a bar is drawn only when its error is finite and > 0 */
  xErr?: number;
  yErr?: number;
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
// Five shapes against eight colours: the first 40 series differ in both. Closed shapes only, as a
// plus or a cross would read as an error bar.
const MARKER_SHAPES = ['circle', 'square', 'triangle', 'diamond', 'triangle-down'] as const;
// Solid first; then patterns that differ in rhythm, not only in length, to be told apart when short.
const DASHES = ['', '7 3', '2 2.5', '9 3 2 3', '4 4', '12 3 2 3 2 3', '1 3', '6 2'];
const GRID_COLOUR = '#e6e6e6';
const AXIS_COLOUR = '#333333';
const FONT_SIZE = 12;
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
  style: SeriesStyle;
  /** a line chart's swatch shows the dash, a scatter chart's the marker alone */
  line: boolean;
}

interface Legend {
  entries: LegendEntry[];
  /** lines of small print under the entries, e.g. how overlapping points were set apart */
  notes: string[];
}

const MARGIN = { top: 40, left: 70, bottom: 50, right: 16 };
const LINE_SWATCH = 30;
const MARKER_SWATCH = 12;
const LEGEND_ROW = 18;
const NOTE_FONT_SIZE = 10;
const NOTE_COLOUR = '#555555';

/** Legend names sit right of the plot, so the plot shrinks to make room for the longest. */
function plotArea(width: number, height: number, legend: Legend): PlotArea {
  const longestName = Math.max(
    0,
    ...legend.entries.map((entry) => swatchWidth(entry) + 6 + estimatedTextWidth(entry.name, FONT_SIZE)),
    ...legend.notes.map((note) => estimatedTextWidth(note, NOTE_FONT_SIZE)),
  );
  const legendWidth = longestName === 0 ? 0 : longestName + 12;
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
  legend: Legend,
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

const swatchWidth = (entry: LegendEntry): number => (entry.line ? LINE_SWATCH : MARKER_SWATCH);

function legendGroup(legend: Legend, area: PlotArea): string {
  if (legend.entries.length === 0 && legend.notes.length === 0) return '';
  const left = area.right + 12;
  const rows = legend.entries.map((entry, index) => {
    const rowY = area.top + 8 + index * LEGEND_ROW;
    const middle = left + swatchWidth(entry) / 2;
    const swatch = entry.line
      ? linePath(`M${coordinate(left)} ${coordinate(rowY)}H${coordinate(left + LINE_SWATCH)}`, entry.style) +
        marker(entry.style, middle, rowY, LINE_MARKER_FILL)
      : marker(entry.style, middle, rowY, scatterMarkerFill(entry.style));
    return swatch + text(left + swatchWidth(entry) + 6, rowY + 4, entry.name);
  });
  const notesTop = area.top + 8 + legend.entries.length * LEGEND_ROW + 6;
  const notes = legend.notes.map((note, index) =>
    text(left, notesTop + index * (NOTE_FONT_SIZE + 3), note, {
      class: 'note',
      'font-size': NOTE_FONT_SIZE,
      fill: NOTE_COLOUR,
    }),
  );
  return element('g', { class: 'legend' }, ...rows, ...notes);
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

// ---------------------------------------------------------------------------------------------
// Series styles: colour, dash and marker

type MarkerShape = (typeof MARKER_SHAPES)[number];

interface SeriesStyle {
  colour: string;
  dash: string;
  shape: MarkerShape;
  /** every other round of shapes is drawn open in a scatter chart, so a shape's second colour reads apart */
  open: boolean;
}

function seriesStyle(index: number): SeriesStyle {
  return {
    colour: PALETTE[index % PALETTE.length]!,
    dash: DASHES[index % DASHES.length]!,
    shape: MARKER_SHAPES[index % MARKER_SHAPES.length]!,
    open: Math.floor(index / MARKER_SHAPES.length) % 2 === 1,
  };
}

/** Markers on lines are outlines only: where series run together, every outline shows through. */
const LINE_MARKER_FILL = 'none';
/** An open scatter marker is white inside, so the error bars behind it do not cross it. */
const scatterMarkerFill = (style: SeriesStyle): string => (style.open ? 'white' : style.colour);

function linePath(d: string, style: SeriesStyle): string {
  return element('path', {
    d,
    fill: 'none',
    stroke: style.colour,
    'stroke-width': 2,
    ...(style.dash === '' ? {} : { 'stroke-dasharray': style.dash }),
  });
}

const MARKER_RADIUS = 4;
const CIRCLE_RADIUS = 3.3;

/**
 * The outline of `shape` centred on (x, y), reaching about MARKER_RADIUS from it. The circle
 * (drawn as a circle) is a little smaller and the square a little larger, so where the two
 * coincide the circle shows as a ring inside the square.
 */
function markerOutline(shape: Exclude<MarkerShape, 'circle'>, x: number, y: number): string {
  const r = MARKER_RADIUS;
  const polygon = (corners: Array<[number, number]>): string =>
    corners.map(([dx, dy], i) => `${i === 0 ? 'M' : 'L'}${coordinate(x + dx)} ${coordinate(y + dy)}`).join('') + 'Z';
  const t = r * 1.3;
  switch (shape) {
    case 'square':
      return polygon([[-r, -r], [r, -r], [r, r], [-r, r]]);
    case 'triangle':
      return polygon([[0, -t], [t * 0.87, t * 0.5], [-t * 0.87, t * 0.5]]);
    case 'triangle-down':
      return polygon([[0, t], [t * 0.87, -t * 0.5], [-t * 0.87, -t * 0.5]]);
    case 'diamond':
      return polygon([[0, -t], [t, 0], [0, t], [-t, 0]]);
  }
}

function marker(style: SeriesStyle, x: number, y: number, fill: string): string {
  const paint = { class: `marker ${style.shape}`, fill, stroke: style.colour, 'stroke-width': 1.5 };
  return style.shape === 'circle'
    ? element('circle', { ...paint, cx: x, cy: y, r: CIRCLE_RADIUS })
    : element('path', { ...paint, d: markerOutline(style.shape, x, y) });
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

/** Every point of a short series carries a marker; a long one gets this many, spread along it. */
const MARKED_POINTS = 8;
const MARK_EVERY_POINT_UP_TO = 30;
const RAW_TRACE_OPACITY = 0.25;

/**
 * Which of `count` points carry a marker. The spots are staggered by series, so the markers of
 * series that run on top of each other fall side by side rather than one on the other.
 */
function markedIndices(count: number, seriesIndex: number, seriesCount: number): number[] {
  if (count <= MARK_EVERY_POINT_UP_TO) return Array.from({ length: count }, (_, i) => i);
  const stagger = (seriesIndex + 0.5) / seriesCount;
  return Array.from({ length: MARKED_POINTS }, (_, k) => Math.round(((k + stagger) / MARKED_POINTS) * (count - 1)));
}

function pathThrough(runs: Array<Array<[number, number]>>): string {
  return runs
    .filter((run) => run.length > 1)
    .map((run) => run.map(([px, py], i) => `${i === 0 ? 'M' : 'L'}${coordinate(px)} ${coordinate(py)}`).join(''))
    .join('');
}

export function lineChart(options: LineChartOptions): string {
  const width = options.width ?? DEFAULT_CHART_WIDTH;
  const height = options.height ?? DEFAULT_CHART_HEIGHT;
  const drawable = (point: Point): point is [number, number] =>
    isPlottable(point[0]) && isPlottable(point[1]) && (!options.logY || point[1] >= SMALLEST_LOG_PLOTTED);
  // A gap ends a run: joining across a missing value would draw data that was not logged.
  const runsOf = (points: Point[]): Array<Array<[number, number]>> => {
    const runs: Array<Array<[number, number]>> = [[]];
    for (const point of points) {
      if (drawable(point)) runs[runs.length - 1]!.push(point);
      else if (runs[runs.length - 1]!.length > 0) runs.push([]);
    }
    return runs.filter((run) => run.length > 0);
  };
  const raw = options.series.map((series) => runsOf(series.points));
  const smoothing = options.smoothing;
  // The average runs on over gaps (a trend, not a logged value), while its line still breaks there.
  const smooth = (runs: Array<Array<[number, number]>>): Array<Array<[number, number]>> => {
    if (smoothing === undefined) return runs;
    const ys = runs.flat().map(([, value]) => (options.logY ? Math.log10(value) : value));
    const averaged = ema(ys, smoothing).map((value) => (options.logY ? 10 ** value : value));
    let at = 0;
    return runs.map((run) => run.map(([step]) => [step, averaged[at++]!]));
  };
  const shown = raw.map(smooth);

  const kept = raw.flat(2);
  const legend: Legend = {
    entries: options.series.map((series, index) => ({ name: series.name, style: seriesStyle(index), line: true })),
    notes: [],
  };
  const area = plotArea(width, height, legend);
  const x = linearScale(niceTicks(...extent(kept.map(([px]) => px))), area.left, area.right);
  const yTicks = (options.logY ? logTicks : niceTicks)(...extent(kept.map(([, py]) => py)));
  const y = (options.logY ? logScale : linearScale)(yTicks, area.bottom, area.top);
  const toPixels = (runs: Array<Array<[number, number]>>): Array<Array<[number, number]>> =>
    runs.map((run) => run.map(([px, py]) => [x.toPixel(px), y.toPixel(py)]));

  // Every raw trace goes under every smoothed line, so no series' noise hides another's trend.
  const rawTraces =
    smoothing === undefined
      ? ''
      : element(
          'g',
          { class: 'raw', opacity: RAW_TRACE_OPACITY, 'stroke-width': 1, fill: 'none' },
          ...raw.map((runs, index) => {
            const d = pathThrough(toPixels(runs));
            return d === '' ? '' : element('path', { d, stroke: seriesStyle(index).colour });
          }),
        );

  const lines = options.series.map((series, index) => {
    const style = seriesStyle(index);
    const runs = toPixels(shown[index]!);
    const d = pathThrough(runs);
    const points = runs.flat();
    const marked = new Set(markedIndices(points.length, index, options.series.length));
    // A point alone between gaps has no segment to show it, so it always gets a marker.
    let at = 0;
    for (const run of runs) {
      if (run.length === 1) marked.add(at);
      at += run.length;
    }
    const markers = [...marked].sort((a, b) => a - b).map((i) => marker(style, points[i]![0], points[i]![1], LINE_MARKER_FILL));
    return element(
      'g',
      { class: 'series', 'data-name': series.name },
      d === '' ? '' : linePath(d, style),
      ...markers,
    );
  });

  const { background, foreground } = frame({ ...options, width, height }, area, x, y, legend);
  const empty = kept.length === 0 ? noDataNotice(area) : '';
  return svgDocument(width, height, background, rawTraces, ...lines, empty, foreground);
}

// ---------------------------------------------------------------------------------------------
// Scatter chart with error bars, named by its legend

const CAP_HALF_WIDTH = 4;
/** Markers closer than this would cover each other (a little more than one marker's width). */
const OVERLAP_DISTANCE = 2 * MARKER_RADIUS + 2;
/** Sideways spacing of points that would overlap: they stand side by side, just clear. */
const DODGE = 2 * MARKER_RADIUS + 3;

/**
 * Horizontal pixel offsets that set apart points whose markers would cover each other (e.g. two
 * rows with the same accuracy at the same c): each cluster of such points is spread sideways,
 * DODGE px apart, around its place, in input order.
 */
function dodgeOffsets(pixels: Array<{ px: number; py: number }>): number[] {
  const cluster = pixels.map((_, index) => index);
  const root = (index: number): number => (cluster[index] === index ? index : root(cluster[index]!));
  for (let i = 0; i < pixels.length; i++) {
    for (let j = 0; j < i; j++) {
      const close = Math.hypot(pixels[i]!.px - pixels[j]!.px, pixels[i]!.py - pixels[j]!.py) < OVERLAP_DISTANCE;
      if (close) cluster[root(i)] = root(j);
    }
  }
  const members = new Map<number, number[]>();
  pixels.forEach((_, index) => members.set(root(index), [...(members.get(root(index)) ?? []), index]));
  const offsets = pixels.map(() => 0);
  for (const indices of members.values()) {
    indices.forEach((index, k) => (offsets[index] = (k - (indices.length - 1) / 2) * DODGE));
  }
  return offsets;
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

  const seriesNames = [...new Set(points.map((point) => point.series))];
  const styleOf = (point: ScatterPoint): SeriesStyle => seriesStyle(seriesNames.indexOf(point.series));
  const entries: LegendEntry[] = seriesNames.map((name, index) => ({ name, style: seriesStyle(index), line: false }));
  // The plot's size depends on the legend, the dodge on the plot's scale: size with the note's
  // room kept, then keep the note only if some points were set apart.
  const dodgeNote = ['Points that would overlap', `stand ${DODGE} px apart sideways.`];
  const area = plotArea(width, height, { entries, notes: dodgeNote });
  const xExtent = points.flatMap((p) => [p.x - errorOf(p.xErr), p.x + errorOf(p.xErr)]);
  const yExtent = points.flatMap((p) => [p.y - errorOf(p.yErr), p.y + errorOf(p.yErr)]);
  const x = linearScale(niceTicks(...extent(xExtent)), area.left, area.right);
  const y = linearScale(niceTicks(...extent(yExtent)), area.bottom, area.top);

  const pixels = points.map((point) => ({ px: x.toPixel(point.x), py: y.toPixel(point.y) }));
  const offsets = dodgeOffsets(pixels);
  const legend: Legend = { entries, notes: offsets.some((offset) => offset !== 0) ? dodgeNote : [] };

  const marks = points.map((point, index) => {
    const style = styleOf(point);
    const px = pixels[index]!.px + offsets[index]!;
    const py = pixels[index]!.py;
    const bars: string[] = [];
    const xError = errorOf(point.xErr);
    if (xError > 0) {
      const from = x.toPixel(point.x - xError) + offsets[index]!;
      const d = errorBarPath('x', from, x.toPixel(point.x + xError) + offsets[index]!, py);
      bars.push(element('path', { class: 'x-error', d, stroke: style.colour, fill: 'none' }));
    }
    const yError = errorOf(point.yErr);
    if (yError > 0) {
      const d = errorBarPath('y', y.toPixel(point.y - yError), y.toPixel(point.y + yError), px);
      bars.push(element('path', { class: 'y-error', d, stroke: style.colour, fill: 'none' }));
    }
    return element(
      'g',
      { class: 'point', 'data-series': point.series },
      ...bars,
      marker(style, px, py, scatterMarkerFill(style)),
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
