// wrangler (and the tests' esbuild bundle) load .wasm imports as compiled modules.
declare module "*.wasm" {
  const module: WebAssembly.Module;
  export default module;
}
