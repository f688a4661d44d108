"""What a username and a password must be, wherever an account is made (the CLI, first-run setup, sign-up)."""

from __future__ import annotations

import re

from parley.errors import InvalidInput

USERNAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")
MIN_PASSWORD_CHARS = 8
# Bounded so a huge password cannot make hashing expensive.
MAX_PASSWORD_CHARS = 1024


def validate_username(username: str) -> str:
    if not USERNAME_PATTERN.fullmatch(username):
        raise InvalidInput(
            "A username is 1 to 64 characters: letters, digits and . _ @ - (starting with a letter or digit)."
        )
    return username


def validate_password(password: str) -> str:
    if not MIN_PASSWORD_CHARS <= len(password) <= MAX_PASSWORD_CHARS:
        raise InvalidInput(f"A password is {MIN_PASSWORD_CHARS} to {MAX_PASSWORD_CHARS} characters long.")
    return password
