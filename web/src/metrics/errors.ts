import { fieldErrorsFor } from "../flags/errors";

/** The metric editor's field errors by path. The format's own checks (pydantic's model validator)
 * name the whole `format`; a message about the currency or the duration unit belongs at that field. */
export function metricFieldErrors(error: unknown): Map<string, string> {
  const errors = new Map<string, string>();
  for (const [path, message] of fieldErrorsFor(error, "")) {
    let at = path.replace(/^body\./, "");
    if (at === "format" && /\bcurrency\b/.test(message)) at = "format.currency";
    else if (at === "format" && /\bduration_unit\b/.test(message)) at = "format.duration_unit";
    if (!errors.has(at)) errors.set(at, message);
  }
  return errors;
}
