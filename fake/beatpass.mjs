import { ALBUMS, ARTISTS, GENRES, IMG, PLAYLISTS, peaksFor, TAGS, TRACKS, USERS } from "./catalog.mjs";
import { photoFor } from "./photo.mjs";
import { artworkPng } from "./png.mjs";

/**
 * A fake BeatPass API (https://open.beatpass.ca/api/v1) as a web-standard fetch handler,
 * so the same code answers the Worker's tests inside workerd (through a fetch mock) and
 * `npm start` on Node (fake/server.mjs). It follows BeatPass's documented behaviour:
 * Bearer token check, anonymous vs token tiers, Laravel paginators, X-RateLimit-* headers,
 * a per-minute limit with 429 + Retry-After, and BeatPass's error body shapes. Faults can
 * be injected per path to play a bad day at BeatPass.
 */

export const FAKE_BASE_PATH = "/api/v1";

const byId = (list) => new Map(list.map((x) => [x.id, x]));
const TRACK_BY_ID = byId(TRACKS);
const ALBUM_BY_ID = byId(ALBUMS);
const ARTIST_BY_ID = byId(ARTISTS);
const PLAYLIST_BY_ID = byId(PLAYLISTS);
const USER_BY_ID = byId(USERS);
const GENRE_BY_ID = byId(GENRES);
const TAG_BY_ID = byId(TAGS);

class HttpError extends Error {
  constructor(status, body, headers = {}) {
    super(`fake ${status}`);
    this.status = status;
    this.body = body;
    this.headers = headers;
  }
}

const notFound = () => new HttpError(404, { message: "Resource not found." });
const unauthenticated = () => new HttpError(401, { message: "Unauthenticated." });

// ---- projections: token tier vs anonymous tier (docs/beatpass-api/REFERENCE.md §1.3) ----

const artistRef = (a) => ({
  id: a.id,
  name: a.name,
  image_small: a.image_small,
  verified: a.verified,
  model_type: "artist",
});

function trackOut(t, rich, withs = new Set()) {
  if (!rich) {
    const { id, name, image, created_at, model_type, duration_text } = t;
    return { id, name, image, created_at, model_type, duration_text };
  }
  const { artist_ids, album_id, genre_ids, tag_ids, lyrics, ...fields } = t;
  const out = { ...fields, artists: artist_ids.map((id) => artistRef(ARTIST_BY_ID.get(id))) };
  if (withs.has("album") && album_id) out.album = albumOut(ALBUM_BY_ID.get(album_id), true, new Set(["tracks"]));
  if (withs.has("genres")) out.genres = genre_ids.map((id) => GENRE_BY_ID.get(id));
  if (withs.has("tags")) out.tags = tag_ids.map((id) => TAG_BY_ID.get(id));
  return out;
}

function albumOut(a, rich, withs = new Set()) {
  if (!rich) {
    const { id, name, model_type, image, release_date } = a;
    return { id, name, model_type, image, release_date };
  }
  const { artist_id, genre_ids, tag_ids, ...fields } = a;
  const out = { ...fields, artists: [artistRef(ARTIST_BY_ID.get(artist_id))] };
  if (withs.has("tracks")) out.tracks = TRACKS.filter((t) => t.album_id === a.id).map((t) => trackOut(t, true));
  if (withs.has("genres")) out.genres = genre_ids.map((id) => GENRE_BY_ID.get(id));
  if (withs.has("tags")) out.tags = tag_ids.map((id) => TAG_BY_ID.get(id));
  return out;
}

function artistOut(a, rich, withs, q) {
  if (!rich) return { id: a.id, name: a.name, model_type: "artist" };
  const { genre_ids, ...fields } = a;
  const out = { ...fields };
  const tracks = TRACKS.filter((t) => t.artist_ids.includes(a.id));
  if (withs.has("albums")) {
    out.albums = paginate(
      ALBUMS.filter((al) => al.artist_id === a.id).map((al) => albumOut(al, true)),
      q,
      "perPage",
    );
  }
  if (withs.has("topTracks"))
    out.top_tracks = [...tracks]
      .sort((x, y) => y.plays - x.plays)
      .slice(0, 5)
      .map((t) => trackOut(t, true));
  if (withs.has("similar"))
    out.similar = ARTISTS.filter((o) => o.id !== a.id)
      .slice(0, 3)
      .map(artistRef);
  if (withs.has("genres")) out.genres = genre_ids.map((id) => GENRE_BY_ID.get(id));
  return out;
}

const playlistBase = (p) => {
  const { track_ids, ...fields } = p;
  return fields;
};

// ---- Laravel paginator ----

function paginate(items, q, sizeParam, defaultSize = 20) {
  const page = Math.max(1, Number.parseInt(q.get("page") ?? "1", 10) || 1);
  const perPage = Math.max(1, Number.parseInt(q.get(sizeParam) ?? String(defaultSize), 10) || defaultSize);
  const start = (page - 1) * perPage;
  const data = items.slice(start, start + perPage);
  return {
    current_page: page,
    from: data.length ? start + 1 : null,
    to: data.length ? start + data.length : null,
    per_page: perPage,
    last_page: Math.max(1, Math.ceil(items.length / perPage)),
    total: items.length,
    data,
  };
}

// ---- routes: the documented catalog reads only ----

const withSet = (q) => new Set((q.get("with") ?? "").split(",").filter(Boolean));
const idOf = (s) => (/^\d+$/.test(s) ? Number(s) : Number.NaN);
const get = (map, s) => {
  const v = map.get(idOf(s));
  if (!v) throw notFound();
  return v;
};
/** With `synthesizeTracks`, any id up to 100000 exists (a copy of a catalogue track): benchmarks need many keys. */
const trackFor = (s, opts) => {
  const id = idOf(s);
  const known = TRACK_BY_ID.get(id);
  if (known || !opts.synthesizeTracks || !(id > 0 && id <= 100_000)) return known ?? get(TRACK_BY_ID, s);
  const base = TRACKS[(id - 1) % 60];
  return { ...base, id, name: `${base.name} ${id}` };
};
const needToken = (rich) => {
  if (!rich) throw unauthenticated();
};
const tagByName = (name) => {
  const tag = TAGS.find((t) => t.name === name);
  if (!tag) throw notFound();
  return tag;
};

const ROUTES = [
  [
    /^\/tracks$/,
    (_m, q, rich) => {
      const needle = (q.get("query") ?? "").toLowerCase();
      const items = TRACKS.filter((t) => t.name.toLowerCase().includes(needle)).map((t) => trackOut(t, rich));
      return { status: "success", tracks: paginate(items, q, "per_page", 15) };
    },
  ],
  [
    /^\/tracks\/([^/]+)$/,
    (m, q, rich, opts) => ({ status: "success", track: trackOut(trackFor(m[1], opts), rich, withSet(q)) }),
  ],
  [
    /^\/tracks\/([^/]+)\/lyrics$/,
    (m) => {
      const t = get(TRACK_BY_ID, m[1]);
      return { status: "success", lyric: t.lyrics ? { id: 1000 + t.id, text: t.lyrics } : null };
    },
  ],
  // A synthesized track has its waveform too: cards read both.
  [/^\/tracks\/([^/]+)\/wave$/, (m, _q, _rich, opts) => ({ peaks: peaksFor(trackFor(m[1], opts).id) })],
  [
    /^\/albums$/,
    (_m, q, rich) => ({
      status: "success",
      albums: paginate(
        ALBUMS.map((a) => albumOut(a, rich)),
        q,
        "per_page",
        15,
      ),
    }),
  ],
  [
    /^\/albums\/([^/]+)$/,
    (m, q, rich) => ({
      status: "success",
      album: albumOut(get(ALBUM_BY_ID, m[1]), rich, new Set([...withSet(q), "tracks"])),
    }),
  ],
  [
    /^\/artists$/,
    (_m, q, rich) => {
      needToken(rich);
      return { status: "success", artists: paginate(ARTISTS.map(artistRef), q, "per_page", 15) };
    },
  ],
  [
    /^\/artists\/([^/]+)$/,
    (m, q, rich) => ({ status: "success", artist: artistOut(get(ARTIST_BY_ID, m[1]), rich, withSet(q), q) }),
  ],
  [
    /^\/artists\/([^/]+)\/tracks$/,
    (m, q, rich) => {
      const a = get(ARTIST_BY_ID, m[1]);
      return {
        status: "success",
        pagination: paginate(
          TRACKS.filter((t) => t.artist_ids.includes(a.id)).map((t) => trackOut(t, rich)),
          q,
          "perPage",
        ),
      };
    },
  ],
  [
    /^\/artists\/([^/]+)\/albums$/,
    (m, q, rich) => {
      needToken(rich);
      const a = get(ARTIST_BY_ID, m[1]);
      return {
        status: "success",
        pagination: paginate(
          ALBUMS.filter((al) => al.artist_id === a.id).map((al) => albumOut(al, true)),
          q,
          "perPage",
        ),
      };
    },
  ],
  [
    /^\/playlists\/([^/]+)$/,
    (m, _q, rich) => {
      const p = get(PLAYLIST_BY_ID, m[1]);
      const tracks = p.track_ids.map((id) => TRACK_BY_ID.get(id));
      return {
        status: "success",
        playlist: {
          ...playlistBase(p),
          totalDuration: tracks.reduce((s, t) => s + t.duration, 0),
          tracks: paginate(
            tracks.map((t) => trackOut(t, rich)),
            new URLSearchParams(),
            "perPage",
          ),
        },
      };
    },
  ],
  [
    /^\/playlists\/([^/]+)\/tracks$/,
    (m, q, rich) => {
      const p = get(PLAYLIST_BY_ID, m[1]);
      return {
        status: "success",
        pagination: paginate(
          p.track_ids.map((id) => trackOut(TRACK_BY_ID.get(id), rich)),
          q,
          "perPage",
        ),
      };
    },
  ],
  [/^\/genres$/, (_m, q) => ({ status: "success", pagination: paginate(GENRES, q, "perPage") })],
  [
    /^\/tags\/([^/]+)\/tracks$/,
    (m, q, rich) => {
      needToken(rich);
      const tag = tagByName(m[1]);
      return {
        status: "success",
        pagination: paginate(
          TRACKS.filter((t) => t.tag_ids.includes(tag.id)).map((t) => trackOut(t, true)),
          q,
          "perPage",
        ),
      };
    },
  ],
  [
    /^\/tags\/([^/]+)\/albums$/,
    (m, q, rich) => {
      needToken(rich);
      const tag = tagByName(m[1]);
      return {
        status: "success",
        pagination: paginate(
          ALBUMS.filter((a) => a.tag_ids.includes(tag.id)).map((a) => albumOut(a, true)),
          q,
          "perPage",
        ),
      };
    },
  ],
  [/^\/search$/, (_m, q, rich) => search(q, rich)],
  [
    /^\/users\/([^/]+)$/,
    (m, _q, rich) => {
      needToken(rich);
      return { status: "success", user: get(USER_BY_ID, m[1]) };
    },
  ],
];

function search(q, rich) {
  const query = (q.get("query") ?? "").trim();
  if (!query)
    throw new HttpError(422, {
      message: "The query field is required.",
      errors: { query: ["The query field is required."] },
    });
  const needle = query.toLowerCase();
  const limit = Math.max(1, Number.parseInt(q.get("limit") ?? "3", 10) || 3);
  const types = new Set((q.get("types") ?? "album,artist,playlist,track,user").split(","));
  const pick = (type, list, out) =>
    types.has(type)
      ? list
          .filter((x) => (x.name ?? x.display_name).toLowerCase().includes(needle))
          .slice(0, limit)
          .map(out)
      : [];
  return {
    status: "success",
    query,
    results: {
      tracks: pick("track", TRACKS, (t) => trackOut(t, rich)),
      albums: pick("album", ALBUMS, (a) => albumOut(a, rich)),
      artists: pick("artist", ARTISTS, (a) => (rich ? artistRef(a) : artistOut(a, false))),
      playlists: pick("playlist", PLAYLISTS, playlistBase),
      users: pick("user", USERS, (u) => ({ id: u.id, display_name: u.display_name, avatar: u.avatar })),
    },
  };
}

// ---- faults ----

/**
 * A fault: `{ path?: string (substring of the API path, default all), kind, times?, ms? }` with
 * kind one of: "status" (`status`, optional `body`, `headers`), "delay" (`ms`, then the
 * normal answer), "hang" (never answers), "network" (connection error), "redirect" (to
 * `location`, by default another host), "invalid_json", "body" (200 with `body` as given),
 * "large" (`bytes` of valid JSON), "trickle" (200 headers at once, then one byte of body
 * every `every` ms, never finishing).
 *
 * And "hold", which is not added with addFault but with `hold(path)`, since the test needs a
 * handle on it: matching requests wait at the fake's door, recorded as arrived, until the
 * test calls `release()`; then they are answered as if they had just come in (other faults
 * included). Tests use it instead of "delay" wherever something must happen while a request
 * is in flight: a delay guesses how long the rest of the test takes, a hold does not.
 */
function matchFault(faults, path) {
  const i = faults.findIndex((f) => !f.path || path.includes(f.path));
  if (i < 0) return undefined;
  const f = faults[i];
  if (f.times !== undefined && --f.times <= 0) faults.splice(i, 1);
  return f;
}

const json = (status, body, headers = {}) =>
  new Response(typeof body === "string" ? body : JSON.stringify(body), {
    status,
    headers: { "Content-Type": "application/json", ...headers },
  });

/** Resolves with `gate`; rejects if the request is aborted first (its caller gave up). */
const heldUntil = (gate, signal) =>
  new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason ?? new Error("aborted"));
    signal?.addEventListener("abort", () => reject(signal.reason ?? new Error("aborted")), { once: true });
    gate.then(resolve);
  });

const sleep = (ms, signal) =>
  new Promise((resolve, reject) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener("abort", () => {
      clearTimeout(t);
      reject(signal.reason ?? new Error("aborted"));
    });
  });

/** A body that starts at once and never ends: one byte at a time until the reader cancels. */
function trickle(everyMs) {
  const encoder = new TextEncoder();
  let timer;
  const body = new ReadableStream({
    start(controller) {
      controller.enqueue(encoder.encode('{"status":"success","track":{"id":1,"name":"'));
    },
    pull(controller) {
      return new Promise((resolve) => {
        timer = setTimeout(() => {
          controller.enqueue(encoder.encode("x"));
          resolve();
        }, everyMs);
      });
    },
    cancel() {
      clearTimeout(timer);
    },
  });
  return new Response(body, { status: 200, headers: { "Content-Type": "application/json" } });
}

function errorBodyFor(status) {
  if (status === 401) return { message: "Unauthenticated." };
  if (status === 404) return { message: "Resource not found." };
  if (status === 429) return { message: "Too Many Attempts.", retry_after: 60 };
  if (status >= 500) return { message: "Server Error" };
  return { message: "Request failed." };
}

/**
 * Creates a fake BeatPass. `token` is the only Bearer value it accepts; requests without
 * Authorization get the anonymous tier. Returns a handle with `fetch(request)`, the
 * `requests` it saw, and `faults` to inject.
 */
export function createFakeBeatpass({
  token,
  rateLimitPerMinute = 300,
  now = () => Date.now(),
  imageBase,
  synthesizeTracks = false,
} = {}) {
  const state = { requests: [], faults: [], holds: [], window: { start: 0, count: 0 }, tokens: [token] };

  function rateHeaders() {
    const t = now();
    if (t - state.window.start >= 60_000) state.window = { start: t, count: 0 };
    state.window.count++;
    const remaining = Math.max(0, rateLimitPerMinute - state.window.count);
    const reset = Math.ceil((state.window.start + 60_000) / 1000);
    return {
      limited: state.window.count > rateLimitPerMinute,
      retryAfter: Math.max(1, reset - Math.floor(t / 1000)),
      headers: {
        "X-RateLimit-Limit": String(rateLimitPerMinute),
        "X-RateLimit-Remaining": String(remaining),
        "X-RateLimit-Reset": String(reset),
      },
    };
  }

  async function handle(request) {
    const url = new URL(request.url);
    const auth = request.headers.get("Authorization");
    state.requests.push({
      method: request.method,
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      headers: Object.fromEntries(request.headers),
    });
    const isApi = url.pathname.startsWith(`${FAKE_BASE_PATH}/`);
    const path = isApi ? url.pathname.slice(FAKE_BASE_PATH.length) : url.pathname;

    const hold = state.holds.find((h) => !h.path || path.includes(h.path));
    if (hold) {
      hold.count++;
      hold.arrive();
      await heldUntil(hold.gate, request.signal);
    }
    const fault = matchFault(state.faults, path);
    if (fault) {
      const injected = await applyFault(fault, request);
      if (injected) return injected;
    }
    if (url.pathname.startsWith("/images/") && url.pathname.endsWith("-photo.jpg")) {
      return new Response(photoFor(url.pathname), {
        headers: { "Content-Type": "image/jpeg", "Cache-Control": "public, max-age=86400" },
      });
    }
    if (url.pathname.startsWith("/images/") && /\.(png|jpg)$/.test(url.pathname)) {
      return new Response(await artworkPng(url.pathname), {
        headers: { "Content-Type": "image/png", "Cache-Control": "public, max-age=86400" },
      });
    }
    if (!isApi) return json(404, { message: "Not Found" });

    const rate = rateHeaders();
    if (rate.limited) return json(429, errorBodyFor(429), { ...rate.headers, "Retry-After": String(rate.retryAfter) });
    if (request.method !== "GET")
      return json(405, { message: "The method is not supported for this route." }, rate.headers);

    let rich = false;
    if (auth !== null) {
      if (!state.tokens.some((t) => t && auth === `Bearer ${t}`)) return json(401, errorBodyFor(401), rate.headers);
      rich = true;
    }
    const route = ROUTES.find(([re]) => re.test(path));
    if (!route) return json(404, errorBodyFor(404), rate.headers);
    try {
      const m = path.match(route[0]).map((s) => decodeURIComponent(s));
      const body = JSON.stringify(route[1](m, url.searchParams, rich, { synthesizeTracks }));
      // With imageBase, artwork URLs point at this fake (which serves /images/*), not at example.com.
      return json(200, imageBase ? body.replaceAll(IMG, imageBase) : body, rate.headers);
    } catch (err) {
      if (err instanceof HttpError) return json(err.status, err.body, { ...rate.headers, ...err.headers });
      throw err;
    }
  }

  async function applyFault(f, request) {
    // Any fault may be slow first: `ms` delays it (for "delay" it is the whole fault).
    if (f.ms && f.kind !== "delay") await sleep(f.ms, request.signal);
    switch (f.kind) {
      case "status": {
        const headers = { ...(f.headers ?? {}) };
        return json(f.status, f.body ?? errorBodyFor(f.status), headers);
      }
      case "delay":
        await sleep(f.ms ?? 100, request.signal);
        return undefined;
      case "hang":
        await sleep(3_600_000, request.signal);
        return undefined;
      case "network":
        throw new TypeError("fake network failure");
      case "redirect":
        return new Response(null, {
          status: 302,
          headers: { Location: f.location ?? "https://elsewhere.example/steal" },
        });
      case "trickle":
        return trickle(f.every ?? 20);
      case "invalid_json":
        return new Response("<html>Bad gateway</html>", { status: 200, headers: { "Content-Type": "text/html" } });
      case "body":
        return json(200, f.body, f.contentType ? { "Content-Type": f.contentType } : {});
      case "large":
        return json(200, JSON.stringify({ status: "success", padding: "x".repeat(f.bytes ?? 3 * 1024 * 1024) }));
      default:
        throw new Error(`unknown fault kind ${f.kind}`);
    }
  }

  return {
    fetch: handle,
    requests: state.requests,
    faults: state.faults,
    /** Adds a fault; see matchFault for the shape. */
    addFault(fault) {
      if (fault?.kind === "hold") throw new Error('a "hold" fault needs its handle: use hold(path)');
      state.faults.push({ ...fault });
    },
    /**
     * Holds every request whose path contains `path` (all requests without one) until
     * `release()`; see matchFault. `arrived` resolves when the first of them reaches the fake.
     */
    hold(path) {
      let arrive = () => undefined;
      let open = () => undefined;
      const h = {
        path,
        count: 0,
        arrived: new Promise((resolve) => (arrive = resolve)),
        gate: new Promise((resolve) => (open = resolve)),
      };
      h.arrive = arrive;
      h.open = open;
      state.holds.push(h);
      return {
        arrived: h.arrived,
        get count() {
          return h.count;
        },
        release() {
          state.holds = state.holds.filter((x) => x !== h);
          h.open();
        },
      };
    },
    /** Changes which Bearer tokens are valid (token rotation tests). */
    acceptTokens(tokens) {
      state.tokens = [...tokens];
    },
    /**
     * Starts a rate-limit window now with `used` requests already spent in it (the token's
     * other users), so the next answers report a nearly spent X-RateLimit-Remaining
     * (rateLimitPerMinute - used - 1 for the next one). `reset()` forgets it.
     */
    spendWindow(used) {
      state.window = { start: now(), count: used };
    },
    reset() {
      // A test that ended with requests held lets them go: nothing is left hanging for the next.
      for (const h of state.holds) h.open();
      state.holds = [];
      state.tokens = [token];
      state.requests.length = 0;
      state.faults.length = 0;
      state.window = { start: 0, count: 0 };
    },
  };
}
