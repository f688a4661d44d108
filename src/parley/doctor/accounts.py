"""Who may make accounts: sign-up settings that say one thing and do another."""

from __future__ import annotations

from parley.config import ENV_SIGNUP, ENV_SIGNUP_DOMAINS, Settings
from parley.doctor.findings import Finding, ok, warning

SUBJECT = "sign-up"


def check_signup(settings: Settings) -> list[Finding]:
    if settings.signup_domains and settings.signup != "open":
        return [
            warning(
                SUBJECT,
                f"{ENV_SIGNUP_DOMAINS} is set but {ENV_SIGNUP}={settings.signup}: the domains change nothing",
                f"set {ENV_SIGNUP}=open to let those domains in at once, or unset {ENV_SIGNUP_DOMAINS}",
            )
        ]
    if settings.signup == "open" and not settings.signup_domains:
        return [
            warning(
                SUBJECT,
                "anyone who reaches this server can make an account that works at once",
                f"if that is not meant, set {ENV_SIGNUP}=approval, or limit it with {ENV_SIGNUP_DOMAINS}",
            )
        ]
    described = {"off": "off: accounts are made by an admin", "approval": "on, new accounts wait for approval"}
    return [ok(SUBJECT, described.get(settings.signup, f"open to {', '.join(settings.signup_domains)}"))]
