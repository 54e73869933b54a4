import { createHash } from "node:crypto";
import {
  copyFileSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { pathToFileURL } from "node:url";
import { buildWorker, OUT_DIR } from "./build-worker.mjs";
import { collectExamples } from "./docs-examples.mjs";
import { referenceDocument } from "./docs-reference.mjs";
import { importFromSrc } from "./openapi.mjs";

/**
 * The reference page's static assets (wrangler.toml [assets]: served before the Worker, so
 * its code never runs for them), written to .build/assets/ by wrangler's [build] after the
 * Worker bundle:
 *
 *   docs-assets/scalar-api-reference-<version>/standalone.js   the renderer, copied byte for
 *       byte from the pinned package in node_modules (the lockfile is its source of truth:
 *       nothing to commit, nothing to keep in step); the version in the name lets browsers
 *       and Cloudflare keep it a year
 *   docs-assets/scalar-api-reference-<version>/a11y-1.js   our mending of two accessibility
 *       faults in that renderer's markup (scripts/docs-assets/renderer-a11y.js)
 *   docs-assets/reference.json   the document as /docs shows it (docs-reference.mjs), with
 *       examples the built Worker made (docs-examples.mjs); cached minutes, like /openapi.json
 *   _headers                     those caching rules
 */
export const ASSETS_DIR = ".build/assets";
export const RENDERER_PACKAGE = "@scalar/api-reference";
const RENDERER_FILE = "dist/browser/standalone.js";
// Ours: mends two accessibility faults in the renderer's markup (src/render/docs-page.ts).
const A11Y_SOURCE = "scripts/docs-assets/renderer-a11y.js";
export const REFERENCE_FILE = "docs-assets/reference.json";
// Bundled this origin, examples carry it (problem `type` URIs); the page tries requests at its own.
const EXAMPLE_ORIGIN = "https://beatpass-edge.example";

/** Where the pinned renderer's file is in node_modules, and where it is served. */
export function rendererFiles() {
  const root = `node_modules/${RENDERER_PACKAGE}`;
  const { version } = JSON.parse(readFileSync(`${root}/package.json`, "utf8"));
  const dir = `docs-assets/scalar-api-reference-${version}`;
  return { source: `${root}/${RENDERER_FILE}`, served: `${dir}/standalone.js`, a11y: `${dir}/a11y-1.js` };
}

const HEADERS = `# Written by scripts/build-docs.mjs. The renderer's name carries its version: keep it a year.
/docs-assets/scalar-api-reference-*
  Cache-Control: public, max-age=31536000, immutable
  X-Content-Type-Options: nosniff
/docs-assets/reference.json
  Cache-Control: public, max-age=300
  X-Content-Type-Options: nosniff
`;

/** What the examples depend on: the Worker's modules, the fake, these scripts. */
function inputsDigest(workerDir) {
  const hash = createHash("sha256");
  // By name within their folder: the bundle is read from a copy in a temporary folder.
  const files = [
    ...readdirSync(workerDir, { recursive: true })
      .map(String)
      .filter((f) => f.endsWith(".js"))
      .sort()
      .map((f) => [f, join(workerDir, f)]),
    ...readdirSync("fake").map((f) => [f, join("fake", f)]),
    ...["build-docs.mjs", "docs-examples.mjs", "docs-reference.mjs"].map((f) => [f, join("scripts", f)]),
  ];
  for (const [name, path] of files) hash.update(name).update(readFileSync(path));
  return hash.digest("hex");
}

/**
 * Writes a file whole or not at all, and only when it changes: wrangler dev may be serving
 * the folder meanwhile, and reloads its assets when a file in it is touched.
 */
function writeAtomically(file, contents) {
  if (existsSync(file) && readFileSync(file).equals(Buffer.from(contents))) return;
  mkdirSync(dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, contents);
  renameSync(tmp, file);
}

/**
 * Writes the assets into `dir`. The examples come from the Worker bundle in `workerDir`
 * (built there first when it has none); they are made again only when it, the fake or these
 * scripts changed (`npm run build` bundles three environments from the same source).
 * Returns the operations left without an example, each with why (none when nothing was remade).
 */
export async function buildDocsAssets({ dir = ASSETS_DIR, workerDir = OUT_DIR } = {}) {
  if (!existsSync(join(workerDir, "index.js"))) await buildWorker({ outdir: workerDir });
  const renderer = rendererFiles();
  const target = join(dir, renderer.served);
  if (!existsSync(target) || !readFileSync(target).equals(readFileSync(renderer.source))) {
    mkdirSync(dirname(target), { recursive: true });
    copyFileSync(renderer.source, `${target}.tmp`);
    renameSync(`${target}.tmp`, target);
  }
  writeAtomically(join(dir, renderer.a11y), readFileSync(A11Y_SOURCE));
  // An older renderer left behind would be uploaded with every deploy.
  for (const old of readdirSync(join(dir, "docs-assets")))
    if (old.startsWith("scalar-api-reference-") && !renderer.served.includes(`/${old}/`))
      rmSync(join(dir, "docs-assets", old), { recursive: true, force: true });
  writeAtomically(join(dir, "_headers"), HEADERS);
  // A copy of the bundle: another build (npm test starts `npm start` and bundles for the fleet
  // tests at once) may be rewriting the folder while workerd reads it.
  const bundle = mkdtempSync(join(tmpdir(), "beatpass-edge-docs-bundle-"));
  try {
    cpSync(workerDir, bundle, { recursive: true });
    return await writeReference(dir, bundle);
  } finally {
    rmSync(bundle, { recursive: true, force: true });
  }
}

/** The document the page shows, unless the stamp says the bundle, fake and scripts it was made from are unchanged. */
async function writeReference(dir, workerDir) {
  // Beside the folder, not in it: everything in it is uploaded.
  const stamp = `${dir}.inputs`;
  const digest = inputsDigest(workerDir);
  const reference = join(dir, REFERENCE_FILE);
  if (existsSync(reference) && existsSync(stamp) && readFileSync(stamp, "utf8") === digest) return [];
  const { buildOpenApi, PROBLEMS } = await importFromSrc(
    'export { buildOpenApi } from "./src/openapi.ts"; export { PROBLEMS } from "./src/errors.ts";',
  );
  const doc = buildOpenApi(EXAMPLE_ORIGIN);
  const examples = await collectExamples(doc, join(workerDir, "index.js"), EXAMPLE_ORIGIN);
  const shown = referenceDocument(doc, PROBLEMS, examples);
  // A warning, not a failure: `npm start` and deploys go on; the repo test fails instead.
  for (const why of shown.missing) console.warn(`/docs: no example for ${why} (scripts/docs-examples.mjs)`);
  writeAtomically(reference, JSON.stringify(shown.doc));
  writeAtomically(stamp, digest);
  return shown.missing;
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) await buildDocsAssets();
