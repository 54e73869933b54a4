import { createHmac } from "node:crypto";
import { dirname } from "node:path";
import { convertV4MiniflareOptions, Miniflare } from "miniflare";
import { bundleModules } from "../bench/lib.mjs";
import { createFakeBeatpass } from "../fake/beatpass.mjs";
import { GENRES, TAGS } from "../fake/catalog.mjs";
import { COMPAT_DATE, COMPAT_FLAGS, storage } from "./wrangler-toml.mjs";

/**
 * Example requests and responses for every operation of the OpenAPI document, made by the
 * Worker itself: the built bundle runs under miniflare (workerd, as deployed) in front of the
 * fake BeatPass, and each operation is called once. What the reference page shows is what
 * the projection answers for the fake's data, so an example cannot drift from the code.
 */

const FAKE_API = "https://fake-beatpass.test/api/v1";
const FAKE_TOKEN = "docs-example-token";
// At least 32 characters (src/config/vars.ts).
const PURGE_SECRET = "docs-example-purge-secret-not-a-real-one";

/**
 * Values for parameters, by name: every required parameter needs one (a new route with a
 * parameter named otherwise fails the build, by name, until it is added here); optional ones
 * listed here are sent too, so list examples stay short.
 */
export const EXAMPLE_VALUES = {
  id: "1",
  name: TAGS[0].name,
  code: "not_found",
  kind: "track",
  file: "1.svg",
  url: "https://beatpass.ca/track/1",
  query: "night",
  per_page: "2",
  limit: "2",
};
/** Where the fake has no data for EXAMPLE_VALUES (track 1 has no lyrics; every third track has). */
export const EXAMPLE_OVERRIDES = {
  "/v1/tracks/{id}/lyrics": { id: "3" },
  // A feed's file is its id or name and a feed extension (one of each format across the four).
  "/feeds/artist/{file}": { file: "3.atom" },
  "/feeds/playlist/{file}": { file: "1.json" },
  "/feeds/genre/{file}": { file: `${GENRES[0].name}.rss` },
  "/feeds/tag/{file}": { file: `${TAGS[0].name}.atom` },
};
// Optional parameters left out of the example request (each has a default).
const OPTIONAL_SENT = new Set(["per_page", "limit"]);

// Bodies past this (the document itself) are shown as a link to the request, not inline.
const MAX_INLINE_BYTES = 16 * 1024;

/** The request that stands for `op` (method, path with its parameters filled in, headers, body). */
export function exampleRequest(path, method, op) {
  const query = new URLSearchParams();
  let url = path;
  const values = { ...EXAMPLE_VALUES, ...EXAMPLE_OVERRIDES[path] };
  for (const p of op.parameters ?? []) {
    const value = values[p.name];
    if (p.in === "path" || p.required) {
      if (value === undefined)
        throw new Error(`${method.toUpperCase()} ${path}: no example value for parameter "${p.name}" (EXAMPLE_VALUES)`);
    } else if (!OPTIONAL_SENT.has(p.name) || value === undefined) continue;
    if (p.in === "path") url = url.replace(`{${p.name}}`, encodeURIComponent(value));
    else if (p.in === "query") query.set(p.name, value);
  }
  const search = query.size ? `?${query}` : "";
  const success = Object.entries(op.responses ?? {}).find(([s]) => /^2/.test(s))?.[1];
  // Where the answer may be JSON, ask for JSON (the route index rather than the demo page).
  const json = Object.keys(success?.content ?? {}).find((t) => /json$/.test(t));
  const headers = json ? { Accept: json } : {};
  const media = op.requestBody?.content?.["application/json"];
  const bodyValue = media && Object.values(media.examples ?? {})[0]?.value;
  const body = bodyValue === undefined ? undefined : JSON.stringify(bodyValue);
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const signed = (op.security ?? []).some((s) => "purgeSignature" in s);
  if (signed && body !== undefined) {
    const t = Math.floor(Date.now() / 1000);
    const v1 = createHmac("sha256", PURGE_SECRET).update(`${t}.${body}`).digest("hex");
    headers["BeatPass-Edge-Signature"] = `t=${t},v1=${v1}`;
  }
  return { method: method.toUpperCase(), path: `${url}${search}`, headers, body, values: query };
}

/**
 * Calls every operation of `doc` on the bundle whose entry is `entryFile`, at `origin`.
 * Returns, per "METHOD path" of the document, the request made and the answer (or, where no
 * request could be made, why).
 */
export async function collectExamples(doc, entryFile, origin) {
  const fake = createFakeBeatpass({ token: FAKE_TOKEN });
  const mf = new Miniflare(
    convertV4MiniflareOptions({
      modules: bundleModules(entryFile),
      modulesRoot: dirname(entryFile),
      compatibilityDate: COMPAT_DATE,
      compatibilityFlags: COMPAT_FLAGS,
      ...storage(),
      bindings: {
        BEATPASS_API_BASE: FAKE_API,
        BEATPASS_TOKEN: FAKE_TOKEN,
        PURGE_WEBHOOK_SECRET: PURGE_SECRET,
        REQUEST_LOG: "off",
      },
      // The fake answers every request the Worker makes: nothing leaves the machine.
      outboundService: (request) => fake.fetch(request),
      cf: false,
      handleStructuredLogs: () => {},
    }),
  );
  const examples = {};
  try {
    await mf.ready;
    for (const [path, methods] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(methods)) {
        if (method === "head" || method === "options") continue;
        let req;
        try {
          req = exampleRequest(path, method, op);
        } catch (err) {
          examples[`${method.toUpperCase()} ${path}`] = { error: err.message };
          continue;
        }
        const res = await mf.dispatchFetch(`${origin}${req.path}`, {
          method: req.method,
          headers: req.headers,
          body: req.body,
        });
        const type = (res.headers.get("Content-Type") ?? "").split(";")[0].trim();
        const bytes = new Uint8Array(await res.arrayBuffer());
        examples[`${req.method} ${path}`] = { request: req, status: res.status, type, bytes };
      }
    }
  } finally {
    await mf.dispose();
  }
  return examples;
}

/** The example object an answer becomes in the document (its value, or a link when it is large or binary). */
export function exampleValue(example) {
  const summary = `${example.request.method} ${example.request.path}, answered from the fake BeatPass's data`;
  // Text of any kind inline (JSON, HTML, SVG, XML such as a feed, scripts); images as a link.
  const text = /json$|^text\/|xml$|javascript/.test(example.type);
  if (!text || example.bytes.length > MAX_INLINE_BYTES) return { summary, externalValue: example.request.path };
  const body = new TextDecoder().decode(example.bytes);
  return { summary, value: /json$/.test(example.type) ? JSON.parse(body) : body };
}
