import type * as z from "zod/mini";
import { ApiError, type ProblemIssue } from "../errors";

/**
 * Validates one input source with zod. A failure becomes 400 invalid_request listing every
 * issue (name and reason, never the rejected value echoed back).
 */
export function validate<S extends z.ZodMiniType>(
  location: "path" | "query" | "body",
  schema: S,
  input: unknown,
): z.output<S> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const errors: ProblemIssue[] = result.error.issues.map((issue) => ({
    location,
    name: issue.path.map(String).join(".") || "(root)",
    message:
      issue.code === "invalid_type"
        ? valueAt(input, issue.path) === undefined
          ? "is required"
          : `must be a ${issue.expected}`
        : issue.message,
  }));
  const names = [...new Set(errors.map((e) => e.name))].join(", ");
  throw new ApiError("invalid_request", `Invalid ${location} parameter(s): ${names}.`, { errors });
}

function valueAt(input: unknown, path: PropertyKey[]): unknown {
  let v = input;
  for (const key of path)
    v = typeof v === "object" && v !== null ? (v as Record<PropertyKey, unknown>)[key] : undefined;
  return v;
}
