import { describe, expect, it } from "vitest";
import { toApiError } from "../api/client";
import { passwordFieldErrors, passwordProblems } from "./password";

describe("the password change form", () => {
  it("accepts a long new password confirmed", () => {
    expect(passwordProblems({ current: "old one", next: "correct horse battery", confirm: "correct horse battery" }).size).toBe(0);
  });

  it("says what is missing before asking the server", () => {
    const problems = passwordProblems({ current: "", next: "short", confirm: "shorter" });
    expect(problems.get("current_password")).toBe("Enter your current password");
    expect(problems.get("new_password")).toBe("At least 12 characters");
    expect(problems.get("confirm")).toBe("Does not match the new password");
  });

  it("refuses the same password again and one over the server's bound", () => {
    expect(passwordProblems({ current: "same-password-123", next: "same-password-123", confirm: "same-password-123" }).get("new_password")).toMatch(/same/);
    const long = "x".repeat(201);
    expect(passwordProblems({ current: "a", next: long, confirm: long }).get("new_password")).toBe("At most 200 characters");
  });

  it("puts a wrong current password at its field", () => {
    const error = toApiError(401, { error: { code: "INVALID_CREDENTIALS", message: "current password is wrong" } });
    expect(passwordFieldErrors(error).get("current_password")).toBe("The current password is wrong");
  });

  it("shows the server's strength advice at the new password", () => {
    const error = toApiError(422, {
      error: {
        code: "VALIDATION_ERROR",
        message: "password is too weak (strength 1/4, at least 3 needed): This is a very common password.",
        details: { errors: [{ path: "new_password", message: "This is a very common password.", type: "password_strength" }] },
      },
    });
    expect(passwordFieldErrors(error).get("new_password")).toBe("This is a very common password.");
    expect(passwordFieldErrors(new Error("offline")).size).toBe(0);
  });
});
