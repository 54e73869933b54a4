/**
 * The wrangler dev command line `npm start` and `npm run dev` share: both Workers (the proxy
 * and the PNG rasteriser its RASTER binding names), local only, on loopback, each mode with
 * its own state folder unless the caller gives --persist-to.
 */
export function wranglerDevArgs({ port, state, extra = [], userArgs = [] }) {
  return [
    "node_modules/wrangler/bin/wrangler.js",
    "dev",
    "-c",
    "wrangler.toml",
    "-c",
    "raster/wrangler.toml",
    "--local",
    "--ip",
    "127.0.0.1",
    "--port",
    String(port),
    ...extra,
    ...(userArgs.includes("--persist-to") ? [] : ["--persist-to", state]),
    ...userArgs,
  ];
}
