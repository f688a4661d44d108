"""Sign-up from the login page, when the owner allows it (``PARLEY_SIGNUP``):

- ``off`` (the default): refused.
- ``approval``: the account is made pending; it cannot log in until an admin approves it (``parley users approve``).
- ``open``: the account works at once; with ``PARLEY_SIGNUP_DOMAINS``, only when its email address is of one of those
  domains, and any other waits for approval as above.

The email address is optional and never verified (Parley sends no mail): a domain list lets through whoever *says*
they are of that domain. It helps an owner sort requests; it is no proof.

Attempts are throttled like logins (``throttle.py``): each counts against the client's address, shared with its
login failures, and against the username asked for; none is taken back, so one address cannot mass-create accounts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from parley.config import SignupMode
from parley.core.auth.passwords import PasswordHasher
from parley.core.auth.throttle import LoginThrottle
from parley.core.auth.validation import validate_password, validate_username
from parley.core.store.base import User, UserStore
from parley.errors import InvalidInput, SignupClosed

OFF: SignupMode = "off"
OPEN: SignupMode = "open"
MAX_EMAIL_CHARS = 254
EMAIL_PATTERN = re.compile(r"^[^@\s]{1,64}@([A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+)$")
THROTTLE_PREFIX = "signup:"  # a name's sign-ups are counted apart from its login failures


@dataclass(frozen=True)
class SignupPolicy:
    mode: SignupMode = OFF
    domains: tuple[str, ...] = ()

    def approved_at_once(self, email: str | None) -> bool:
        if self.mode != OPEN:
            return False
        if not self.domains:
            return True
        return email is not None and email.rsplit("@", 1)[1].lower() in self.domains


def validate_email(email: str | None) -> str | None:
    if email is None or not email.strip():
        return None
    email = email.strip()
    if len(email) > MAX_EMAIL_CHARS or not EMAIL_PATTERN.fullmatch(email):
        raise InvalidInput("That email address does not look right.")
    return email


class SignUp:
    def __init__(self, users: UserStore, hasher: PasswordHasher, throttle: LoginThrottle, policy: SignupPolicy) -> None:
        self._users = users
        self._hasher = hasher
        self._throttle = throttle
        self.policy = policy

    async def sign_up(self, username: str, password: str, email: str | None, client_address: str | None) -> User:
        """A new account, pending unless the policy approves it at once. SignupClosed when sign-up is off,
        LoginThrottled past the limits, Conflict for a name that is taken."""
        if self.policy.mode == OFF:
            raise SignupClosed()
        attempt = await self._throttle.attempt(THROTTLE_PREFIX + username, client_address)
        refusal = attempt.refusal()  # an address past its limit may sign up no more accounts for now
        if refusal is not None:
            raise refusal
        validate_username(username)
        validate_password(password)
        email = validate_email(email)
        pending = not self.policy.approved_at_once(email)
        return await self._users.create_user(username, await self._hasher.hash(password), pending=pending, email=email)
