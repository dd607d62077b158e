import * as fc from 'fast-check';
import { capText, DEFAULT_OUTPUT_BUDGET_CHARS, fitToBudget } from '../../../lambda/mcp/tools/output-budget.js';

const size = (value: unknown) => JSON.stringify(value).length;
const ASK_FOR_LESS = 'Ask for less (fewer results or URLs, a smaller limit, or without raw content) to see everything.';
const CUT = /^(.*) …\[(\d+) characters cut\]$/s;

/** The kept text and the count a cut string's marker states. */
function cutOf(text: string): { kept: string; stated: number } {
  const match = CUT.exec(text);
  if (!match) throw new Error(`not a cut string: ${text.slice(0, 40)}…`);
  return { kept: match[1]!, stated: Number(match[2]) };
}

describe('fitToBudget', () => {
  test('the default budget is 60,000 characters, within what Claude Code and Claude.ai take per result', () => {
    expect(DEFAULT_OUTPUT_BUDGET_CHARS).toBe(60_000);
  });

  test('a value within the budget is returned as it is, without a notice', () => {
    const value = { query: 'q', results: [{ title: 't', url: 'https://example.com', content: 'c'.repeat(500) }] };
    const result = fitToBudget(value, size(value));
    expect(result.value).toBe(value);
    expect(result.notice).toBeUndefined();
  });

  test('the longest string is cut first, marked where it was cut; shorter ones are left alone', () => {
    const value = { title: 'short', long: 'x'.repeat(5_000), medium: 'y'.repeat(300) };
    const { value: fitted, notice } = fitToBudget(value, 3_000);
    expect(size(fitted)).toBeLessThanOrEqual(3_000);
    expect(fitted.title).toBe('short');
    expect(fitted.medium).toBe('y'.repeat(300));
    const { kept, stated } = cutOf(fitted.long);
    expect(kept).toBe('x'.repeat(kept.length));
    expect(kept.length + stated).toBe(5_000);
    expect(notice).toBe(
      `The result was larger than this server's 3000-character budget: ${stated} characters were cut from 1 long field(s). ${ASK_FOR_LESS}`,
    );
  });

  test('several long strings are cut to the same length (water-filling); a string that is short enough is kept', () => {
    const value = { a: 'a'.repeat(4_000), b: 'b'.repeat(3_000), c: 'c'.repeat(250) };
    const { value: fitted, notice } = fitToBudget(value, 3_000);
    expect(size(fitted)).toBeLessThanOrEqual(3_000);
    const a = cutOf(fitted.a);
    const b = cutOf(fitted.b);
    expect(a.kept).toBe('a'.repeat(a.kept.length));
    expect(b.kept).toBe('b'.repeat(b.kept.length));
    expect(a.kept.length).toBe(b.kept.length);
    expect(a.kept.length + a.stated).toBe(4_000);
    expect(b.kept.length + b.stated).toBe(3_000);
    expect(fitted.c).toBe('c'.repeat(250));
    expect(notice).toBe(
      `The result was larger than this server's 3000-character budget: ${a.stated + b.stated} characters were cut from 2 long field(s). ${ASK_FOR_LESS}`,
    );
  });

  test('strings are never cut below 200 characters', () => {
    const value = { results: Array.from({ length: 3 }, () => ({ content: 'z'.repeat(1_000) })) };
    const { value: fitted } = fitToBudget(value, 900);
    for (const item of fitted.results) expect(cutOf(item.content).kept.length).toBeGreaterThanOrEqual(200);
  });

  test('the input is not modified', () => {
    const value = { query: 'q', results: Array.from({ length: 40 }, (_, i) => ({ url: `https://example.com/${i}`, content: 'c'.repeat(1_000) })) };
    const copy = structuredClone(value);
    fitToBudget(value, 2_000);
    expect(value).toEqual(copy);
  });

  test('when there are no long strings, trailing list items go, and the notice counts them', () => {
    const results = Array.from({ length: 50 }, (_, i) => ({ title: `Result ${i}`, url: `https://example.com/${i}` }));
    const value = { query: 'web search', results };
    const { value: fitted, notice } = fitToBudget(value, 1_000);
    expect(size(fitted)).toBeLessThanOrEqual(1_000);
    expect(fitted.query).toBe('web search');
    expect(fitted.results.length).toBeGreaterThan(0);
    expect(fitted.results).toEqual(results.slice(0, fitted.results.length));
    const dropped = 50 - fitted.results.length;
    expect(notice).toBe(`The result was larger than this server's 1000-character budget: ${dropped} trailing item(s) were left out. ${ASK_FOR_LESS}`);
  });

  test('strings first, then items: the notice says both', () => {
    const value = {
      query: 'q',
      results: Array.from({ length: 30 }, (_, i) => ({ url: `https://example.com/${i}`, content: 'x'.repeat(2_000) })),
    };
    const { value: fitted, notice } = fitToBudget(value, 3_000);
    expect(size(fitted)).toBeLessThanOrEqual(3_000);
    expect(fitted.results.length).toBeGreaterThan(0);
    expect(fitted.results.length).toBeLessThan(30);
    fitted.results.forEach((item, i) => {
      expect(item.url).toBe(`https://example.com/${i}`);
      expect(cutOf(item.content).kept).toBe('x'.repeat(200));
    });
    expect(notice).toMatch(
      new RegExp(
        `^The result was larger than this server's 3000-character budget: \\d+ characters were cut from \\d+ long field\\(s\\), and ${30 - fitted.results.length} trailing item\\(s\\) were left out\\. `,
      ),
    );
    expect(notice!.endsWith(ASK_FOR_LESS)).toBe(true);
  });

  test('the largest list is the one that loses items', () => {
    const value = {
      images: ['https://img.example/1.png', 'https://img.example/2.png'],
      results: Array.from({ length: 40 }, (_, i) => ({ url: `https://example.com/${i}` })),
    };
    const { value: fitted } = fitToBudget(value, 400);
    expect(size(fitted)).toBeLessThanOrEqual(400);
    expect(fitted.images).toEqual(value.images);
    expect(fitted.results.length).toBeLessThan(40);
  });

  test('a value that can neither be cut nor shortened is returned over budget rather than broken', () => {
    const value = { a: 'short', b: 'also short' };
    const { value: fitted, notice } = fitToBudget(value, 10);
    expect(fitted).toEqual(value);
    expect(notice).toBe(`The result was larger than this server's 10-character budget: . ${ASK_FOR_LESS}`);
  });

  test('property: a tool-shaped result always ends within budget, keeps a prefix of its results, and says so', () => {
    const text = (max: number) =>
      fc.tuple(fc.constantFrom('a', 'é', '"', '\\', '\n', '😀', ' '), fc.nat(max)).map(([char, count]) => char.repeat(count));
    const result = fc.record({
      query: text(400),
      answer: fc.option(text(2_000), { nil: undefined }),
      results: fc.array(
        fc.record({ title: text(300), url: fc.nat(10_000).map((n) => `https://example.com/${n}`), content: text(3_000) }),
        { maxLength: 40 },
      ),
    });
    fc.assert(
      fc.property(result, fc.integer({ min: 2_000, max: 50_000 }), (value, budget) => {
        const copy = structuredClone(value);
        const { value: fitted, notice } = fitToBudget(value, budget);
        expect(value).toEqual(copy);
        expect(size(fitted)).toBeLessThanOrEqual(budget);
        expect(notice === undefined).toBe(size(value) <= budget);
        expect(fitted.results.map((item) => item.url)).toEqual(value.results.slice(0, fitted.results.length).map((item) => item.url));
      }),
      { numRuns: 150, seed: 20261123 },
    );
  });

  // BUG: a string already cut is cut again in every later round (up to 8), because its marker makes it
  // longer than MIN_STRING_CHARS again. The marker then states the size of the previous marker, not what
  // was cut (here "…[21 characters cut]" where 1800 were cut), and the notice over-counts both the fields
  // (240 for 30) and the characters. Skipped until output-budget.ts cuts each string at most once.
  test('each string is cut once: its marker and the notice state what was really cut', () => {
    const value = {
      query: 'q',
      results: Array.from({ length: 30 }, (_, i) => ({ url: `https://example.com/${i}`, content: 'x'.repeat(2_000) })),
    };
    const { value: fitted, notice } = fitToBudget(value, 3_000);
    for (const item of fitted.results) expect(cutOf(item.content)).toEqual({ kept: 'x'.repeat(200), stated: 1_800 });
    expect(notice).toContain(`${30 * 1_800} characters were cut from 30 long field(s)`);
  });

  // BUG: a string barely over 200 characters gets a marker longer than what it loses, so the "cut"
  // string grows (210 → 221 characters), and the next round cuts it again (see above).
  test('a string is not "cut" when the marker is longer than what it would remove', () => {
    const value = { results: Array.from({ length: 20 }, () => ({ content: 'x'.repeat(210) })) };
    const { value: fitted } = fitToBudget(value, 2_000);
    for (const item of fitted.results) expect(item.content.length).toBeLessThanOrEqual(210);
  });
});

describe('capText', () => {
  test('text within the budget is unchanged', () => {
    expect(capText('hello', 5)).toBe('hello');
    expect(capText('', 0)).toBe('');
  });

  test('longer text is cut to exactly the budget, ending with a note', () => {
    const text = 'x'.repeat(1_000);
    const capped = capText(text, 500);
    expect(capped).toHaveLength(500);
    expect(capped).toMatch(/^x+\n\n…\[\d+ characters cut to stay within the response size limit\]$/);
  });

  // BUG: the note counts text.length - budget (500 above), but the note itself takes room, so
  // 500 + note length characters are removed (here 82 are removed and the note says 20); and when the
  // budget is smaller than the note, the result is longer than the budget (61 characters for 10).
  test('the note states how many characters were removed, and the result never exceeds the budget', () => {
    const capped = capText('x'.repeat(100), 80);
    const kept = capped.indexOf('\n\n…');
    expect(capped).toContain(`[${100 - kept} characters cut`);
    expect(capText('x'.repeat(100), 10).length).toBeLessThanOrEqual(10);
  });
});
