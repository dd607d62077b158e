/**
 * Keeps a tool result within a character budget, so that the whole MCP response
 * stays far below Lambda's 6 MB buffered limit (a response over it is a 502 the
 * agent cannot act on). Long strings are cut first, longest first, each marked
 * where it was cut; if that is not enough, trailing list items go. The caller
 * gets a sentence saying what was cut.
 */

/** Default budget, in characters, for a tool's structured result (its text rendering gets the same). */
export const DEFAULT_OUTPUT_BUDGET_CHARS = 1_000_000;

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

export function fitToBudget<T>(input: T, budgetChars: number): BudgetResult<T> {
  if (size(input) <= budgetChars) return { value: input, notice: undefined };
  const value = structuredClone(input);
  let cutChars = 0;
  let cutStrings = 0;
  let droppedItems = 0;

  for (let round = 0; round < 8 && size(value) > budgetChars; round++) {
    const excess = size(value) - budgetChars;
    const slots = stringSlots(value).filter((slot) => slot.length > MIN_STRING_CHARS);
    if (slots.length === 0) break;
    // Water-filling: the highest cap L with sum(max(0, len - L)) >= excess (plus room for markers).
    const lengths = slots.map((slot) => slot.length).sort((a, b) => b - a);
    const needed = excess + slots.length * 64;
    let cap = MIN_STRING_CHARS;
    let removed = 0;
    for (let i = 0; i < lengths.length; i++) {
      const next = lengths[i + 1] ?? MIN_STRING_CHARS;
      const level = Math.max(next, MIN_STRING_CHARS);
      if (removed + (i + 1) * (lengths[i]! - level) >= needed) {
        cap = Math.max(MIN_STRING_CHARS, Math.floor(lengths[i]! - (needed - removed) / (i + 1)));
        break;
      }
      removed += (i + 1) * (lengths[i]! - level);
      cap = level;
    }
    for (const slot of slots) {
      if (slot.length <= cap) continue;
      const text = (slot.holder as Record<string | number, string>)[slot.key]!;
      const omitted = text.length - cap;
      (slot.holder as Record<string | number, string>)[slot.key] = `${text.slice(0, cap)} …[${omitted} characters cut]`;
      cutChars += omitted;
      cutStrings += 1;
    }
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

/** Cut a rendered text to the budget, saying so at the end. */
export function capText(text: string, budgetChars: number): string {
  if (text.length <= budgetChars) return text;
  const note = `\n\n…[${text.length - budgetChars} characters cut to stay within the response size limit]`;
  return text.slice(0, Math.max(0, budgetChars - note.length)) + note;
}
