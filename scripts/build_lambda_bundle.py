"""Build build/lambda: the `parley` package and its runtime dependencies for AWS Lambda (Python 3.12, arm64).

No Docker and no compiler: pip fetches the manylinux aarch64 wheels whatever machine this runs on, and the repository's
own package is installed as a regular (non-editable) wheel. The directory is built beside the old one and swapped in
only when complete, so a failed build never leaves half a bundle for `cdk deploy` to upload. Building twice from the
same sources gives the same files, so CDK sees an unchanged asset and leaves the functions alone.

    python scripts/build_lambda_bundle.py [--output build/lambda]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
PYTHON_VERSION = "3.12"
# The Lambda python3.12 runtime (Amazon Linux 2023) has glibc 2.34: any manylinux wheel up to that loads.
PLATFORMS = ["manylinux2014_aarch64", *(f"manylinux_2_{minor}_aarch64" for minor in range(17, 35))]
EXTRAS = ("aws",)
# What building the package's wheel reads.
SOURCE_FILES = ("pyproject.toml", "README.md", "src")
HANDLERS_PACKAGE = Path("parley/aws/handlers")
# The OpenAI-compatible function's handler: the Lambda Web Adapter's wrapper (/opt/bootstrap) runs it to start the
# function's web server (see parley/aws/functions/openai_api.py).
OPENAI_API_STARTUP = "openai_api.sh"
OPENAI_API_STARTUP_SCRIPT = "#!/bin/sh\nexec python3 -m parley.aws.handlers.openai_api\n"
PIP_INSTALL = [sys.executable, "-m", "pip", "install", "--quiet", "--no-compile", "--disable-pip-version-check"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--output", type=Path, default=REPO_ROOT / "build" / "lambda")
    output: Path = parser.parse_args(argv).output.resolve()
    staging = output.with_name(output.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)

    install_dependencies(staging)
    # Console scripts name this machine's Python and never run on Lambda (removed again after the package).
    shutil.rmtree(staging / "bin", ignore_errors=True)
    install_package(staging, scratch=output.with_name(output.name + "-source"))
    for generated in [staging / "bin", *staging.rglob("__pycache__")]:
        shutil.rmtree(generated, ignore_errors=True)
    if not (staging / HANDLERS_PACKAGE).is_dir():
        sys.exit(f"build_lambda_bundle: {HANDLERS_PACKAGE} is missing from the bundle; nothing to deploy.")
    startup = staging / OPENAI_API_STARTUP
    startup.write_text(OPENAI_API_STARTUP_SCRIPT)
    startup.chmod(0o755)
    precompile(staging)

    shutil.rmtree(output, ignore_errors=True)
    staging.rename(output)
    size = sum(path.stat().st_size for path in output.rglob("*") if path.is_file())
    print(f"Lambda bundle: {size / 1e6:.1f} MB in {output}")
    return 0


def runtime_requirements(pyproject: Path) -> list[str]:
    """The package's dependencies plus its `aws` extra; the `local` extra (llama.cpp) stays out."""
    project = tomllib.loads(pyproject.read_text())["project"]
    requirements = list(project["dependencies"])
    for extra in EXTRAS:
        requirements += project["optional-dependencies"][extra]
    return requirements


def install_dependencies(target: Path) -> None:
    """Wheels for Linux arm64 and CPython 3.12 only, at the versions constraints.txt pins."""
    requirements = runtime_requirements(REPO_ROOT / "pyproject.toml")
    print(f"Lambda bundle: {len(requirements)} requirements for Python {PYTHON_VERSION} on arm64")
    run(
        [
            *PIP_INSTALL,
            f"--target={target}",
            *(f"--platform={name}" for name in PLATFORMS),
            "--implementation=cp",
            f"--python-version={PYTHON_VERSION}",
            "--only-binary=:all:",
            f"--constraint={REPO_ROOT / 'constraints.txt'}",
            *requirements,
        ]
    )


def install_package(target: Path, *, scratch: Path) -> None:
    """The package is pure Python: its wheel is built from a copy of the sources, without dependencies.

    An in-tree build would leave build/lib behind, whose stale modules a later wheel picks up; the copy lives at a
    fixed path because pip records it in the installed metadata (a random path would change the asset every time)."""
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir(parents=True)
    for name in SOURCE_FILES:
        if (REPO_ROOT / name).is_dir():
            ignore = shutil.ignore_patterns("__pycache__", "*.egg-info")
            shutil.copytree(REPO_ROOT / name, scratch / name, ignore=ignore)
        else:
            shutil.copy2(REPO_ROOT / name, scratch / name)
    try:
        run([*PIP_INSTALL, f"--target={target}", "--no-deps", str(scratch)])
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def precompile(bundle: Path) -> None:
    """Byte-compile with Python 3.12 when this machine has one, so cold starts do not compile every module.

    unchecked-hash .pyc files stay valid whatever timestamps the asset zip gives the sources."""
    python = shutil.which(f"python{PYTHON_VERSION}")
    if python is None or subprocess.run([python, "-c", ""], capture_output=True, check=False).returncode != 0:  # noqa: S603
        print(f"Lambda bundle: no python{PYTHON_VERSION} here, so modules are compiled at each cold start instead.")
        return
    run([python, "-m", "compileall", "-q", "-j", "0", "--invalidation-mode", "unchecked-hash", str(bundle)])


def run(command: list[str]) -> None:
    result = subprocess.run(command, check=False)  # noqa: S603 - a fixed argv, no shell
    if result.returncode != 0:
        sys.exit(f"build_lambda_bundle: exit status {result.returncode} from: {' '.join(command[:8])} ...")


if __name__ == "__main__":
    raise SystemExit(main())
