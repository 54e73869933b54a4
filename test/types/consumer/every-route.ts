// One call per GET route of the OpenAPI document, through the typed client. The types test
// compiles it as a DOM-only consumer against the built types/client.d.ts; the workers test
// (test/integration/typed-client.test.ts) runs it against the Worker and compares its keys
// with the document's paths. A route the client cannot call fails to compile.

import type { AppType } from "beatpass-edge/client";
import type { hc } from "hono/client";

type Client = ReturnType<typeof hc<AppType>>;

export function everyGetRoute(bp: Client) {
  return {
    "/": () => bp.index.$get(),
    "/openapi.json": () => bp["openapi.json"].$get(),
    "/docs": () => bp.docs.$get(),
    "/healthz": () => bp.healthz.$get(),
    "/embed.js": () => bp["embed.js"].$get(),
    "/problems/{code}": () => bp.problems[":code"].$get({ param: { code: "not_found" } }),
    "/oembed": () => bp.oembed.$get({ query: { url: "https://beatpass.ca/track/7" } }),
    "/widget/{kind}/{file}": () =>
      bp.widget[":kind"][":file"].$get({ param: { kind: "track", file: "7.svg" }, query: { theme: "dark" } }),
    "/feeds/artist/{file}": () => bp.feeds.artist[":file"].$get({ param: { file: "3.atom" } }),
    "/feeds/playlist/{file}": () => bp.feeds.playlist[":file"].$get({ param: { file: "6.rss" } }),
    "/feeds/genre/{file}": () => bp.feeds.genre[":file"].$get({ param: { file: "trap.json" } }),
    "/feeds/tag/{file}": () => bp.feeds.tag[":file"].$get({ param: { file: "mellow.atom" } }),
    "/v1/tracks": () => bp.v1.tracks.$get({ query: { per_page: "5" } }),
    "/v1/tracks/{id}": () => bp.v1.tracks[":id"].$get({ param: { id: "7" }, query: { with: "tags" } }),
    "/v1/tracks/{id}/lyrics": () => bp.v1.tracks[":id"].lyrics.$get({ param: { id: "3" }, query: {} }),
    "/v1/tracks/{id}/wave": () => bp.v1.tracks[":id"].wave.$get({ param: { id: "7" }, query: {} }),
    "/v1/albums": () => bp.v1.albums.$get({ query: { page: "1" } }),
    "/v1/albums/{id}": () => bp.v1.albums[":id"].$get({ param: { id: "1" }, query: { with: "tracks" } }),
    "/v1/artists": () => bp.v1.artists.$get({ query: {} }),
    "/v1/artists/{id}": () => bp.v1.artists[":id"].$get({ param: { id: "3" }, query: {} }),
    "/v1/artists/{id}/tracks": () => bp.v1.artists[":id"].tracks.$get({ param: { id: "3" }, query: {} }),
    "/v1/artists/{id}/albums": () => bp.v1.artists[":id"].albums.$get({ param: { id: "3" }, query: {} }),
    "/v1/playlists/{id}": () => bp.v1.playlists[":id"].$get({ param: { id: "1" }, query: {} }),
    "/v1/playlists/{id}/tracks": () => bp.v1.playlists[":id"].tracks.$get({ param: { id: "1" }, query: {} }),
    "/v1/genres": () => bp.v1.genres.$get({ query: {} }),
    "/v1/tags/{name}/tracks": () => bp.v1.tags[":name"].tracks.$get({ param: { name: "dark" }, query: {} }),
    "/v1/tags/{name}/albums": () => bp.v1.tags[":name"].albums.$get({ param: { name: "dark" }, query: {} }),
    "/v1/search": () => bp.v1.search.$get({ query: { query: "night", types: "track" } }),
    "/v1/users/{id}": () => bp.v1.users[":id"].$get({ param: { id: "1" }, query: {} }),
  };
}

/** The anonymous and the operator's /healthz bodies are told apart by their fields. */
export async function tokenConfigured(bp: Client): Promise<boolean | undefined> {
  const res = await bp.healthz.$get();
  if (res.status !== 200) return undefined;
  const health = await res.json();
  // @ts-expect-error everyone but the operator gets the status alone
  const unchecked: boolean = health.token_configured;
  return "token_configured" in health ? health.token_configured && unchecked : undefined;
}
