// Compiled (never run) by test/types/client.test.ts against the built types/client.d.ts.

import type { AppType } from "beatpass-edge/client";
import { hc } from "hono/client";

const bp = hc<AppType>("https://beatpass-edge.example", { headers: { "X-Api-Key": "bp_example" } });

export async function trackName(id: string): Promise<string> {
  const res = await bp.v1.tracks[":id"].$get({ param: { id }, query: { with: "tags" } });
  if (res.status === 404) {
    const problem = await res.json();
    // @ts-expect-error a problem body has no `data`
    problem.data;
    return `not found: ${problem.detail}`;
  }
  if (res.status !== 200) return `failed: ${res.status}`;
  const { data } = await res.json();
  const bpm: number | null | undefined = data.bpm;
  const verified: boolean | null | undefined = data.artists?.[0]?.verified;
  return `${data.name} ${bpm ?? ""} ${verified ?? ""}`;
}

export async function firstResults(query: string): Promise<number> {
  const res = await bp.v1.search.$get({ query: { query, types: "track,album" } });
  if (res.status !== 200) return 0;
  const { data } = await res.json();
  return data.tracks.length + data.albums.length;
}

export async function embed(url: string): Promise<string> {
  const res = await bp.oembed.$get({ query: { url } });
  if (res.status === 200) return (await res.json()).html;
  return (await res.json()).code;
}

/** Each route takes the query parameters it documents and no others: a typo fails to compile. */
export async function unknownQueryParameters(): Promise<void> {
  // @ts-expect-error an entity route takes `with` only
  await bp.v1.tracks[":id"].$get({ param: { id: "1" }, query: { with: "tags", widht: "2" } });
  // @ts-expect-error a route without parameters takes none
  await bp.v1.genres.$get({ query: { page: "2" } });
  // @ts-expect-error a list takes page and per_page only
  await bp.v1.artists[":id"].tracks.$get({ param: { id: "1" }, query: { page: "2", sort: "new" } });
  // @ts-expect-error the track list takes its documented filters only
  await bp.v1.tracks.$get({ query: { page: "2", sort: "new" } });
  // @ts-expect-error search takes its documented parameters only
  await bp.v1.search.$get({ query: { query: "lofi", sort: "new" } });
}
