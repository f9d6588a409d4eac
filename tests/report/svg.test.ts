// The hand-written SVG charts: well-formed XML whatever the input (names with markup characters,
// NaN, nulls, empty series), 1-2-5 axis ticks, gaps where values are missing, error bars exactly
// where a confidence interval is positive, and byte-identical output for identical input.

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

/** Every element `<tag ...>` whose attributes contain `marker`, with its content. */
function groupsWith(svg: string, marker: string): string[] {
  return [...svg.matchAll(/<g [^>]*>(?:(?!<\/g>).)*<\/g>/g)].map((m) => m[0]).filter((g) => g.includes(marker));
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

  it('leaves a gap at null and NaN values and dots a point left alone between gaps', () => {
    const points: Point[] = [[0, 1], [1, null], [2, NaN], [3, 4], [4, 5], [5, Infinity], [NaN, 3]];
    const svg = lineChart({ ...base, series: [{ name: 'cot', points }] });
    expectWellFormed(svg);
    const [series] = groupsWith(svg, 'data-name="cot"');
    expect(series!.match(/M/g)).toHaveLength(1);
    expect(series!.match(/L/g)).toHaveLength(1);
    expect(series!.match(/<circle/g)).toHaveLength(1);
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
    fc.assert(
      fc.property(fc.array(series, { maxLength: 4 }), fc.boolean(), (seriesList, logY) => {
        expectWellFormed(lineChart({ ...base, logY, series: seriesList as Array<{ name: string; points: Point[] }> }));
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
    { label: 'CoT', group: 'baseline', x: 24.6, y: 61.8, xErr: 0.12, yErr: 0.9 },
    { label: 'No-CoT', group: 'baseline', x: 0, y: 12.3, xErr: 0, yErr: 1.1 },
    { label: 'CoLaR-NLL c=2', group: 'colar-nll', x: 12.6, y: 45, xErr: 0.06, yErr: 0 },
    { label: 'RL <sum/32> & co', group: 'ablation', x: 32, y: 20.4 },
    { label: 'Broken', group: 'ablation', x: NaN, y: 10, xErr: 1, yErr: 1 },
  ];
  const svg = scatterChart({ title: 'Accuracy vs # L', xLabel: '# L', yLabel: 'Accuracy (%)', points: rows });

  it('is well-formed and labels every drawable point', () => {
    expectWellFormed(svg);
    for (const label of ['CoT', 'No-CoT', 'CoLaR-NLL c=2', 'RL &lt;sum/32&gt; &amp; co']) {
      expect(svg).toContain(`>${label}</text>`);
    }
  });

  it('skips a point with a non-finite coordinate', () => {
    expect(svg).not.toContain('Broken');
  });

  it('draws an error bar exactly where the error is positive', () => {
    const bars = (label: string): string[] => {
      const [group] = groupsWith(svg, `data-label="${label}"`);
      return [...group!.matchAll(/class="([xy]-error)"/g)].map((m) => m[1]!);
    };
    expect(bars('CoT')).toEqual(['x-error', 'y-error']);
    expect(bars('No-CoT')).toEqual(['y-error']);
    expect(bars('CoLaR-NLL c=2')).toEqual(['x-error']);
    expect(bars('RL &lt;sum/32&gt; &amp; co')).toEqual([]);
  });

  it('gives each group one colour and a legend entry', () => {
    const colourOf = (label: string): string => {
      const [group] = groupsWith(svg, `data-label="${label}"`);
      return /<circle [^>]*fill="([^"]+)"/.exec(group!)![1]!;
    };
    expect(colourOf('CoT')).toBe(colourOf('No-CoT'));
    expect(colourOf('CoT')).not.toBe(colourOf('CoLaR-NLL c=2'));
    const [legend] = groupsWith(svg, 'class="legend"');
    expect(legend!.match(/<text/g)).toHaveLength(3);
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
