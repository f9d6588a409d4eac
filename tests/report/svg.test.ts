// The hand-written SVG charts: well-formed XML whatever the input (names with markup characters,
// NaN, nulls, empty series), 1-2-5 axis ticks, gaps where values are missing, error bars exactly
// where a confidence interval is positive, and byte-identical output for identical input; and
// readable: every series its own colour, dash and marker, smoothed lines over their raw traces,
// points that would coincide set apart, and no two pieces of text on top of each other.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { lineChart, logTicks, niceTicks, scatterChart, stackVertically, type Point } from '../../colar/report/svg.js';

// ---------------------------------------------------------------------------------------------
// A tiny XML well-formedness checker, enough for the subset the charts emit: elements with
// double-quoted attributes, text, the five named entities, numeric character references, and no
// control characters.

const NAME = '[A-Za-z_][\\w:.-]*';
const TAG = new RegExp(`^<(/?)(${NAME})((?:\\s+${NAME}="[^"]*")*)\\s*(/?)>`);
const ENTITY = /^&(amp|lt|gt|quot|apos|#\d+|#x[0-9a-fA-F]+);/;

/** Problems found in `xml`; empty when it is well-formed with one root element. */
function wellFormednessProblems(xml: string): string[] {
  const problems: string[] = [];
  const open: string[] = [];
  let roots = 0;
  const checkCharacterData = (data: string, where: string): void => {
    if (data.includes('<')) problems.push(`raw '<' in ${where}: ${data.slice(0, 40)}`);
    if (/[\x00-\x08\x0B\x0C\x0E-\x1F]/.test(data)) problems.push(`control character in ${where}`);
    for (let i = data.indexOf('&'); i >= 0; i = data.indexOf('&', i + 1)) {
      if (!ENTITY.test(data.slice(i))) problems.push(`bare '&' in ${where}: ${data.slice(i, i + 20)}`);
    }
  };
  let at = 0;
  while (at < xml.length) {
    const next = xml.indexOf('<', at);
    const data = xml.slice(at, next < 0 ? xml.length : next);
    if (open.length === 0 && data.trim() !== '') problems.push(`text outside the root: ${data.slice(0, 40)}`);
    checkCharacterData(data, 'text');
    if (next < 0) break;
    const tag = TAG.exec(xml.slice(next));
    if (!tag) {
      problems.push(`malformed tag at ${next}: ${xml.slice(next, next + 40)}`);
      break;
    }
    const [whole, closing, name, attributes, selfClosing] = tag;
    for (const [, value] of attributes!.matchAll(/="([^"]*)"/g)) checkCharacterData(value!, `<${name}> attribute`);
    if (closing) {
      if (selfClosing || attributes) problems.push(`odd closing tag ${whole}`);
      const expected = open.pop();
      if (expected !== name) problems.push(`</${name}> closes <${expected ?? 'nothing'}>`);
    } else {
      if (open.length === 0) roots++;
      if (!selfClosing) open.push(name!);
    }
    at = next + whole!.length;
  }
  if (open.length > 0) problems.push(`unclosed: ${open.join(' > ')}`);
  if (roots !== 1) problems.push(`${roots} root elements`);
  return problems;
}

function expectWellFormed(svg: string): void {
  expect(wellFormednessProblems(svg)).toEqual([]);
  expect(svg).not.toMatch(/NaN|Infinity|undefined|null/);
}

/** Every innermost `<g ...>` element whose text contains `marker`, with its content. */
function groupsWith(svg: string, marker: string): string[] {
  return [...svg.matchAll(/<g [^>]*>(?:(?!<\/?g[ >]).)*<\/g>/g)].map((m) => m[0]).filter((g) => g.includes(marker));
}

const attribute = (tag: string, name: string): string | undefined => new RegExp(` ${name}="([^"]*)"`).exec(tag)?.[1];

/** The marker shapes drawn in `svg`, in order: `class="marker square"` → 'square'. */
const markerShapes = (svg: string): string[] => [...svg.matchAll(/class="marker ([\w-]+)"/g)].map((m) => m[1]!);

interface Box {
  text: string;
  left: number;
  right: number;
  top: number;
  bottom: number;
}

/**
 * The box each unrotated piece of text covers, from its position, anchor and font size, with
 * the glyphs estimated 0.6 em wide (generous for sans-serif) and spanning 0.8 em above the
 * baseline to 0.25 em below.
 */
function textBoxes(svg: string): Box[] {
  const fontSizeOf = (tag: string): number => Number(attribute(tag, 'font-size') ?? 12);
  return [...svg.matchAll(/<text ([^>]*)>([^<]*)<\/text>/g)]
    .filter(([tag]) => !tag.includes('transform'))
    .map(([tag, , content]) => {
      const size = fontSizeOf(tag);
      const width = content!.replace(/&\w+;/g, '_').length * size * 0.6;
      const x = Number(attribute(tag, 'x'));
      const y = Number(attribute(tag, 'y'));
      const anchor = attribute(tag, 'text-anchor') ?? 'start';
      const left = anchor === 'end' ? x - width : anchor === 'middle' ? x - width / 2 : x;
      return { text: content!, left, right: left + width, top: y - 0.8 * size, bottom: y + 0.25 * size };
    });
}

const overlap = (a: Box, b: Box): boolean =>
  a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom;

function overlappingTexts(svg: string): string[] {
  const boxes = textBoxes(svg);
  return boxes.flatMap((a, i) => boxes.slice(i + 1).filter((b) => overlap(a, b)).map((b) => `${a.text} × ${b.text}`));
}

describe('the well-formedness checker itself', () => {
  it('accepts nested elements, entities and self-closing tags', () => {
    expect(wellFormednessProblems('<svg a="1 &amp; 2"><g><text>x &lt; y &#38; z</text><rect/></g></svg>')).toEqual([]);
  });
  it.each([
    ['crossed tags', '<a><b></a></b>'],
    ['unclosed tag', '<a><b></b>'],
    ['raw < in text', '<a>x < y</a>'],
    ['bare & in text', '<a>x & y</a>'],
    ['bare & in an attribute', '<a t="x&y"/>'],
    ['two roots', '<a/><b/>'],
    ['a control character', '<a>\x01</a>'],
    ['text outside the root', 'hi<a/>'],
  ])('rejects %s', (_, xml) => {
    expect(wellFormednessProblems(xml)).not.toEqual([]);
  });
});

// ---------------------------------------------------------------------------------------------

describe('niceTicks', () => {
  it.each([
    [0, 1, [0, 0.2, 0.4, 0.6, 0.8, 1]],
    [0, 97, [0, 20, 40, 60, 80, 100]],
    [3.2, 25.7, [0, 5, 10, 15, 20, 25, 30]],
    [0.013, 0.048, [0.01, 0.02, 0.03, 0.04, 0.05]],
    [-2.5, 6, [-4, -2, 0, 2, 4, 6]],
    [1, 120, [0, 50, 100, 150]],
    [1200, 48000, [0, 10000, 20000, 30000, 40000, 50000]],
  ])('[%d, %d] → %j', (low, high, expected) => {
    expect(niceTicks(low, high).values).toEqual(expected);
  });

  it('prints every tick with the decimals of its step', () => {
    const ticks = niceTicks(0, 1);
    expect(ticks.values.map(ticks.format)).toEqual(['0.0', '0.2', '0.4', '0.6', '0.8', '1.0']);
    const negative = niceTicks(-0.5, 0.5);
    expect(negative.values.map(negative.format)).toContain('0.0');
  });

  it('widens a single value into a drawable range, and an empty one to [0, 1]', () => {
    expect(niceTicks(3, 3).values).toEqual([2.6, 2.8, 3, 3.2, 3.4]);
    expect(niceTicks(0, 0).values).toEqual([-1, -0.5, 0, 0.5, 1]);
    expect(niceTicks(Infinity, -Infinity).values).toEqual([0, 0.2, 0.4, 0.6, 0.8, 1]);
  });

  it('steps by 1, 2 or 5 × 10^k, covers the range and keeps 3 to 8 ticks', () => {
    const finite = fc.double({ min: -1e6, max: 1e6, noNaN: true });
    fc.assert(
      fc.property(finite, finite, (a, b) => {
        fc.pre(Math.abs(a - b) > 1e-6 * Math.max(1, Math.abs(a), Math.abs(b)));
        const [low, high] = a < b ? [a, b] : [b, a];
        const values = niceTicks(low, high).values;
        const step = values[1]! - values[0]!;
        const mantissa = step / 10 ** Math.floor(Math.log10(step) + 1e-9);
        expect([1, 2, 5].some((m) => Math.abs(mantissa - m) < 1e-6)).toBe(true);
        for (let i = 1; i < values.length; i++) expect(values[i]! - values[i - 1]!).toBeCloseTo(step, 6);
        // within a billionth of a step: float noise must not add a whole tick
        expect(values[0]).toBeLessThanOrEqual(low + 1e-9 * step);
        expect(values[values.length - 1]).toBeGreaterThanOrEqual(high - 1e-9 * step);
        expect(values.length).toBeGreaterThanOrEqual(3);
        expect(values.length).toBeLessThanOrEqual(8);
      }),
    );
  });
});

describe('logTicks', () => {
  it('puts 1, 2, 5 in each decade over a short span and bare decades over a long one', () => {
    expect(logTicks(0.3, 8).values).toEqual([0.1, 0.2, 0.5, 1, 2, 5, 10]);
    expect(logTicks(0.02, 900).values).toEqual([0.01, 0.1, 1, 10, 100, 1000]);
    expect(logTicks(3, 3).values).toEqual([1, 2, 5, 10]);
  });
});

// ---------------------------------------------------------------------------------------------

describe('lineChart', () => {
  const base = { title: 'Loss', xLabel: 'step', yLabel: 'loss' };

  it('escapes markup characters in every piece of text', () => {
    const svg = lineChart({
      title: 'a < b & "c"',
      xLabel: "x's",
      yLabel: '<y>',
      series: [{ name: '</text><script>&', points: [[0, 1], [1, 2]] }],
    });
    expectWellFormed(svg);
    expect(svg).toContain('a &lt; b &amp; &quot;c&quot;');
    expect(svg).toContain('&lt;/text&gt;&lt;script&gt;&amp;');
    expect(svg).not.toContain('<script>');
  });

  it('leaves a gap at null and NaN values and marks every point of a short series', () => {
    const points: Point[] = [[0, 1], [1, null], [2, NaN], [3, 4], [4, 5], [5, Infinity], [NaN, 3]];
    const svg = lineChart({ ...base, series: [{ name: 'cot', points }] });
    expectWellFormed(svg);
    const [series] = groupsWith(svg, 'data-name="cot"');
    expect(series!.match(/M/g)).toHaveLength(1);
    expect(series!.match(/L/g)).toHaveLength(1);
    expect(markerShapes(series!)).toHaveLength(3);
  });

  it('marks a long series at a few spots, and a point alone between gaps always', () => {
    const points: Point[] = Array.from({ length: 60 }, (_, i) => [i, i === 30 || i === 32 ? null : 1 + (i % 3)]);
    const svg = lineChart({ ...base, series: [{ name: 'long', points }] });
    const [series] = groupsWith(svg, 'data-name="long"');
    expect(series!.match(/M/g)).toHaveLength(2);
    // eight spread along the line, and one on point 31, which no segment shows
    expect(markerShapes(series!)).toHaveLength(9);
  });

  it('gives every series its own colour, dash and marker shape, in the legend too', () => {
    const series = Array.from({ length: 5 }, (_, k) => ({
      name: `series ${k}`,
      // all five on top of each other: only their styles tell them apart
      points: Array.from({ length: 100 }, (_, i): Point => [i, 1 / (i + 1)]),
    }));
    const svg = lineChart({ ...base, series });
    const styles = series.map(({ name }) => {
      const [group] = groupsWith(svg, `data-name="${name}"`);
      const line = /<path [^>]*>/.exec(group!)![0];
      const shapes = new Set(markerShapes(group!));
      expect(shapes.size).toBe(1);
      return { colour: attribute(line, 'stroke'), dash: attribute(line, 'stroke-dasharray') ?? 'solid', shape: [...shapes][0] };
    });
    for (const key of ['colour', 'dash', 'shape'] as const) {
      expect(new Set(styles.map((style) => style[key])).size).toBe(series.length);
    }
    const [legend] = groupsWith(svg, 'class="legend"');
    expect(markerShapes(legend!)).toEqual(styles.map((style) => style.shape));
    expect([...legend!.matchAll(/stroke-dasharray="([^"]*)"/g)].map((m) => m[1])).toEqual(
      styles.map((style) => style.dash).filter((dash) => dash !== 'solid'),
    );
    expect(overlappingTexts(svg)).toEqual([]);
  });

  it('draws a smoothed line over the faint raw trace when asked to smooth', () => {
    // a decaying loss with step noise of ±50 %
    const points = Array.from({ length: 200 }, (_, i): Point => [i, (10 / (i + 1)) * (i % 2 === 0 ? 1.5 : 0.5)]);
    const svg = lineChart({ ...base, logY: true, smoothing: 0.9, series: [{ name: 'loss', points }] });
    expectWellFormed(svg);
    const raw = /<g class="raw" [^>]*>/.exec(svg);
    expect(raw).not.toBeNull();
    expect(Number(attribute(raw![0], 'opacity'))).toBeLessThan(0.5);
    const yOf = (d: string): number[] => [...d.matchAll(/[ML][\d.-]+ ([\d.-]+)/g)].map((m) => Number(m[1]));
    const wiggle = (ys: number[]): number => ys.slice(1).reduce((sum, y, i) => sum + Math.abs(y - ys[i]!), 0);
    const rawYs = yOf(/<g class="raw"[^>]*><path d="([^"]+)"/.exec(svg)![1]!);
    const smoothYs = yOf(/data-name="loss"><path d="([^"]+)"/.exec(svg)![1]!);
    expect(smoothYs).toHaveLength(rawYs.length);
    // the raw trace zigzags a whole ±50 % every step; the smoothed line falls nearly monotonically
    expect(wiggle(smoothYs)).toBeLessThan(wiggle(rawYs) / 10);
    // and without smoothing there is one line per series, no raw trace under it
    expect(lineChart({ ...base, series: [{ name: 'loss', points }] })).not.toContain('class="raw"');
  });

  it('skips values ≤ 0 on a log axis and uses log ticks', () => {
    const points: Point[] = [[0, 0], [1, 5], [2, 0.5], [3, -1]];
    const svg = lineChart({ ...base, logY: true, series: [{ name: 'loss', points }] });
    expectWellFormed(svg);
    const [series] = groupsWith(svg, 'data-name="loss"');
    expect(series!.match(/[ML]/g)).toEqual(['M', 'L']);
    expect(groupsWith(svg, 'class="y-ticks"')[0]).toContain('>0.2<');
  });

  it('draws an empty frame with a notice when nothing is drawable', () => {
    const svg = lineChart({ ...base, series: [{ name: 'empty', points: [[1, null]] }] });
    expectWellFormed(svg);
    expect(svg).toContain('no data');
  });

  it('stays well-formed and free of NaN text for any mix of values and names', () => {
    const value = fc.oneof(fc.double(), fc.constant(null));
    const series = fc.record({
      // markup characters, and none that could spell "NaN" by chance
      name: fc.string({ unit: fc.constantFrom('a', 'b', '<', '>', '&', '"', "'", ' ', '\x01'), maxLength: 12 }),
      points: fc.array(fc.tuple(fc.double(), value), { maxLength: 20 }),
    });
    const smoothing = fc.option(fc.double({ min: 0, max: 0.99, noNaN: true }));
    fc.assert(
      fc.property(fc.array(series, { maxLength: 4 }), fc.boolean(), smoothing, (seriesList, logY, smoothingOrNull) => {
        const list = seriesList as Array<{ name: string; points: Point[] }>;
        expectWellFormed(lineChart({ ...base, logY, smoothing: smoothingOrNull ?? undefined, series: list }));
      }),
      { numRuns: 200 },
    );
  });

  it('gives the same bytes for the same input', () => {
    const options = { ...base, series: [{ name: 'a', points: [[0, 1], [1, 0.5]] as Point[] }] };
    expect(lineChart(options)).toBe(lineChart(options));
  });
});

// ---------------------------------------------------------------------------------------------

describe('scatterChart', () => {
  const rows = [
    { series: 'CoT', x: 24.6, y: 61.8, xErr: 0.12, yErr: 0.9 },
    { series: 'No-CoT', x: 0, y: 12.3, xErr: 0, yErr: 1.1 },
    { series: 'CoLaR (c = 2)', x: 12.6, y: 45, xErr: 0.06, yErr: 0 },
    { series: 'RL <sum/32> & co', x: 32, y: 20.4 },
    { series: 'Broken', x: NaN, y: 10, xErr: 1, yErr: 1 },
  ];
  const svg = scatterChart({ title: 'Accuracy vs # L', xLabel: '# L', yLabel: 'Accuracy (%)', points: rows });

  it('is well-formed and names every drawable series in the legend', () => {
    expectWellFormed(svg);
    const [legend] = groupsWith(svg, 'class="legend"');
    const names = [...legend!.matchAll(/<text [^>]*>([^<]*)<\/text>/g)].map((m) => m[1]);
    expect(names).toEqual(['CoT', 'No-CoT', 'CoLaR (c = 2)', 'RL &lt;sum/32&gt; &amp; co']);
  });

  it('skips a point with a non-finite coordinate', () => {
    expect(svg).not.toContain('Broken');
  });

  it('draws an error bar exactly where the error is positive', () => {
    const bars = (series: string): string[] => {
      const [group] = groupsWith(svg, `data-series="${series}"`);
      return [...group!.matchAll(/class="([xy]-error)"/g)].map((m) => m[1]!);
    };
    expect(bars('CoT')).toEqual(['x-error', 'y-error']);
    expect(bars('No-CoT')).toEqual(['y-error']);
    expect(bars('CoLaR (c = 2)')).toEqual(['x-error']);
    expect(bars('RL &lt;sum/32&gt; &amp; co')).toEqual([]);
  });

  // The reproduction's rows at c = 2: three runs with the same accuracy and # L within 0.05.
  const crowded = [
    { series: 'No-CoT', x: 0, y: 2.5, yErr: 1.1 },
    { series: 'CoT', x: 23.86, y: 84.5, yErr: 1.8 },
    { series: 'CoLaR (c = 1)', x: 23.84, y: 49.8, xErr: 0.08, yErr: 1.4 },
    { series: 'CoLaR (c = 2)', x: 12.23, y: 3.0, xErr: 0.08, yErr: 0.8 },
    { series: 'Teacher-forced (c = 1)', x: 23.86, y: 100 },
    { series: 'Teacher-forced (c = 2)', x: 12.19, y: 61.1, yErr: 2.2 },
    { series: 'CoLaR + RL (c = 2)', x: 12.27, y: 3.0, xErr: 0.09, yErr: 0.6 },
    { series: 'CoLaR + RL w/o average (c = 2)', x: 12.26, y: 3.0, xErr: 0.09, yErr: 0.6 },
  ];
  const crowdedSvg = scatterChart({ title: 'Accuracy vs # L', xLabel: '# L', yLabel: 'Accuracy (%)', points: crowded });

  it('gives every series its own colour-and-marker pair, shown in the legend', () => {
    const styles = crowded.map(({ series }) => {
      const [group] = groupsWith(crowdedSvg, `data-series="${series}"`);
      const mark = /<(?:circle|path) [^>]*class="marker [^>]*>/.exec(group!)![0];
      return `${attribute(mark, 'stroke')} ${attribute(mark, 'fill')} ${markerShapes(mark)[0]}`;
    });
    expect(new Set(styles).size).toBe(crowded.length);
    const [legend] = groupsWith(crowdedSvg, 'class="legend"');
    expect(markerShapes(legend!)).toEqual(markerShapes(crowdedSvg).slice(0, crowded.length));
  });

  it('sets apart points whose markers would cover each other, and says so', () => {
    const centres = [...crowdedSvg.matchAll(/<g class="point"[^>]*>(?:(?!<\/g>).)*<\/g>/g)].map(([group]) => {
      const mark = /<(?:circle|path) [^>]*class="marker [^>]*>/.exec(group)![0];
      const numbers = (attribute(mark, 'cx') ? [attribute(mark, 'cx'), attribute(mark, 'cy')] : attribute(mark, 'd')!.match(/[\d.]+/g)!).map(Number);
      const xs = numbers.filter((_, i) => i % 2 === 0);
      const ys = numbers.filter((_, i) => i % 2 === 1);
      return { x: (Math.min(...xs) + Math.max(...xs)) / 2, y: (Math.min(...ys) + Math.max(...ys)) / 2 };
    });
    expect(centres).toHaveLength(crowded.length);
    for (let i = 0; i < centres.length; i++) {
      for (let j = 0; j < i; j++) {
        const apart = Math.hypot(centres[i]!.x - centres[j]!.x, centres[i]!.y - centres[j]!.y);
        expect(apart, `${crowded[i]!.series} vs ${crowded[j]!.series}`).toBeGreaterThanOrEqual(9);
      }
    }
    expect(groupsWith(crowdedSvg, 'class="legend"')[0]).toContain('class="note"');
    // points well apart stay where their values put them, with no note
    expect(svg).not.toContain('class="note"');
  });

  it('puts no piece of text over another', () => {
    expect(overlappingTexts(crowdedSvg)).toEqual([]);
    expect(overlappingTexts(svg)).toEqual([]);
  });
});

describe('stackVertically', () => {
  it('nests the charts one below the other in one well-formed document', () => {
    const series = [{ name: 's', points: [[0, 1], [1, 2]] as Point[] }];
    const chart = lineChart({ title: 't', xLabel: 'x', yLabel: 'y', series, width: 300, height: 200 });
    const stacked = stackVertically([
      { svg: chart, width: 300, height: 200 },
      { svg: chart, width: 300, height: 200 },
    ]);
    expectWellFormed(stacked);
    expect(stacked).toMatch(/^<svg [^>]*width="300" height="400"/);
    expect(stacked).toContain('translate(0,200)');
  });
});
