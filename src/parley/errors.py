"""The one error tree of Parley.

Every error carries a stable machine ``code`` and a ``message`` that is safe to show a user.
Detail for operators goes to the log, never into ``message``. The edges (HTTP, WebSocket,
Lambda) map classes to status codes; the core never knows about them.

    ParleyError
    ├── ConfigError               settings that must not be run with
    ├── InvalidInput              bad or oversized input from a client
    │   ├── InvalidParameter      one named request field (OpenAI's ``param``)
    │   ├── UnknownModel
    │   ├── TooLarge              an upload past its cap (refused as its bytes arrive)
    │   ├── InvalidImage          not a PNG, JPEG, WebP or GIF image, or too large to decode safely
    │   ├── ModelCannotSee        images sent to a model that cannot take them
    │   └── UntrustedHost         a Host header this server does not answer to (DNS rebinding)
    ├── NotFound                  missing, or owned by someone else (indistinguishable on purpose)
    ├── Conflict                  e.g. a username that is taken
    │   └── DuplicateRequest      a msgid sent twice (double click, retry): answered once
    ├── TooManyGenerations        the per-user cap on simultaneous answers
    ├── RetryLater                refused for now; carries retry_after
    │   ├── RateLimited           the per-user request rate limit
    │   ├── BudgetExceeded        the user's monthly token budget is used up; carries resets_at
    │   ├── ShuttingDown          the server is shutting down: no new answers
    │   └── LoginThrottled        (also an AuthError) too many failed logins
    ├── Forbidden                 refused whoever asks
    │   ├── CrossSiteRequest      a session cookie without the proof that Parley's own page sent it
    │   ├── SetupRefused          a first-run setup without the current setup code, or once an account exists
    │   └── SignupClosed          sign-up is off, or not open to that email domain
    ├── AuthError
    │   ├── InvalidCredentials    wrong username or password (one message for both)
    │   ├── InvalidToken          missing, forged, expired or revoked token or ticket
    │   ├── InvalidApiKey         missing, garbled, unknown, revoked or expired API key, or its user disabled
    │   └── AccountPending        the right password, but the account waits for an admin's approval
    └── ProviderError             the model provider failed
        ├── ProviderAuthError     the provider refused our key
        ├── ProviderRateLimited   429 from the provider (retryable)
        ├── ProviderUnavailable   5xx or a connection that could not be made (retryable)
        ├── ProviderTimeout       no first token, or no next token, in time
        └── StreamInterrupted     the provider's stream broke after it started
            └── ModelCrashed      the local model's process ended mid-answer
    AnswerAbandoned               an answer the server could not finish: its process died mid-way (never raised
                                  then, only its finish reason), or a shutdown's grace period ran out
"""

from __future__ import annotations

import datetime


class ParleyError(Exception):
    code = "internal_error"
    default_message = "Something went wrong."

    def __init__(self, message: str | None = None) -> None:
        self.message = message or self.default_message
        super().__init__(self.message)


class ConfigError(ParleyError):
    code = "config_error"
    default_message = "The server is not configured correctly."


class InvalidInput(ParleyError):
    code = "invalid_input"
    default_message = "The request is not valid."


class InvalidParameter(InvalidInput):
    """A request field that is wrong or not served; ``param`` names it (OpenAI's error shape says which)."""

    code = "invalid_parameter"

    def __init__(self, param: str, message: str | None = None) -> None:
        self.param = param
        super().__init__(message)


class UnknownModel(InvalidInput):
    code = "unknown_model"
    default_message = "That model is not available."


class UntrustedHost(InvalidInput):
    code = "untrusted_host"
    default_message = "This server does not answer to that host name."


class TooLarge(InvalidInput):
    code = "too_large"
    default_message = "The upload is larger than this server accepts."


class InvalidImage(InvalidInput):
    """An image Parley will not read (``parley.core.files.images``); the message says why, plainly."""

    code = "invalid_image"
    default_message = "This is not an image Parley can read (PNG, JPEG, WebP or GIF)."


class ModelCannotSee(InvalidInput):
    """Images attached for a model that cannot see them; refused before anything is saved or sent."""

    code = "model_cannot_see"
    default_message = "This model cannot see images."

    def __init__(self, model: str, suggestion: str | None = None) -> None:
        self.model = model
        self.suggestion = suggestion
        if suggestion:
            hint = f"Choose a model that can, such as {suggestion}, or send the message without images."
        else:
            hint = "No model on this server can; send the message without images."
        super().__init__(f"The model {model} cannot see images. {hint}")


class NotFound(ParleyError):
    code = "not_found"
    default_message = "Not found."


class Conflict(ParleyError):
    code = "conflict"
    default_message = "That conflicts with something that already exists."


class DuplicateRequest(Conflict):
    code = "duplicate_msgid"
    default_message = "This message was already sent."


class TooManyGenerations(ParleyError):
    code = "too_many_generations"
    default_message = "Too many answers are being generated at once. Wait for one to finish."


class RetryLater(ParleyError):
    """Refused for now; ``retry_after`` tells the client when to come back (HTTP Retry-After)."""

    def __init__(self, retry_after: int, message: str | None = None) -> None:
        self.retry_after = max(1, int(retry_after))
        super().__init__(message or f"{self.default_message} Try again in {self.retry_after} s.")


class RateLimited(RetryLater):
    code = "rate_limited"
    default_message = "Too many requests."


class BudgetExceeded(RetryLater):
    """The user's monthly token budget is used up until ``resets_at`` (the next UTC calendar month)."""

    code = "budget_exceeded"
    default_message = "Your monthly token budget is used up."

    def __init__(self, monthly_tokens: int, resets_at: datetime.datetime, now: datetime.datetime) -> None:
        self.monthly_tokens = monthly_tokens
        self.resets_at = resets_at
        # Python's %d pads with a zero and %-d is not portable: the day is formatted by hand.
        when = f"{resets_at.day} {resets_at:%B %Y}"
        message = f"Your monthly budget of {monthly_tokens:,} tokens is used up; it resets on {when} (UTC)."
        super().__init__(int((resets_at - now).total_seconds()), message)


class ShuttingDown(RetryLater):
    code = "shutting_down"
    default_message = "The server is restarting."


class Forbidden(ParleyError):
    code = "forbidden"
    default_message = "This request is not allowed."


class CrossSiteRequest(Forbidden):
    code = "cross_site_request"
    default_message = "This request must come from Parley's own page."


class SetupRefused(Forbidden):
    code = "setup_refused"
    default_message = (
        "This setup link is not valid: it was used already, or the server printed a newer one. "
        "Restart the server for a new link, or create an account with `parley users add NAME --admin`."
    )


class SignupClosed(Forbidden):
    code = "signup_closed"
    default_message = "Sign-up is closed on this server. Ask its owner for an account."


class AuthError(ParleyError):
    code = "unauthorized"
    default_message = "Authentication required."


class InvalidCredentials(AuthError):
    code = "invalid_credentials"
    default_message = "Wrong username or password."


class InvalidToken(AuthError):
    code = "invalid_token"
    default_message = "Your session is not valid. Please log in again."


class InvalidApiKey(AuthError):
    code = "invalid_api_key"
    default_message = "Invalid API key. Create one in Parley's settings and send it as 'Authorization: Bearer KEY'."


class AccountPending(AuthError):
    code = "account_pending"
    default_message = "Your account is waiting for an administrator's approval. Try again once it is approved."


class LoginThrottled(RetryLater, AuthError):
    code = "too_many_attempts"
    default_message = "Too many failed attempts."


class ProviderError(ParleyError):
    code = "provider_error"
    default_message = "The model provider failed."
    retryable = False


class ProviderAuthError(ProviderError):
    code = "provider_auth"
    default_message = "The model provider refused the configured credentials."


class ProviderRateLimited(ProviderError):
    code = "provider_rate_limited"
    default_message = "The model provider is busy (rate limited). Try again shortly."
    retryable = True

    def __init__(self, message: str | None = None, retry_after: float | None = None) -> None:
        self.retry_after = retry_after
        super().__init__(message)


class ProviderUnavailable(ProviderError):
    code = "provider_unavailable"
    default_message = "The model provider is unavailable."
    retryable = True


class ProviderTimeout(ProviderError):
    code = "provider_timeout"
    default_message = "The model provider did not answer in time."


class StreamInterrupted(ProviderError):
    code = "stream_interrupted"
    default_message = "The model's answer was interrupted."


class ModelCrashed(StreamInterrupted):
    code = "model_crashed"
    default_message = "The local model stopped unexpectedly. It starts again on your next message."


class AnswerAbandoned(ParleyError):
    code = "abandoned"
    default_message = "The server stopped before the answer finished. What was written so far is kept."


def message_for_code(code: str) -> str | None:
    """The user-facing message of the error with this ``code``: what a saved answer's finish reason says once the
    live error event is gone. None for a code no error has (a normal finish reason such as ``stop``)."""
    messages: dict[str, str] = {}
    pending: list[type[ParleyError]] = [ParleyError]
    while pending:  # breadth first: a subclass that keeps its parent's code keeps its parent's message too
        error = pending.pop(0)
        messages.setdefault(error.code, error.default_message)
        pending.extend(error.__subclasses__())
    return messages.get(code)
