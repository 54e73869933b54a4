/**
 * One JSON object per line, so `wrangler tail` and Workers Logs can filter on fields.
 * Callers pass only fields that are safe to keep: never the token, headers or bodies.
 */
export type LogLevel = "info" | "warn" | "error";

export function logEvent(level: LogLevel, event: string, fields: Record<string, unknown> = {}): void {
  const line = JSON.stringify({ level, event, ...fields });
  if (level === "error") console.error(line);
  else if (level === "warn") console.warn(line);
  else console.log(line);
}
