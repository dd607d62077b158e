/**
 * Keeps a tool result within a character budget, so that the whole MCP response
 * stays far below Lambda's 6 MB buffered limit (a response over it is a 502 the
 * agent cannot act on). Long strings are cut first, longest first, each marked
 * where it was cut; if that is not enough, trailing list items go. The caller
 * gets a sentence saying what was cut.
 */

/**
 * Default budget, in characters, for a tool's structured result (its text
 * rendering gets the same). 60,000 characters is about 15,000 tokens: within
 * Claude Code's default limit of 25,000 tokens per tool result, and the text and
 * structured content together stay within the roughly 150,000 characters
 * Claude.ai takes. An agent that needs more asks for less at a time (fewer
 * results, a narrower crawl), which the cut notice tells it.
 */
export const DEFAULT_OUTPUT_BUDGET_CHARS = 60_000;

/** Strings are never cut below this, so that what remains is still worth reading. */
const MIN_STRING_CHARS = 200;

export interface BudgetResult<T> {
  readonly value: T;
  /** Undefined when nothing was cut. */
  readonly notice: string | undefined;
}

type StringSlot = { holder: Record<string, unknown> | unknown[]; key: string | number; length: number };

function stringSlots(value: unknown, slots: StringSlot[] = []): StringSlot[] {
  if (Array.isArray(value)) {
    value.forEach((item, index) => {
      if (typeof item === 'string') slots.push({ holder: value, key: index, length: item.length });
      else stringSlots(item, slots);
    });
  } else if (value && typeof value === 'object') {
    for (const [key, item] of Object.entries(value)) {
      if (typeof item === 'string') slots.push({ holder: value as Record<string, unknown>, key, length: item.length });
      else stringSlots(item, slots);
    }
  }
  return slots;
}

function largestArray(value: unknown, best: unknown[] | undefined = undefined): unknown[] | undefined {
  if (Array.isArray(value)) {
    if (!best || value.length > best.length) best = value;
    for (const item of value) best = largestArray(item, best);
  } else if (value && typeof value === 'object') {
    for (const item of Object.values(value)) best = largestArray(item, best);
  }
  return best;
}

const size = (value: unknown) => JSON.stringify(value).length;

/** Room a cut marker (` …[123456 characters cut]`) takes, allowed for when deciding how much to cut. */
const MARKER_ALLOWANCE = 32;

/** The highest length L (at least the floor) such that cutting every string down to L removes `needed` characters. */
function waterLevel(lengths: readonly number[], needed: number): number {
  const sorted = [...lengths].sort((a, b) => b - a);
  let removed = 0;
  for (let i = 0; i < sorted.length; i++) {
    const next = Math.max(sorted[i + 1] ?? MIN_STRING_CHARS, MIN_STRING_CHARS);
    const step = (i + 1) * (sorted[i]! - next);
    if (removed + step >= needed) return Math.max(MIN_STRING_CHARS, Math.floor(sorted[i]! - (needed - removed) / (i + 1)));
    removed += step;
  }
  return MIN_STRING_CHARS;
}

export function fitToBudget<T>(input: T, budgetChars: number): BudgetResult<T> {
  if (size(input) <= budgetChars) return { value: input, notice: undefined };
  const value = structuredClone(input);
  let cutChars = 0;
  let cutStrings = 0;
  let droppedItems = 0;

  // Cut long strings once each, down to a common level: the longest lose the most.
  // Lengths are counted before JSON escaping, so the estimate errs on cutting enough.
  const slots = stringSlots(value).filter((slot) => slot.length > MIN_STRING_CHARS + MARKER_ALLOWANCE);
  const excess = size(value) - budgetChars;
  const lengths = slots.map((slot) => slot.length);
  let level = waterLevel(lengths, excess);
  for (let i = 0; i < 3; i++) {
    const cuts = lengths.filter((length) => length - level > MARKER_ALLOWANCE).length;
    level = waterLevel(lengths, excess + cuts * MARKER_ALLOWANCE);
  }
  for (const slot of slots) {
    if (slot.length - level <= MARKER_ALLOWANCE) continue; // the marker would cost more than the cut saves
    const holder = slot.holder as Record<string | number, string>;
    const text = holder[slot.key]!;
    const omitted = text.length - level;
    holder[slot.key] = `${text.slice(0, level)} …[${omitted} characters cut]`;
    cutChars += omitted;
    cutStrings += 1;
  }

  while (size(value) > budgetChars) {
    const list = largestArray(value);
    if (!list || list.length === 0) break;
    // Drop from the end in proportion to the excess, at least one item per pass.
    const excess = size(value) - budgetChars;
    const perItem = Math.max(1, size(list) / list.length);
    const drop = Math.min(list.length, Math.max(1, Math.ceil(excess / perItem)));
    list.splice(list.length - drop, drop);
    droppedItems += drop;
  }

  const parts: string[] = [];
  if (cutStrings > 0) parts.push(`${cutChars} characters were cut from ${cutStrings} long field(s)`);
  if (droppedItems > 0) parts.push(`${droppedItems} trailing item(s) were left out`);
  const notice = `The result was larger than this server's ${budgetChars}-character budget: ${parts.join(', and ')}. Ask for less (fewer results or URLs, a smaller limit, or without raw content) to see everything.`;
  return { value, notice };
}

/** Cut a rendered text to the budget, saying at the end how much was cut. */
export function capText(text: string, budgetChars: number): string {
  if (text.length <= budgetChars) return text;
  const note = (cut: number) => `\n\n…[${cut} characters cut to stay within the response size limit]`;
  // The note's length depends on the number in it: settle on a length that fills the budget exactly.
  let kept = budgetChars - note(text.length).length;
  for (let i = 0; i < 3 && kept > 0; i++) kept = budgetChars - note(text.length - kept).length;
  if (kept <= 0) return text.slice(0, budgetChars);
  return text.slice(0, kept) + note(text.length - kept);
}

/** A tool's answer as MCP carries it: the text a model reads, and the same data as structured content. */
export interface FittedResult {
  readonly content: Array<{ type: 'text'; text: string }>;
  readonly structuredContent: Record<string, unknown>;
}

/**
 * A tool's output as the agent gets it: fitted to the budget (with a notice
 * saying what was cut), rendered, the text capped too, and the fitted output
 * as structured content.
 */
export function fittedResult<T extends object>(output: T, render: (fitted: T & { notice?: string }) => string, budgetChars: number): FittedResult {
  const { value, notice } = fitToBudget(output, budgetChars);
  const structured = notice ? { ...value, notice } : value;
  return {
    content: [{ type: 'text', text: capText(render(structured), budgetChars) }],
    structuredContent: structured as Record<string, unknown>,
  };
}
