"""Settings: resolved once at start-up, then passed in.

Resolution order for every field: explicit argument, then environment, then default.
All environment variable names live here and nowhere else.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Literal

from parley.errors import ConfigError

ENV_DATA_DIR = "PARLEY_DATA_DIR"
ENV_HOST = "PARLEY_HOST"
ENV_PORT = "PARLEY_PORT"
ENV_MODELS_FILE = "PARLEY_MODELS_FILE"
ENV_STORE = "PARLEY_STORE"
ENV_JWT_SECRET = "PARLEY_JWT_SECRET"  # noqa: S105 - a variable name, not a secret
ENV_TOKEN_TTL = "PARLEY_TOKEN_TTL_SECONDS"  # noqa: S105
ENV_LOCAL_MODEL = "PARLEY_LOCAL_MODEL"
ENV_LOCAL_THREADS = "PARLEY_LOCAL_MODEL_THREADS"
ENV_CONTEXT_BUDGET = "PARLEY_CONTEXT_BUDGET_TOKENS"
ENV_ALLOWED_ORIGINS = "PARLEY_ALLOWED_ORIGINS"
ENV_TRUSTED_HOSTS = "PARLEY_TRUSTED_HOSTS"
ENV_FIRST_TOKEN_TIMEOUT = "PARLEY_FIRST_TOKEN_TIMEOUT"  # noqa: S105
ENV_TOKEN_IDLE_TIMEOUT = "PARLEY_TOKEN_IDLE_TIMEOUT"  # noqa: S105
ENV_LOG_LEVEL = "PARLEY_LOG_LEVEL"
ENV_MAX_SOCKETS_PER_USER = "PARLEY_MAX_SOCKETS_PER_USER"
ENV_REQUESTS_PER_MINUTE = "PARLEY_REQUESTS_PER_MINUTE"
ENV_SHARE_VIEWS_PER_MINUTE = "PARLEY_SHARE_VIEWS_PER_MINUTE"
ENV_MAX_GENERATIONS_PER_USER = "PARLEY_MAX_GENERATIONS_PER_USER"
ENV_REQUEST_READ_TIMEOUT = "PARLEY_REQUEST_READ_TIMEOUT"
ENV_FORWARDED_ALLOW_IPS = "PARLEY_FORWARDED_ALLOW_IPS"
ENV_SHUTDOWN_GRACE = "PARLEY_SHUTDOWN_GRACE_SECONDS"
ENV_METRICS_TOKEN = "PARLEY_METRICS_TOKEN"  # noqa: S105 - a variable name, not a secret
ENV_LOG_FORMAT = "PARLEY_LOG_FORMAT"
ENV_SIGNUP = "PARLEY_SIGNUP"
ENV_SIGNUP_DOMAINS = "PARLEY_SIGNUP_DOMAINS"
# The serverless deployment (set by the CDK stack on every Lambda function).
ENV_DYNAMODB_TABLE = "PARLEY_DYNAMODB_TABLE"
ENV_SNS_TOPIC_ARN = "PARLEY_SNS_TOPIC_ARN"
ENV_JWT_SECRET_ARN = "PARLEY_JWT_SECRET_ARN"  # noqa: S105
ENV_OPENAI_KEY_SECRET_ARN = "PARLEY_OPENAI_API_KEY_SECRET_ARN"  # noqa: S105
# The value CloudFront sends in its origin secret header (parley.server.cloudfront), or where to read it.
ENV_CLOUDFRONT_SECRET = "PARLEY_CLOUDFRONT_SECRET"  # noqa: S105
ENV_CLOUDFRONT_SECRET_ARN = "PARLEY_CLOUDFRONT_SECRET_ARN"  # noqa: S105
ENV_BEDROCK_MODELS = "PARLEY_BEDROCK_MODELS"
ENV_WS_CALLBACK_URL = "PARLEY_WS_CALLBACK_URL"
ENV_AWS_ENDPOINT_URL = "AWS_ENDPOINT_URL"
ENV_OPENAI_API_KEY = "OPENAI_API_KEY"
ENV_OPENAI_BASE_URL = "OPENAI_BASE_URL"
ENV_WEB_DIR = "PARLEY_WEB_DIR"
ENV_APP_NAME = "PARLEY_APP_NAME"
ENV_MAX_IMPORT_BYTES = "PARLEY_MAX_IMPORT_BYTES"
ENV_MAX_COMPLETION_BYTES = "PARLEY_MAX_COMPLETION_BYTES"
ENV_HISTORY_BUCKET = "PARLEY_HISTORY_BUCKET"
ENV_FILES_BUCKET = "PARLEY_FILES_BUCKET"
ENV_MAX_FILE_BYTES = "PARLEY_MAX_FILE_BYTES"
ENV_MAX_USER_FILE_BYTES = "PARLEY_MAX_USER_FILE_BYTES"
ENV_EMBEDDING_MODEL = "PARLEY_EMBEDDING_MODEL"
ENV_EMBEDDING_PROVIDER = "PARLEY_EMBEDDING_PROVIDER"
ENV_EMBEDDING_BASE_URL = "PARLEY_EMBEDDING_BASE_URL"
ENV_EMBEDDING_API_KEY = "PARLEY_EMBEDDING_API_KEY"

SignupMode = Literal["off", "approval", "open"]

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


PACKAGE_NAME = "parley"


def checkout_root() -> Path | None:
    """The git checkout this package runs from (``src/parley`` of it, as `make serve` installs it), or None when it
    runs from an installed wheel."""
    root = Path(__file__).resolve().parents[2]
    return root if (root / "pyproject.toml").is_file() and (root / "src" / PACKAGE_NAME).is_dir() else None


def default_web_dir() -> Path | None:
    """The web app: ``web/dist`` of the checkout (``make web-build``), or the copy a wheel carries (``make dist``)."""
    checkout = checkout_root()
    if checkout is not None and (checkout / "web").is_dir():
        return checkout / "web" / "dist"
    packaged = Path(__file__).resolve().parent / "web_dist"
    return packaged if (packaged / "index.html").is_file() else None


def default_local_model_threads(usable_cores: int | None = None) -> int:
    """llama.cpp threads for the local model: one core fewer than this process may use, at least one.

    llama.cpp's threads meet at a barrier after every step of a token, so when they take every core, anything
    else that runs (the server sending the tokens, the browser reading them, other programs) holds all of them
    up. On 2 cores, 2 threads decoded about 10% faster than 1 on an otherwise idle machine, and often several
    times slower while other work ran beside them (``bench/README.md``, benchmark 5).
    """
    if usable_cores is None:
        usable_cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, usable_cores - 1)


def default_data_dir() -> Path:
    """``./data`` beside a checkout; the platform's user data directory (``~/.local/share/parley`` on Linux) for an
    installed package, so that where `parley serve` is started from does not matter."""
    if checkout_root() is not None:
        return Path("data")
    import platformdirs

    return Path(platformdirs.user_data_dir(PACKAGE_NAME, appauthor=False))


@dataclass(frozen=True)
class Argon2Params:
    """OWASP's argon2id recommendation: m=19 MiB, t=2, p=1."""

    time_cost: int = 2
    memory_kib: int = 19 * 1024
    parallelism: int = 1


@dataclass(frozen=True)
class ThrottleRule:
    """At most ``limit`` failures per ``window_seconds``; the block lifts when the window ends."""

    limit: int
    window_seconds: int


@dataclass(frozen=True)
class Settings:
    data_dir: Path = field(default_factory=default_data_dir)
    host: str = "127.0.0.1"
    port: int = 8000
    # Peers whose X-Forwarded-For names the client (a reverse proxy on this host, by default): the address
    # login throttling counts. "*" trusts anyone, which lets any client pick its address.
    forwarded_allow_ips: tuple[str, ...] = ("127.0.0.1", "::1")
    models_file: Path | None = None
    store: str = "sqlite"
    log_level: str = "INFO"

    # Auth
    jwt_secret: str | None = None
    jwt_issuer: str = "parley"
    jwt_audience: str = "parley"
    token_ttl_seconds: int = 12 * 3600
    ticket_ttl_seconds: int = 60
    argon2: Argon2Params = field(default_factory=Argon2Params)
    hash_concurrency: int = max(1, os.cpu_count() or 1)
    throttle_per_user: ThrottleRule = ThrottleRule(limit=10, window_seconds=300)
    throttle_per_address: ThrottleRule = ThrottleRule(limit=50, window_seconds=300)
    # Who may create an account from the login page: nobody ("off"), anyone but waiting for an admin's approval
    # ("approval"), or anyone at once ("open"; with signup_domains, only emails of those domains, others wait).
    signup: SignupMode = "off"
    signup_domains: tuple[str, ...] = ()

    # Providers
    openai_api_key: str | None = None
    openai_base_url: str | None = None
    local_model: bool = True
    local_model_threads: int = field(default_factory=default_local_model_threads)
    provider_retries: int = 3
    retry_base_delay: float = 0.5
    first_token_timeout: float = 120.0
    token_idle_timeout: float = 60.0

    # Chat
    context_budget_tokens: int = 6000
    max_prompt_chars: int = 32_000
    save_interval_seconds: float = 1.0
    # Attached documents: an embedding model makes retrieval hybrid (vectors fused with BM25 keywords); without
    # one (the default) it is keywords only, and nothing is downloaded. The provider is "openai" (any
    # OpenAI-compatible /embeddings: OpenAI, Ollama, vLLM; base URL and key default to the chat ones) or
    # "bedrock" (e.g. amazon.titan-embed-text-v2:0).
    embedding_model: str | None = None
    embedding_provider: str = "openai"
    embedding_base_url: str | None = None
    embedding_api_key: str | None = None
    # Of the context budget, the share an attached document's whole text may take; past it, retrieval picks
    # passages to fill that share.
    document_context_share: float = 0.6
    # On SIGTERM, running answers may finish for this long before they are cut and saved as interrupted.
    shutdown_grace_seconds: float = 30.0

    # Operations: /metrics is served only to scrapers sending this bearer token (None: not served at all);
    # logs are readable lines ("plain") or one JSON object a line ("json").
    metrics_token: str | None = None
    log_format: str = "plain"
    title_max_chars: int = 60

    # Serverless deployment
    dynamodb_table: str | None = None
    sns_topic_arn: str | None = None
    jwt_secret_arn: str | None = None
    openai_api_key_secret_arn: str | None = None
    # Proves a request came through CloudFront, so its viewer address is believed (None: never believed).
    cloudfront_secret: str | None = None
    cloudfront_secret_arn: str | None = None
    bedrock_models: tuple[str, ...] = ()
    ws_callback_url: str | None = None  # where PostToConnection goes; by default derived from the event
    aws_endpoint_url: str | None = None  # e.g. a moto server on loopback
    ws_post_interval: float = 0.1  # the worker coalesces deltas: at most ~10 posts a second a stream
    ws_max_frame_bytes: int = 32 * 1024
    # The private bucket exports are written to and imports uploaded to (None: through this server instead).
    history_bucket: str | None = None
    # The private bucket attached files are kept in, uploaded to straight from the browser (None: this server's
    # data directory instead).
    files_bucket: str | None = None

    # Limits. The per-user ones are kept in the store, so they hold across processes (Lambda containers).
    max_body_bytes: int = 256 * 1024
    max_import_bytes: int = 512 * 1024 * 1024  # an uploaded file to import (its own limit, over max_body_bytes)
    max_file_bytes: int = 25 * 1024 * 1024  # a file attached to prompts
    max_user_file_bytes: int = 500 * 1024 * 1024  # all of a user's attached files together
    # A /v1/chat/completions body, which may carry images as base64 data URLs (on AWS the function URL caps it at 6 MB).
    max_completion_bytes: int = 20 * 1024 * 1024
    max_sockets_per_user: int = 16
    requests_per_minute: int = 600  # per user, HTTP requests and WebSocket messages; bursts of half that pass
    share_views_per_minute: int = 60  # per client address, reads of public share links; bursts of half that pass
    max_generations_per_user: int = 4  # answers being generated at once
    request_read_timeout: float = 10.0  # seconds a client has to send a whole request (slow loris)
    allowed_origins: tuple[str, ...] = ()
    # Host names `parley serve` answers to besides localhost and the address it is bound to (DNS rebinding).
    trusted_hosts: tuple[str, ...] = ()

    # The built web app served at / (None: serve the API only)
    web_dir: Path | None = field(default_factory=default_web_dir)
    app_name: str = "Parley"  # what the web app calls itself (title, login page, sidebar)

    @property
    def database_path(self) -> Path:
        return self.data_dir / "parley.db"

    @property
    def jwt_secret_path(self) -> Path:
        return self.data_dir / "jwt_secret"

    @property
    def imports_dir(self) -> Path:
        """Where uploaded files wait for their import job (private; each is removed when its job ends)."""
        return self.data_dir / "imports"

    @property
    def files_dir(self) -> Path:
        """Where attached files' bytes are kept locally (private): ``<user>/<file>/<blob>``."""
        return self.data_dir / "files"

    @property
    def file_uploads_dir(self) -> Path:
        """Where an attached file's upload is spooled while it arrives (private; removed once kept or refused)."""
        return self.data_dir / "file-uploads"

    def with_overrides(self, **overrides: Any) -> Settings:
        return replace(self, **{k: v for k, v in overrides.items() if v is not None})

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Build settings: ``overrides`` (not None) win over ``env``, which wins over defaults."""
        env = os.environ if env is None else env
        from_env: dict[str, Any] = {}
        readers: list[tuple[str, str, Any]] = [
            ("data_dir", ENV_DATA_DIR, Path),
            ("host", ENV_HOST, str),
            ("port", ENV_PORT, int),
            ("models_file", ENV_MODELS_FILE, Path),
            ("store", ENV_STORE, str),
            ("jwt_secret", ENV_JWT_SECRET, str),
            ("token_ttl_seconds", ENV_TOKEN_TTL, int),
            ("local_model", ENV_LOCAL_MODEL, _parse_bool),
            ("local_model_threads", ENV_LOCAL_THREADS, int),
            ("context_budget_tokens", ENV_CONTEXT_BUDGET, int),
            ("allowed_origins", ENV_ALLOWED_ORIGINS, _parse_list),
            ("trusted_hosts", ENV_TRUSTED_HOSTS, _parse_list),
            ("first_token_timeout", ENV_FIRST_TOKEN_TIMEOUT, float),
            ("token_idle_timeout", ENV_TOKEN_IDLE_TIMEOUT, float),
            ("log_level", ENV_LOG_LEVEL, str.upper),
            ("max_sockets_per_user", ENV_MAX_SOCKETS_PER_USER, int),
            ("requests_per_minute", ENV_REQUESTS_PER_MINUTE, int),
            ("share_views_per_minute", ENV_SHARE_VIEWS_PER_MINUTE, int),
            ("max_generations_per_user", ENV_MAX_GENERATIONS_PER_USER, int),
            ("request_read_timeout", ENV_REQUEST_READ_TIMEOUT, float),
            ("forwarded_allow_ips", ENV_FORWARDED_ALLOW_IPS, _parse_list),
            ("shutdown_grace_seconds", ENV_SHUTDOWN_GRACE, float),
            ("metrics_token", ENV_METRICS_TOKEN, str),
            ("log_format", ENV_LOG_FORMAT, parse_log_format),
            ("signup", ENV_SIGNUP, parse_signup_mode),
            ("signup_domains", ENV_SIGNUP_DOMAINS, _parse_domains),
            ("openai_api_key", ENV_OPENAI_API_KEY, str),
            ("openai_base_url", ENV_OPENAI_BASE_URL, str),
            ("dynamodb_table", ENV_DYNAMODB_TABLE, str),
            ("sns_topic_arn", ENV_SNS_TOPIC_ARN, str),
            ("jwt_secret_arn", ENV_JWT_SECRET_ARN, str),
            ("openai_api_key_secret_arn", ENV_OPENAI_KEY_SECRET_ARN, str),
            ("cloudfront_secret", ENV_CLOUDFRONT_SECRET, str),
            ("cloudfront_secret_arn", ENV_CLOUDFRONT_SECRET_ARN, str),
            ("bedrock_models", ENV_BEDROCK_MODELS, _parse_list),
            ("ws_callback_url", ENV_WS_CALLBACK_URL, str),
            ("aws_endpoint_url", ENV_AWS_ENDPOINT_URL, str),
            ("web_dir", ENV_WEB_DIR, Path),
            ("app_name", ENV_APP_NAME, parse_app_name),
            ("max_import_bytes", ENV_MAX_IMPORT_BYTES, int),
            ("max_completion_bytes", ENV_MAX_COMPLETION_BYTES, int),
            ("history_bucket", ENV_HISTORY_BUCKET, str),
            ("files_bucket", ENV_FILES_BUCKET, str),
            ("max_file_bytes", ENV_MAX_FILE_BYTES, int),
            ("max_user_file_bytes", ENV_MAX_USER_FILE_BYTES, int),
            ("embedding_model", ENV_EMBEDDING_MODEL, str),
            ("embedding_provider", ENV_EMBEDDING_PROVIDER, str.strip),
            ("embedding_base_url", ENV_EMBEDDING_BASE_URL, str),
            ("embedding_api_key", ENV_EMBEDDING_API_KEY, str),
        ]
        for name, var, parse in readers:
            raw = env.get(var)
            if raw is None or raw == "":
                continue
            try:
                from_env[name] = parse(raw)
            except ValueError as exc:
                raise ConfigError(f"{var}={raw!r} is not valid: {exc}") from exc
        known = {f.name for f in fields(cls)}
        unknown = set(overrides) - known
        if unknown:
            raise TypeError(f"unknown settings: {sorted(unknown)}")
        from_env.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**from_env)


def _parse_bool(raw: str) -> bool:
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ValueError("expected on/off, true/false, 1/0")


def _parse_list(raw: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in raw.split(",") if item.strip())


SIGNUP_MODES: tuple[SignupMode, ...] = ("off", "approval", "open")


def parse_signup_mode(raw: str) -> SignupMode:
    mode = raw.strip().lower()
    if mode not in SIGNUP_MODES:
        raise ValueError(f"expected one of {', '.join(SIGNUP_MODES)}")
    return mode


def _parse_domains(raw: str) -> tuple[str, ...]:
    return tuple(domain.lstrip("@").lower() for domain in _parse_list(raw))


MAX_APP_NAME_CHARS = 40


LOG_FORMATS = ("plain", "json")


def parse_log_format(raw: str) -> str:
    value = raw.strip().lower()
    if value not in LOG_FORMATS:
        raise ValueError(f"one of {', '.join(LOG_FORMATS)}")
    return value


def parse_app_name(raw: str) -> str:
    """A name for the title bar and headings: one line of visible text, short enough for the sidebar."""
    name = " ".join(raw.split())
    if not name:
        raise ValueError("the name is empty")
    if len(name) > MAX_APP_NAME_CHARS:
        raise ValueError(f"at most {MAX_APP_NAME_CHARS} characters")
    if not name.isprintable():
        raise ValueError("control characters are not allowed")
    return name
