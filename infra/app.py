"""The CDK app (`cdk.json` runs it with infra/.venv). Context keys: see parley_stack/settings.py."""

from __future__ import annotations

import os
import sys

import aws_cdk as cdk

from parley_stack import STACK_NAME, DeploySettings, ParleyStack, SettingsError


def main() -> None:
    app = cdk.App()
    try:
        settings = DeploySettings.from_context(app.node.try_get_context)
    except SettingsError as error:
        sys.exit(f"parley infra: {error}")
    # The CLI fills these from the deployer's credentials; `make synth` and the tests set placeholders.
    env = cdk.Environment(account=os.environ.get("CDK_DEFAULT_ACCOUNT"), region=os.environ.get("CDK_DEFAULT_REGION"))
    ParleyStack(
        app,
        STACK_NAME,
        settings=settings,
        env=env,
        description="Parley: a private AI assistant (serverless)",
        analytics_reporting=False,
    )
    app.synth()


if __name__ == "__main__":
    main()
