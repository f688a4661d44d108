"""What one deployment can be told, read once from CDK context (`-c key=value` or cdk.json)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]

# Context keys.
LAMBDA_ASSET = "lambdaAsset"
WEB_DIST = "webDist"
BEDROCK_MODELS = "bedrockModels"
OPENAI_KEY_SECRET_ARN = "openaiKeySecretArn"  # noqa: S105 - a context key, not a secret
OPENAI_BASE_URL = "openaiBaseUrl"
APP_NAME = "appName"

DEFAULT_LAMBDA_ASSET = "build/lambda"
DEFAULT_WEB_DIST = "web/dist"
DEFAULT_BEDROCK_MODELS = "anthropic.claude-3-haiku-20240307-v1:0,amazon.nova-lite-v1:0"
DEFAULT_APP_NAME = "Parley"
MAX_APP_NAME_CHARS = 40  # as PARLEY_APP_NAME locally: it has to fit the sidebar


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
    openai_key_secret_arn: str | None = None
    """The complete ARN of a Secrets Manager secret holding an OpenAI(-compatible) API key."""
    openai_base_url: str | None = None
    app_name: str = DEFAULT_APP_NAME
    """What the web app calls itself; written into config.json (`PARLEY_APP_NAME` for `parley serve`)."""

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
            openai_key_secret_arn=text(OPENAI_KEY_SECRET_ARN),
            openai_base_url=text(OPENAI_BASE_URL),
            app_name=" ".join((text(APP_NAME) or DEFAULT_APP_NAME).split()),
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
        if self.openai_key_secret_arn and not self.openai_key_secret_arn.startswith("arn:"):
            raise SettingsError(f"{OPENAI_KEY_SECRET_ARN} must be the complete ARN of a Secrets Manager secret.")


def _directory(value: str) -> Path:
    path = Path(value).expanduser()
    return path if path.is_absolute() else REPO_ROOT / path
