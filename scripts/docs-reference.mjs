import { exampleValue } from "./docs-examples.mjs";

/**
 * The OpenAPI document as the reference page at /docs shows it: the served document
 * (/openapi.json) with an example request and answer on every operation, HEAD and OPTIONS
 * folded into their GET, and each problem status naming its codes with a link to
 * /problems/<code>. /openapi.json itself stays as it is (generators read HEAD and OPTIONS).
 */

/**
 * @param {any} doc the document src/openapi.ts builds
 * @param {Record<string, {status: number, title: string}>} problems src/errors.ts's catalogue
 * @param {Record<string, any>} examples collectExamples' answers, by "METHOD path"
 * @returns {{ doc: any, missing: string[] }} the document, and each operation left without an example
 */
export function referenceDocument(doc, problems, examples) {
  const missing = [];
  const out = structuredClone(doc);
  // The page tries requests against the deployment that serves it (a relative server URL).
  out.servers = [{ url: "/", description: "This deployment" }];
  // Its URL names the origin the document was built for, not the one serving the page.
  delete out.info.contact?.url;
  // Every use is inlined with its status's codes (linkProblems).
  delete out.components?.responses?.Problem;
  for (const [path, methods] of Object.entries(out.paths)) {
    foldReadMethods(methods);
    for (const [method, op] of Object.entries(methods)) {
      const name = `${method.toUpperCase()} ${path}`;
      // Shown without an example rather than not at all; the build warns, and
      // test/repo/reference-assets.test.ts fails until it has one.
      const why = exampleProblem(name, op, examples[name]);
      if (why) missing.push(why);
      else attachExample(name, op, examples[name]);
      linkProblems(op, problems);
    }
  }
  return { doc: out, missing };
}

/** Why `example` cannot stand for `op` (undefined when it can). */
function exampleProblem(name, op, example) {
  if (!example) return `${name}: no example was made`;
  if (example.error) return example.error;
  const text = new TextDecoder().decode(example.bytes).slice(0, 300);
  const response = op.responses?.[String(example.status)];
  if (!/^2/.test(String(example.status)) || !response)
    return `${name}: the example request ${example.request.path} answered ${example.status}: ${text}`;
  if (response.content && !response.content[example.type])
    return `${name}: answered ${example.type}, which its ${example.status} does not document`;
  return undefined;
}

/** HEAD and OPTIONS become a sentence of their GET's description rather than operations of their own. */
function foldReadMethods(methods) {
  const { get, head, options } = methods;
  if (!get) return;
  const notes = [];
  if (head) notes.push("`HEAD` answers the same, without the body.");
  if (options) notes.push(`\`OPTIONS\` answers 204 with \`Allow\`: ${options.description}`);
  if (notes.length) get.description = `${get.description}\n\n${notes.join(" ")}`;
  delete methods.head;
  delete methods.options;
}

/** The request made (its parameters' values) and its answer, under the status and type it came with. */
function attachExample(name, op, example) {
  const response = op.responses[String(example.status)];
  const url = new URL(example.request.path, "https://x");
  const template = name.split(" ")[1].split("/");
  for (const p of op.parameters ?? []) {
    let value;
    if (p.in === "query" && url.searchParams.has(p.name)) value = url.searchParams.get(p.name);
    if (p.in === "path") value = decodeURIComponent(url.pathname.split("/")[template.indexOf(`{${p.name}}`)]);
    if (value !== undefined && lintable(p.schema)) p.example = typed(value, p.schema);
  }
  if (response.content) response.content[example.type].examples = { fake: exampleValue(example) };
}

/** A parameter's example as its schema types it (the URL has only strings). */
function typed(value, schema) {
  const type = schema?.type;
  return type === "integer" || type === "number" ? Number(value) : type === "boolean" ? value === "true" : value;
}

/**
 * Whether the linters can check an example against this schema: they test patterns without
 * the u flag, so a Unicode class (\p{L}) fails every value (src/openapi/service-paths.ts
 * leaves the purge example without a tag for the same reason). Such a parameter shows the
 * value in its example request and answer, not as its own example.
 */
function lintable(schema) {
  return !/\\p\{/.test(schema?.pattern ?? "");
}

/**
 * Each problem response names the codes of its status, and the operation's description links
 * each code to its page (/problems/<code>). Links go in the description, not the responses:
 * the renderer draws a response's description inside its expand button, and a link inside a
 * button is a control no keyboard or screen reader can reach (axe: nested-interactive).
 */
function linkProblems(op, problems) {
  const links = [];
  for (const [status, response] of Object.entries(op.responses ?? {})) {
    const codes = Object.entries(problems).filter(([, p]) => String(p.status) === status);
    const isProblem =
      response.$ref === "#/components/responses/Problem" || response.content?.["application/problem+json"];
    if (!isProblem || codes.length === 0) continue;
    const names = codes.map(([code]) => `\`${code}\``).join(", ");
    op.responses[status] = response.$ref
      ? {
          description: `A problem (RFC 9457); \`code\` with this status: ${names}.`,
          content: { "application/problem+json": { schema: { $ref: "#/components/schemas/Problem" } } },
        }
      : { ...response, description: `${response.description} Problem codes with this status: ${names}.` };
    links.push(`${status}: ${codes.map(([code, p]) => `[\`${code}\`](/problems/${code}) (${p.title})`).join(", ")}`);
  }
  if (links.length)
    op.description = `${op.description ?? ""}\n\n**Problem types** (\`code\`; a route answers the ones that apply to it):\n\n${links.map((l) => `- ${l}`).join("\n")}`;
}
