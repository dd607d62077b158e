import { WebSearchMcpError } from '../../../lambda/shared/errors.js';
import {
  BodyTooLargeError,
  decodeUtf8,
  errorResponse,
  isJsonMediaType,
  isPlainObject,
  jsonResponse,
  mediaType,
  methodNotAllowed,
  parseJson,
  readLimited,
} from '../../../lambda/shared/http.js';

function streamOf(chunks: Uint8Array[], onCancel?: () => void): ReadableStream<Uint8Array> {
  let index = 0;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      if (index < chunks.length) controller.enqueue(chunks[index++]!);
      else controller.close();
    },
    cancel() {
      onCancel?.();
    },
  });
}

describe('readLimited', () => {
  test('no body is zero bytes', async () => {
    expect(await readLimited(null, 10)).toEqual({ ok: true, bytes: new Uint8Array(0) });
  });

  test('chunks are joined in order, up to and including the limit', async () => {
    const result = await readLimited(streamOf([Uint8Array.of(1, 2), Uint8Array.of(3), Uint8Array.of(4, 5)]), 5);
    expect(result).toEqual({ ok: true, bytes: Uint8Array.of(1, 2, 3, 4, 5) });
  });

  test('one byte over the limit is refused, and the rest of the stream is cancelled unread', async () => {
    let cancelled = false;
    let pulled = 0;
    const chunks = [Uint8Array.of(1, 2, 3), Uint8Array.of(4, 5, 6), Uint8Array.of(7)];
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (pulled < chunks.length) controller.enqueue(chunks[pulled++]!);
        else controller.close();
      },
      cancel() {
        cancelled = true;
      },
    }, { highWaterMark: 0 });
    const result = await readLimited(stream, 5);
    expect(result.ok).toBe(false);
    const { error } = result as { error: BodyTooLargeError };
    expect(error).toBeInstanceOf(BodyTooLargeError);
    expect(error).toBeInstanceOf(WebSearchMcpError);
    expect(error).toMatchObject({ code: 'ERR_TOO_LARGE', name: 'BodyTooLargeError', maxBytes: 5 });
    expect(cancelled).toBe(true);
    expect(pulled).toBe(2);
  });
});

describe('small helpers', () => {
  test('decodeUtf8 is strict', () => {
    expect(decodeUtf8(Buffer.from('héllo'))).toBe('héllo');
    expect(decodeUtf8(Uint8Array.of(0xc3))).toBeUndefined();
    expect(decodeUtf8(Uint8Array.of(0xff))).toBeUndefined();
  });

  test('parseJson never throws', () => {
    expect(parseJson('{"a":1}')).toEqual({ ok: true, value: { a: 1 } });
    expect(parseJson('null')).toEqual({ ok: true, value: null });
    expect(parseJson('{')).toEqual({ ok: false });
  });

  test('isPlainObject', () => {
    expect(isPlainObject({})).toBe(true);
    expect(isPlainObject([])).toBe(false);
    expect(isPlainObject(null)).toBe(false);
    expect(isPlainObject('x')).toBe(false);
  });

  test('mediaType and isJsonMediaType', () => {
    expect(mediaType(' Application/JSON ; charset=utf-8')).toBe('application/json');
    expect(mediaType(null)).toBe('');
    expect(isJsonMediaType('application/json')).toBe(true);
    expect(isJsonMediaType('APPLICATION/JSON; charset=UTF-8')).toBe(true);
    expect(isJsonMediaType('application/vnd.api+json')).toBe(true);
    expect(isJsonMediaType('application/jsonp')).toBe(false);
    expect(isJsonMediaType('text/json')).toBe(false);
    expect(isJsonMediaType('text/plain; x=application/json')).toBe(false);
    expect(isJsonMediaType(null)).toBe(false);
  });

  test('jsonResponse: JSON, no-store, extra headers override', async () => {
    const response = jsonResponse(418, { a: 1 }, { 'Cache-Control': 'public', 'X-Extra': 'y' });
    expect(response.status).toBe(418);
    expect(Object.fromEntries(response.headers.entries())).toEqual({
      'content-type': 'application/json',
      'cache-control': 'public',
      'x-extra': 'y',
    });
    expect(await response.text()).toBe('{"a":1}');
  });

  test('errorResponse and methodNotAllowed', async () => {
    const error = errorResponse(400, 'invalid_request', 'Bad.');
    expect(await error.json()).toEqual({ error: 'invalid_request', error_description: 'Bad.' });
    const notAllowed = methodNotAllowed(['GET', 'POST']);
    expect(notAllowed.status).toBe(405);
    expect(notAllowed.headers.get('allow')).toBe('GET, POST');
    expect(await notAllowed.json()).toEqual({ error: 'method_not_allowed', error_description: 'Use GET or POST on this path.' });
  });
});
