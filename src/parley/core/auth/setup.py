"""First run: while no account exists, a one-time code (like Jupyter's token) lets whoever holds it create the
first account, an admin, in the browser. ``parley serve`` makes a new code at each start and prints the link;
on AWS ``parley setup-code`` makes one. Only the code's hash is stored, and it is spent with the account it made.
"""

from __future__ import annotations

import hashlib
import secrets

from parley.core.auth.passwords import PasswordHasher
from parley.core.auth.validation import validate_password, validate_username
from parley.core.store.base import SetupCodeStore, User, UserStore
from parley.errors import SetupRefused

SETUP_PATH = "/setup"
CODE_BYTES = 32  # 256 bits: guessing one is hopeless, so a wrong code needs no throttle of its own


def code_hash(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()


def setup_link(base_url: str, code: str) -> str:
    """The link to print. The code rides in the fragment, which browsers never send: no access log sees it."""
    return f"{base_url.rstrip('/')}{SETUP_PATH}#code={code}"


class FirstRunSetup:
    def __init__(self, users: UserStore, codes: SetupCodeStore, hasher: PasswordHasher) -> None:
        self._users = users
        self._codes = codes
        self._hasher = hasher

    async def needed(self) -> bool:
        """Whether no account exists yet."""
        return await self._users.count_users() == 0

    async def new_code(self) -> str | None:
        """A new code, replacing any earlier one; None once an account exists (there is nothing to set up)."""
        if not await self.needed():
            return None
        code = secrets.token_urlsafe(CODE_BYTES)
        await self._codes.put_setup_code(code_hash(code))
        return code

    async def create_admin(self, code: str, username: str, password: str) -> User:
        """The first account, an admin, for the holder of the current code; SetupRefused otherwise."""
        validate_username(username)
        validate_password(password)
        hashed_code = code_hash(code)
        # Checked before the password is hashed, so a request without the code costs no argon2 work.
        if not await self.needed() or not await self._codes.setup_code_matches(hashed_code):
            raise SetupRefused()
        user = await self._codes.create_first_admin(hashed_code, username, await self._hasher.hash(password))
        if user is None:  # another setup spent the code first
            raise SetupRefused()
        return user
