import { ApiError } from "../api/client";

/** The server's bounds for a new password (`PasswordChange` in src/experimently/auth/schemas.py); its
 * strength (zxcvbn) is checked by the server only. */
export const MIN_LENGTH = 12;
export const MAX_LENGTH = 200;

export interface PasswordForm {
  current: string;
  next: string;
  confirm: string;
}

/** What the form can tell before sending, by field (`current_password`, `new_password`, `confirm`). */
export function passwordProblems({ current, next, confirm }: PasswordForm): Map<string, string> {
  const problems = new Map<string, string>();
  if (!current) problems.set("current_password", "Enter your current password");
  if (next.length < MIN_LENGTH) problems.set("new_password", `At least ${MIN_LENGTH} characters`);
  else if (next.length > MAX_LENGTH) problems.set("new_password", `At most ${MAX_LENGTH} characters`);
  else if (next === current) problems.set("new_password", "The new password is the same as the current one");
  if (confirm !== next) problems.set("confirm", "Does not match the new password");
  return problems;
}

/** The server's answer by field: a 422 names `new_password` (too weak, with zxcvbn's advice) or
 * `current_password`; a wrong current password is a 401 `INVALID_CREDENTIALS`. */
export function passwordFieldErrors(error: unknown): Map<string, string> {
  const errors = new Map<string, string>();
  if (!(error instanceof ApiError)) return errors;
  if (error.status === 401 && error.code === "INVALID_CREDENTIALS") {
    errors.set("current_password", "The current password is wrong");
    return errors;
  }
  for (const { path, message } of error.fieldErrors) {
    if (!errors.has(path)) errors.set(path, message.charAt(0).toUpperCase() + message.slice(1));
  }
  return errors;
}
