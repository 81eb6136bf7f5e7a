"""Password strength on zxcvbn (the Dropbox estimator, maintained Python port): it scores a password
by the guesses an attacker needs (dictionaries, common passwords, keyboard walks, dates, l33t), and
takes the account's own words (its email) as extra dictionary entries, so ``password1234`` and
``alice@example.com`` as a password are refused while a long passphrase passes."""

from __future__ import annotations

import re
from typing import Any

from experimently.errors import ValidationFailed

# zxcvbn only looks at the first 72 characters for speed; what follows adds strength, never removes it
_CHECKED_CHARS = 72


def _account_words(email: str | None) -> list[str]:
    if not email:
        return []
    email = email.strip().lower()
    local = email.split("@", 1)[0]
    return [email, local, *[w for w in re.split(r"[^a-z0-9]+", email) if len(w) >= 3]]


def check_strength(password: str, email: str | None, *, min_score: int, path: str = "password") -> None:
    """Refuse (422 ``VALIDATION_ERROR``) a password zxcvbn scores below ``min_score`` (0-4), or one
    that is the account's email, with zxcvbn's own warning and suggestions in the message."""
    words = _account_words(email)
    if email and password.strip().lower() in words[:2]:
        raise ValidationFailed(
            "password is too weak: it must not be the account's email",
            [{"path": path, "message": "must not be the account's email"}],
        )
    from zxcvbn import zxcvbn  # imported on the first password check rather than at start-up

    result: dict[str, Any] = zxcvbn(password[:_CHECKED_CHARS], user_inputs=words)
    score = int(result["score"])
    if score >= min_score:
        return
    feedback = result.get("feedback") or {}
    hints = [str(feedback.get("warning") or "").strip(), *[str(s) for s in feedback.get("suggestions", [])]]
    detail = " ".join(h for h in hints if h) or "Use a longer passphrase of uncommon words."
    raise ValidationFailed(
        f"password is too weak (strength {score}/4, at least {min_score} needed): {detail}",
        [{"path": path, "message": detail, "type": "password_strength"}],
    )
