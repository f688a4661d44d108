"""Accounts and sessions: passwords, tokens, login throttling, sign-up and first-run set-up."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from parley.config import Settings
from parley.core.auth.passwords import PasswordHasher
from parley.core.auth.secret import load_or_create_secret
from parley.core.auth.service import AuthService
from parley.core.auth.setup import FirstRunSetup
from parley.core.auth.signup import SignUp, SignupPolicy
from parley.core.auth.throttle import LoginThrottle
from parley.core.auth.tokens import TokenCodec
from parley.core.store.base import Stores


def build_hasher(settings: Settings) -> PasswordHasher:
    return PasswordHasher(settings.argon2, settings.hash_concurrency)


def build_auth(
    settings: Settings,
    stores: Stores,
    hasher: PasswordHasher | None = None,
    *,
    before_remove: Callable[[str], Awaitable[None]] | None,
) -> AuthService:
    """``before_remove(user_id)`` runs before an account is removed: pass the files service's ``delete_user_files``
    (``compose.files.build_files``) wherever accounts are removed, so their attached files go too; None only in
    processes that never remove one (the authorizer, ``$connect``)."""
    secret = load_or_create_secret(settings.jwt_secret, settings.jwt_secret_path)
    return AuthService(
        stores,
        hasher=hasher or build_hasher(settings),
        codec=TokenCodec(
            secret,
            issuer=settings.jwt_issuer,
            audience=settings.jwt_audience,
            ttl_seconds=settings.token_ttl_seconds,
        ),
        throttle=build_throttle(settings, stores),
        ticket_ttl_seconds=settings.ticket_ttl_seconds,
        before_remove=before_remove,
    )


def build_throttle(settings: Settings, stores: Stores) -> LoginThrottle:
    return LoginThrottle(
        stores.throttle, per_user=settings.throttle_per_user, per_address=settings.throttle_per_address
    )


def build_signup(settings: Settings, stores: Stores, hasher: PasswordHasher) -> SignUp:
    policy = SignupPolicy(mode=settings.signup, domains=settings.signup_domains)
    return SignUp(stores.users, hasher, build_throttle(settings, stores), policy)


def build_setup(stores: Stores, hasher: PasswordHasher) -> FirstRunSetup:
    return FirstRunSetup(stores.users, stores.setup_codes, hasher)
