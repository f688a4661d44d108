"""What one deployment can be told, read once from CDK context (`-c key=value` or cdk.json)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]

# Context keys.
LAMBDA_ASSET = "lambdaAsset"
WEB_DIST = "webDist"
BEDROCK_MODELS = "bedrockModels"
EMBEDDING_MODEL = "embeddingModel"
OPENAI_KEY_SECRET_ARN = "openaiKeySecretArn"  # noqa: S105 - a context key, not a secret
OPENAI_BASE_URL = "openaiBaseUrl"
APP_NAME = "appName"
API_RATE_LIMIT = "apiRateLimit"
API_BURST_LIMIT = "apiBurstLimit"
WORKER_CONCURRENCY = "workerConcurrency"
FILE_WORKER_CONCURRENCY = "fileWorkerConcurrency"
WEB_ACL_ARN = "webAclArn"
ALARM_EMAIL = "alarmEmail"
MONITORING = "monitoring"
SIGNUP = "signup"
SIGNUP_DOMAINS = "signupDomains"
SIGNUP_MODES = ("off", "approval", "open")  # as PARLEY_SIGNUP for parley serve

DEFAULT_LAMBDA_ASSET = "build/lambda"
DEFAULT_WEB_DIST = "web/dist"
DEFAULT_BEDROCK_MODELS = "anthropic.claude-3-haiku-20240307-v1:0,amazon.nova-lite-v1:0"
DEFAULT_APP_NAME = "Parley"
MAX_APP_NAME_CHARS = 40  # as PARLEY_APP_NAME locally: it has to fit the sidebar
# What each API's stage takes, per route, from everyone together: far above a team's use (each user may send 600
# requests a minute, bursts of 300), far below API Gateway's account limit of 10,000 a second: a flood is refused
# at the edge (429) instead of running a function per request.
DEFAULT_API_RATE_LIMIT = 50.0  # requests (HTTP) or messages and connections (WebSocket) a second, sustained
DEFAULT_API_BURST_LIMIT = 100
# A web ACL for CloudFront lives in us-east-1, with the global scope, whatever the stack's region.
WEB_ACL_ARN_PATTERN = re.compile(r"arn:aws[\w-]*:wafv2:us-east-1:\d{12}:global/webacl/[\w-]+/[\w-]+")

MODEL_ID_PATTERN = re.compile(r"[a-z0-9-]+\.[\w.:-]+")
EMAIL_PATTERN = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


class SettingsError(Exception):
    """A context value the stack cannot be built from; the message says what to do."""


@dataclass(frozen=True)
class DeploySettings:
    lambda_asset: Path
    """A directory holding the `parley` package and its dependencies for Linux arm64 (build/lambda)."""
    web_dist: Path
    """The built web app; `config.json` is written next to it in the bucket."""
    bedrock_models: str = DEFAULT_BEDROCK_MODELS
    """Comma-separated Bedrock model ids offered to users."""
    embedding_model: str | None = None
    """A Bedrock embedding model (e.g. amazon.titan-embed-text-v2:0) for attached documents: retrieval becomes
    hybrid. None: keywords only (BM25), and no function may invoke one."""
    openai_key_secret_arn: str | None = None
    """The complete ARN of a Secrets Manager secret holding an OpenAI(-compatible) API key."""
    openai_base_url: str | None = None
    app_name: str = DEFAULT_APP_NAME
    """What the web app calls itself; written into config.json (`PARLEY_APP_NAME` for `parley serve`)."""
    api_rate_limit: float = DEFAULT_API_RATE_LIMIT
    """Requests a second each route of the HTTP API, and each route of the WebSocket API, takes (stage throttling)."""
    api_burst_limit: int = DEFAULT_API_BURST_LIMIT
    worker_concurrency: int | None = None
    """Concurrency reserved for the worker: answers that may run at once, kept free for them whatever else runs in
    the account. None: none reserved (the account's quota must leave 100 unreserved, so a new account cannot)."""
    file_worker_concurrency: int | None = None
    """Concurrency reserved for the file worker: uploads processed at once (a burst of uploads then waits in
    Lambda's queue instead of taking the concurrency answers need). None: none reserved, as above."""
    web_acl_arn: str | None = None
    """A WAF web ACL (CloudFront scope) to put in front of the site and /api/*; see infra/README.md."""
    signup: str = "off"
    """Who may create an account from the login page (PARLEY_SIGNUP): nobody, anyone pending approval, or anyone."""
    signup_domains: str | None = None
    """With signup=open, only emails of these domains get in at once (comma-separated; PARLEY_SIGNUP_DOMAINS)."""
    monitoring: bool = True
    """CloudWatch alarms and a dashboard (infra/README.md says what they cost); `-c monitoring=off` leaves them out."""
    alarm_email: str | None = None
    """Where the alarms' topic sends email (the address confirms the subscription once); None: no email."""

    @classmethod
    def from_context(cls, get: Any) -> DeploySettings:
        """Build from a context getter (`node.try_get_context`). Relative paths are from the repository root."""

        def text(key: str) -> str | None:
            value = get(key)
            if value is None or str(value).strip() == "":
                return None
            return str(value).strip()

        settings = cls(
            lambda_asset=_directory(text(LAMBDA_ASSET) or DEFAULT_LAMBDA_ASSET),
            web_dist=_directory(text(WEB_DIST) or DEFAULT_WEB_DIST),
            bedrock_models=text(BEDROCK_MODELS) or DEFAULT_BEDROCK_MODELS,
            embedding_model=text(EMBEDDING_MODEL),
            openai_key_secret_arn=text(OPENAI_KEY_SECRET_ARN),
            openai_base_url=text(OPENAI_BASE_URL),
            app_name=" ".join((text(APP_NAME) or DEFAULT_APP_NAME).split()),
            api_rate_limit=_number(text(API_RATE_LIMIT), API_RATE_LIMIT, DEFAULT_API_RATE_LIMIT, float),
            api_burst_limit=_number(text(API_BURST_LIMIT), API_BURST_LIMIT, DEFAULT_API_BURST_LIMIT, int),
            worker_concurrency=_number(text(WORKER_CONCURRENCY), WORKER_CONCURRENCY, None, int),
            file_worker_concurrency=_number(text(FILE_WORKER_CONCURRENCY), FILE_WORKER_CONCURRENCY, None, int),
            web_acl_arn=text(WEB_ACL_ARN),
            signup=(text(SIGNUP) or "off").lower(),
            signup_domains=text(SIGNUP_DOMAINS),
            monitoring=_switch(text(MONITORING), MONITORING),
            alarm_email=text(ALARM_EMAIL),
        )
        settings.check()
        return settings

    def check(self) -> None:
        if not self.lambda_asset.is_dir():
            raise SettingsError(
                f"The Lambda code directory {self.lambda_asset} does not exist. `make deploy` builds it "
                f"(scripts/build_lambda_bundle.py); `make synth` uses a placeholder. Or pass -c {LAMBDA_ASSET}=DIR."
            )
        if not self.web_dist.is_dir():
            raise SettingsError(
                f"The web app build {self.web_dist} does not exist. Build the web app first, or pass -c {WEB_DIST}=DIR."
            )
        if len(self.app_name) > MAX_APP_NAME_CHARS or not self.app_name.isprintable():
            raise SettingsError(f"{APP_NAME} must be one line of at most {MAX_APP_NAME_CHARS} characters.")
        if self.embedding_model and not MODEL_ID_PATTERN.fullmatch(self.embedding_model):
            raise SettingsError(
                f"{EMBEDDING_MODEL} must be one Bedrock model id, such as amazon.titan-embed-text-v2:0."
            )
        if self.openai_key_secret_arn and not self.openai_key_secret_arn.startswith("arn:"):
            raise SettingsError(f"{OPENAI_KEY_SECRET_ARN} must be the complete ARN of a Secrets Manager secret.")
        if not self.api_rate_limit > 0 or self.api_burst_limit < 1:
            raise SettingsError(f"{API_RATE_LIMIT} and {API_BURST_LIMIT} must be above zero.")
        if self.worker_concurrency is not None and self.worker_concurrency < 1:
            raise SettingsError(f"{WORKER_CONCURRENCY} must be at least 1 (leave it out to reserve none).")
        if self.file_worker_concurrency is not None and self.file_worker_concurrency < 1:
            raise SettingsError(f"{FILE_WORKER_CONCURRENCY} must be at least 1 (leave it out to reserve none).")
        if self.signup not in SIGNUP_MODES:
            raise SettingsError(f"{SIGNUP} must be one of {', '.join(SIGNUP_MODES)}, not {self.signup!r}.")
        if self.alarm_email and not EMAIL_PATTERN.fullmatch(self.alarm_email):
            raise SettingsError(f"{ALARM_EMAIL} must be one email address, not {self.alarm_email!r}.")
        if self.web_acl_arn and not WEB_ACL_ARN_PATTERN.fullmatch(self.web_acl_arn):
            raise SettingsError(
                f"{WEB_ACL_ARN} must be the ARN of a web ACL for CloudFront: created in us-east-1 with the CLOUDFRONT"
                " scope (arn:aws:wafv2:us-east-1:ACCOUNT:global/webacl/NAME/ID)."
            )


def _number(value: str | None, key: str, default: Any, kind: type) -> Any:
    if value is None:
        return default
    try:
        return kind(value)
    except ValueError:
        raise SettingsError(f"{key} must be a number, not {value!r}.") from None


def _switch(value: str | None, key: str) -> bool:
    if value is None or value.lower() in ("on", "true", "yes", "1"):
        return True
    if value.lower() in ("off", "false", "no", "0"):
        return False
    raise SettingsError(f"{key} must be on or off, not {value!r}.")


def _directory(value: str) -> Path:
    path = Path(value).expanduser()
    return path if path.is_absolute() else REPO_ROOT / path
