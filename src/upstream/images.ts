import { readCapped } from "../lib/read-capped";

/**
 * Artwork for SVG cards. An SVG shown through <img> may not load anything external, so the
 * image is fetched here and inlined as a data: URI. Only from allowlisted hosts (the caller
 * checks), never with the BeatPass token, no redirects, image types only, and capped in
 * size so one picture cannot bloat every README that shows the card.
 */
export const MAX_IMAGE_BYTES = 96 * 1024;
export const IMAGE_TIMEOUT_MS = 3000;
const IMAGE_TYPES = new Set(["image/jpeg", "image/png", "image/webp", "image/gif"]);

export class ImageError extends Error {
  constructor(reason: string) {
    super(`image not usable: ${reason}`);
    this.name = "ImageError";
  }
}

/** Fetches `url` and returns it as a base64 data: URI, or throws ImageError. */
export async function fetchImageDataUri(url: string): Promise<string> {
  let res: Response;
  try {
    res = await fetch(url, {
      headers: { Accept: "image/avif,image/webp,image/png,image/jpeg,image/gif" },
      redirect: "manual",
      signal: AbortSignal.timeout(IMAGE_TIMEOUT_MS),
    });
  } catch {
    throw new ImageError("fetch failed");
  }
  const type = (res.headers.get("Content-Type") ?? "").split(";")[0]?.trim().toLowerCase() ?? "";
  if (!res.ok || !IMAGE_TYPES.has(type)) {
    await res.body?.cancel().catch(() => undefined);
    throw new ImageError(res.ok ? `type ${type || "missing"}` : `status ${res.status}`);
  }
  let bytes: Uint8Array | undefined;
  try {
    bytes = await readCapped(res, MAX_IMAGE_BYTES);
  } catch {
    throw new ImageError("body failed");
  }
  if (!bytes) throw new ImageError("too large");
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return `data:${type};base64,${btoa(binary)}`;
}
