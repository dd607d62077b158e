/**
 * The offline demo's Tavily (`npm run dev -- --demo`): the tests' loopback
 * stand-in for api.tavily.com (test/fixtures/fake-tavily.ts, same endpoints,
 * key check and answer shapes), with every answer marked as sample data, so
 * that whatever a tool shows says it came from no web page.
 *
 * Local only: nothing under lambda/ imports it, so no function bundle contains
 * it, and the CDK app refuses a demo setting (lib/config.ts).
 */
import { defaultAnswer, startFakeTavily, type Endpoint, type FakeTavily } from '../test/fixtures/fake-tavily.js';

export const SAMPLE_DATA_NOTE = 'SAMPLE DATA from the offline demo (npm run dev -- --demo), not from the web';
const TITLE_MARK = '[Sample data]';
/** The stand-in's key, which the demo gives the functions in place of a real one. */
export const SAMPLE_TAVILY_API_KEY = 'tvly-offline-demo-sample-data';

type Answer = Record<string, unknown> & { results?: unknown[] };

const marked = (content: unknown) => (typeof content === 'string' ? `${SAMPLE_DATA_NOTE}.\n\n${content}` : content);

/** Tavily's answer as the tests' stand-in gives it, each result marked. */
export function sampleAnswer(endpoint: Endpoint, body: Record<string, unknown>): unknown {
  const answer = defaultAnswer(endpoint, body) as Answer;
  const results = answer.results ?? [];
  switch (endpoint) {
    case 'search':
      return {
        ...answer,
        ...(typeof answer.answer === 'string' ? { answer: `${SAMPLE_DATA_NOTE}: ${answer.answer}` } : {}),
        results: results.map((result) => {
          const { title, content, raw_content: rawContent } = result as Record<string, unknown>;
          return { ...(result as object), title: `${TITLE_MARK} ${String(title)}`, content: `${SAMPLE_DATA_NOTE}: ${String(content)}`, raw_content: marked(rawContent) };
        }),
      };
    case 'extract':
    case 'crawl':
      return { ...answer, results: results.map((result) => ({ ...(result as object), raw_content: marked((result as Record<string, unknown>).raw_content) })) };
    case 'map':
      // A map is URLs only: the mark goes into each path.
      return { ...answer, results: results.map((url) => String(url).replace(/\/([^/]*)$/, '/sample-data-$1')) };
  }
}

export function startSampleTavily(): Promise<FakeTavily> {
  return startFakeTavily(SAMPLE_TAVILY_API_KEY, { answer: sampleAnswer });
}
