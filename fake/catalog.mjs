/**
 * The fake BeatPass's catalogue: deterministic, generated from fixed word lists so every
 * run (and every machine) sees the same ids, names and numbers. Shapes follow BeatPass's
 * documented payloads (the recorded examples in test/fixtures/upstream/), including the
 * fields a public proxy must NOT pass on: the token account's own state and internals.
 */

/** Image URLs as BeatPass would send them; the fake can rewrite this prefix to serve them itself. */
export const IMG = "https://example.com/beatpass/images";

const ARTIST_NAMES = [
  "Nova Keys",
  "Kairo Beats",
  "Lumen Loops",
  "Mira Sol",
  "Dex Tempo",
  "Sable Wave",
  "Oren Vault",
  "Juno Drift",
  "Taro Haze",
  "Vela Noir",
  "Idris Low",
  "Ayo Prism",
];
const ALBUM_NAMES = [
  "Night Drive Pack",
  "Rainy Day Tapes",
  "Gold Teeth Vol. 1",
  "Lagos Sunset",
  "Basement Sessions",
  "Chrome Hearts",
  "Slow Motion",
  "Northern Lights",
  "Concrete Garden",
  "After Hours",
];
const TRACK_WORDS_A = [
  "Midnight",
  "Ghost",
  "Velvet",
  "Neon",
  "Cold",
  "Sunset",
  "Paper",
  "Glass",
  "Silver",
  "Static",
  "Hollow",
  "Crimson",
];
const TRACK_WORDS_B = [
  "Run",
  "Lane",
  "Drip",
  "Signal",
  "Pull-Up",
  "Rain",
  "Hearts",
  "Skyline",
  "Motion",
  "Tides",
  "Echo",
];
const KEYS = ["C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B"];
const PRICES = [19.99, 24.99, 29.99, 34.99];

export const GENRES = [
  { id: 7, name: "trap", display_name: "Trap", model_type: "genre" },
  { id: 12, name: "drill", display_name: "Drill", model_type: "genre" },
  { id: 19, name: "lo-fi", display_name: "Lo-Fi", model_type: "genre" },
  { id: 23, name: "rnb", display_name: "R&B", model_type: "genre" },
  { id: 31, name: "afrobeats", display_name: "Afrobeats", model_type: "genre" },
  { id: 40, name: "boom-bap", display_name: "Boom Bap", model_type: "genre" },
];
export const TAGS = [
  { id: 301, name: "dark" },
  { id: 302, name: "808" },
  { id: 303, name: "mellow" },
  { id: 304, name: "bouncy" },
  { id: 305, name: "melodic" },
  { id: 306, name: "vinyl" },
];

const pad = (n) => String(n).padStart(2, "0");
const minutes = (ms) => `${Math.floor(ms / 60000)}:${pad(Math.floor((ms % 60000) / 1000))}`;
const day = (i) => `2025-${pad(1 + (i % 12))}-${pad(1 + ((i * 7) % 28))}`;

export const ARTISTS = ARTIST_NAMES.map((name, i) => ({
  id: i + 1,
  name,
  image_small: `${IMG}/artists/${i + 1}-small.jpg`,
  verified: i % 3 !== 1,
  model_type: "artist",
  bio: `${name} makes beats in ${["Toronto", "Lagos", "London", "Atlanta"][i % 4]}.`,
  website: `https://example.com/${name.toLowerCase().replace(/[^a-z]/g, "")}`,
  genre_ids: [GENRES[i % GENRES.length].id, GENRES[(i + 2) % GENRES.length].id],
  profile: {
    id: i + 1,
    description: `Producer since ${2015 + (i % 8)}.`,
    city: ["Toronto", "Lagos", "London", "Atlanta"][i % 4],
    country: ["Canada", "Nigeria", "UK", "USA"][i % 4],
  },
  profile_images: [{ id: 1000 + i, url: `${IMG}/artists/${i + 1}-gallery-1.jpg` }],
  links: [{ id: 2000 + i, url: `https://www.instagram.com/example.${i + 1}`, title: "Instagram" }],
  // Internal fields a proxy must drop.
  user_id: 9000 + i,
  stripe_account_id: `acct_fake_${i + 1}`,
}));

export const TRACKS = Array.from({ length: 60 }, (_, k) => {
  const i = k + 1;
  const duration = 120000 + ((i * 7919) % 90) * 1000;
  const artistIds = i % 5 === 0 ? [((i * 7) % 12) + 1, ((i * 3) % 12) + 1] : [((i * 7) % 12) + 1];
  const exclusive = i % 4 !== 0;
  return {
    id: i,
    name:
      i === 1
        ? "Midnight Run"
        : `${TRACK_WORDS_A[i % TRACK_WORDS_A.length]} ${TRACK_WORDS_B[(i * 5) % TRACK_WORDS_B.length]}`,
    model_type: "track",
    // Tracks 21-30 have photographs for covers (fake/photo.mjs), the others flat gradients.
    image: i > 20 && i <= 30 ? `${IMG}/tracks/${i}-photo.jpg` : `${IMG}/tracks/${i}.jpg`,
    release_date: day(i),
    created_at: `${day(i)}T${pad(i % 24)}:${pad((i * 13) % 60)}:00.000000Z`,
    duration,
    duration_text: minutes(duration),
    description: `${["Dark", "Mellow", "Bouncy", "Melodic"][i % 4]} ${GENRES[i % GENRES.length].display_name} instrumental.`,
    bpm: 70 + ((i * 37) % 91),
    key: KEYS[(i * 5) % 12],
    scale: i % 3 === 0 ? "major" : "minor",
    price: PRICES[i % PRICES.length],
    currency: "USD",
    licensing_type: exclusive ? "both" : "non_exclusive",
    exclusive_status: exclusive ? "available" : "unavailable",
    exclusive_price: exclusive ? 249.99 : null,
    plays: (i * 7477) % 5000,
    likes_count: (i * 31) % 200,
    reposts_count: (i * 7) % 25,
    artist_ids: artistIds,
    album_id: i <= 50 ? ((i - 1) % 10) + 1 : null,
    genre_ids: [GENRES[i % GENRES.length].id],
    tag_ids: [TAGS[i % TAGS.length].id, TAGS[(i + 1) % TAGS.length].id],
    lyrics: i % 3 === 0 ? `Verse for ${i}\nHook line ${i}\nOutro` : null,
    // The token account's own state and internals: present upstream, never proxied.
    is_liked: i % 2 === 0,
    purchased: i % 7 === 0,
    user_id: 9000 + artistIds[0],
    file_path: `storage/audio/${i}.wav`,
  };
});

// Hostile data, as a compromised or careless upstream might send it: markup in every
// string, a javascript: image URL, RTL text and emoji. Widgets must show it as text.
export const XSS_NAME = `"><img src=x onerror=alert(1)><script>alert('xss')</script></style><svg onload=alert(2)>`;
ARTISTS.push({
  ...ARTISTS[0],
  id: 13,
  name: "مُنتِج الإيقاع 🎹 <b onmouseover=alert(3)>",
  image_small: "javascript:alert(4)",
  bio: "<script>alert(5)</script>",
  website: "javascript:alert(6)",
});
TRACKS.push({
  ...TRACKS[0],
  id: 61,
  name: XSS_NAME,
  description: "</style><script>alert(7)</script>",
  key: "<i>F#</i>",
  scale: 'minor" onload="alert(8)',
  licensing_type: "both",
  artist_ids: [13],
  album_id: null,
  lyrics: null,
});

export const ALBUMS = ALBUM_NAMES.map((name, k) => {
  const id = k + 1;
  return {
    id,
    name,
    model_type: "album",
    image: `${IMG}/albums/${id}.jpg`,
    release_date: day(id + 3),
    description: `${name}: ${["dark trap", "lo-fi loops", "drill", "afrobeats"][k % 4]} collection.`,
    plays: (id * 3301) % 9000,
    created_at: `${day(id + 3)}T10:00:00.000000Z`,
    artist_id: ((id * 7) % 12) + 1,
    genre_ids: [GENRES[k % GENRES.length].id],
    tag_ids: [TAGS[k % TAGS.length].id],
    owner_id: 9000 + id,
  };
});

export const PLAYLISTS = Array.from({ length: 6 }, (_, k) => ({
  id: k + 1,
  name: ["Late Night Trap", "Study Loops", "Drill Bangers", "Afro Vibes", "R&B Slow Jams", "Fresh Finds"][k],
  public: true,
  collaborative: k === 2,
  image: `${IMG}/playlists/${k + 1}.jpg`,
  description: `Curated set number ${k + 1}.`,
  track_ids: Array.from({ length: 8 + k * 3 }, (_, j) => ((k * 11 + j * 3) % 60) + 1),
  owner_id: 20000 + k,
}));

export const USERS = Array.from({ length: 10 }, (_, k) => ({
  id: k + 1,
  display_name: [
    "mira.writes",
    "JayRhymes",
    "jay.beats",
    "kofi",
    "lena.v",
    "rapbyday",
    "tunde",
    "zoe.k",
    "marco",
    "ivy",
  ][k],
  avatar: k % 3 === 2 ? null : `${IMG}/avatars/${k + 1}.jpg`,
  email: `user${k + 1}@example.com`,
}));

/** Waveform peaks for a track: deterministic, 0..1, 80 points. */
export function peaksFor(id) {
  return Array.from({ length: 80 }, (_, j) => {
    const v = Math.abs(Math.sin((id + 1) * 0.37 + j * 0.21) * Math.cos(j * 0.05 + id));
    return Math.round((0.05 + 0.9 * v) * 100) / 100;
  });
}

// Producers tag beats with their genre's name too ("trap", "lo-fi"): each genre has a tag of
// its name on the genre's tracks and albums. BeatPass documents no list of a genre's tracks, so
// a genre feed reads this tag's list (docs/feeds.md, "Genres"). Added after every list above is
// built, so the other tags' assignments (by index into TAGS) stay as they were.
const GENRE_TAG_BASE = 400;
for (const g of GENRES) TAGS.push({ id: GENRE_TAG_BASE + g.id, name: g.name });
for (const t of TRACKS) t.tag_ids = [...t.tag_ids, ...t.genre_ids.map((id) => GENRE_TAG_BASE + id)];
for (const a of ALBUMS) a.tag_ids = [...a.tag_ids, ...a.genre_ids.map((id) => GENRE_TAG_BASE + id)];
