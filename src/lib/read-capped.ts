/**
 * Reads a request or response body, but never more than `maxBytes`: a declared Content-Length over
 * the cap is refused before reading, and a stream that grows past it is stopped there.
 * Returns the bytes, or undefined when the body was too large.
 *
 * `cancel`: an upstream response's body is cancelled (its connection is ours to drop). An
 * incoming request's body is only left unread: cancelling it made the next request on the
 * same keep-alive connection hang under wrangler dev, while an unread body is drained by the
 * runtime as for any handler that never reads it.
 */
export async function readCapped(
  res: { headers: Headers; body: ReadableStream<Uint8Array> | null },
  maxBytes: number,
  { cancel = true }: { cancel?: boolean } = {},
): Promise<Uint8Array | undefined> {
  const declared = Number(res.headers.get("Content-Length"));
  if (Number.isFinite(declared) && declared > maxBytes) {
    if (cancel) await res.body?.cancel().catch(() => undefined);
    return undefined;
  }
  if (!res.body) return new Uint8Array();
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > maxBytes) {
      if (cancel) await reader.cancel().catch(() => undefined);
      else reader.releaseLock();
      return undefined;
    }
    chunks.push(value);
  }
  const all = new Uint8Array(total);
  let offset = 0;
  for (const c of chunks) {
    all.set(c, offset);
    offset += c.byteLength;
  }
  return all;
}
