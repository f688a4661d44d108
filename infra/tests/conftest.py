"""One offline `cdk synth` per session, with the CLI pinned in infra/package.json, on placeholder assets.

No AWS account, credentials or network: the account and region are placeholders and every way the CLI could look up
credentials is switched off.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
from aws_cdk.assertions import Template

INFRA = Path(__file__).resolve().parents[1]
CDK = INFRA / "node_modules" / ".bin" / "cdk"
ACCOUNT = "123456789012"
REGION = "us-east-1"
STACK = "Parley"


def offline_environment() -> dict[str, str]:
    environment = {name: value for name, value in os.environ.items() if not name.startswith(("AWS_", "CDK_"))}
    environment.update(
        AWS_CONFIG_FILE=os.devnull,
        AWS_SHARED_CREDENTIALS_FILE=os.devnull,
        AWS_EC2_METADATA_DISABLED="true",
        CDK_DEFAULT_ACCOUNT=ACCOUNT,
        CDK_DEFAULT_REGION=REGION,
        CDK_DISABLE_VERSION_CHECK="1",
        CDK_DISABLE_CLI_TELEMETRY="true",
        JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION="20",
    )
    return environment


@pytest.fixture(scope="session")
def placeholder_assets(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A Lambda code directory and a web build that are just big enough to be assets."""
    root = tmp_path_factory.mktemp("assets")
    code, web = root / "lambda", root / "web"
    code.mkdir()
    web.mkdir()
    (code / "README").write_text("placeholder Lambda code\n")
    (web / "index.html").write_text("<!doctype html><title>Parley</title>\n")
    (web / "favicon.svg").write_text("<svg xmlns='http://www.w3.org/2000/svg'/>\n")
    (web / "assets").mkdir()
    (web / "assets" / "index-0a1b2c3d.js").write_text("console.log('Parley')\n")
    (web / "config.json").write_text('{"api_base_url": "http://127.0.0.1:8000"}\n')  # a dev copy: must not ship
    return code, web


@pytest.fixture(scope="session")
def cloud_assembly(tmp_path_factory: pytest.TempPathFactory, placeholder_assets: tuple[Path, Path]) -> Path:
    if not CDK.exists():
        pytest.fail("infra/node_modules is missing: run `make infra-test` (it runs npm ci in infra/)")
    code, web = placeholder_assets
    output = tmp_path_factory.mktemp("cdk.out")
    command = [str(CDK), "synth", STACK, "--quiet", "--no-notices", "--output", str(output)]
    command += ["-c", f"lambdaAsset={code}", "-c", f"webDist={web}"]
    result = subprocess.run(
        command, cwd=INFRA, env=offline_environment(), capture_output=True, text=True, timeout=600, check=False
    )
    assert result.returncode == 0, f"cdk synth failed:\n{result.stdout}\n{result.stderr}"
    return output


@pytest.fixture(scope="session")
def template_path(cloud_assembly: Path) -> Path:
    return cloud_assembly / f"{STACK}.template.json"


@pytest.fixture(scope="session")
def template_json(template_path: Path) -> dict[str, Any]:
    return json.loads(template_path.read_text())


@pytest.fixture(scope="session")
def template(template_json: dict[str, Any]) -> Template:
    """For aws_cdk.assertions; building it also checks that no resources depend on each other in a cycle."""
    return Template.from_json(template_json)
