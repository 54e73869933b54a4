import { esc } from "./escape";

/**
 * /docs: the OpenAPI document as a plain page (no script, no CDN-hosted viewer, so it works
 * offline and under a strict CSP). Everything shown comes from the document.
 */
export const DOCS_CSS = `body{margin:0;font:15px/1.5 system-ui,sans-serif;color:#0f172a;background:#f8fafc}main{max-width:960px;margin:0 auto;padding:24px}
h2{margin-top:32px}section{background:#fff;border:1px solid #e2e8f0;border-radius:10px;padding:12px 16px;margin:12px 0}
.m{display:inline-block;min-width:48px;font:600 12px ui-monospace,monospace;color:#fff;background:#2563eb;border-radius:4px;padding:1px 6px;text-align:center}.post{background:#16a34a}
code{font:13px ui-monospace,monospace}table{border-collapse:collapse;width:100%;font-size:13px}td,th{text-align:left;border-top:1px solid #e2e8f0;padding:4px 6px;vertical-align:top}.muted{color:#64748b}`;

interface Op {
  summary?: string;
  tags?: string[];
  parameters?: { name: string; in: string; required?: boolean; schema?: unknown; description?: string }[];
  responses?: Record<string, unknown>;
}

export function docsPage(doc: {
  info: { title: string; description: string };
  paths: Record<string, Record<string, Op>>;
}): string {
  const byTag = new Map<string, string[]>();
  for (const [path, methods] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(methods)) {
      const params = (op.parameters ?? [])
        .map(
          (p) =>
            `<tr><td><code>${esc(p.name)}</code></td><td>${esc(p.in)}</td><td>${p.required ? "required" : ""}</td><td><code>${esc(JSON.stringify(p.schema ?? {}))}</code>${p.description ? ` ${esc(p.description)}` : ""}</td></tr>`,
        )
        .join("");
      const codes = Object.keys(op.responses ?? {}).join(", ");
      const html = `<section><p><span class="m ${esc(method)}">${esc(method.toUpperCase())}</span> <code>${esc(path)}</code></p><p>${esc(op.summary ?? "")}</p>${params ? `<table><tr><th>parameter</th><th>in</th><th></th><th>schema</th></tr>${params}</table>` : ""}<p class="muted">responses: ${esc(codes)}</p></section>`;
      const tag = op.tags?.[0] ?? "other";
      byTag.set(tag, [...(byTag.get(tag) ?? []), html]);
    }
  }
  const body = [...byTag].map(([tag, ops]) => `<h2>${esc(tag)}</h2>${ops.join("")}`).join("");
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><title>${esc(doc.info.title)} API</title><link rel="icon" href="data:,"><style>${DOCS_CSS}</style></head><body><main><h1>${esc(doc.info.title)}</h1><p>${esc(doc.info.description)}</p><p>Machine-readable: <a href="/openapi.json">/openapi.json</a> (OpenAPI 3.1). Errors are RFC 9457 problem+json; <code>code</code> values are listed in <code>components.schemas.ProblemCode</code>.</p>${body}</main></body></html>`;
}
