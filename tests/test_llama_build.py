"""The installed llama.cpp is the portable build (mk/llama.mk), not one tuned to the machine that compiled it.

A ``-march=native`` build on a CPU that advertises AVX-512 or AMX carries those instructions, and dies with
SIGSEGV/SIGILL on a machine that lacks them or (AMX) forbids them. The portable build targets x86-64-v3:
AVX2 and FMA, nothing wider. The disassembly says which instructions are really in the library.
"""

from __future__ import annotations

import importlib.util
import platform
import re
import shutil
import subprocess
from pathlib import Path

import pytest

# AVX-512 uses the zmm and mask (k0-k7) registers; AMX's instructions all name tiles.
AVX512_OPERAND = re.compile(r"%zmm\d+|%k[0-7]\b")
AMX_MNEMONIC = re.compile(r"^(ldtilecfg|sttilecfg|tilerelease|tilezero|tileloadd\w*|tilestored|tdp\w+)$")
INSTRUCTION = re.compile(r"^\s*[0-9a-f]+:\s+(\S+)\s*(.*)$")

pytestmark = pytest.mark.skipif(platform.machine() != "x86_64", reason="the portable flags are for x86-64")


def llama_library(name: str) -> Path:
    spec = importlib.util.find_spec("llama_cpp")  # found, not imported: nothing is loaded
    assert spec is not None and spec.origin is not None, "llama-cpp-python is not installed"
    path = Path(spec.origin).parent / "lib" / name
    assert path.is_file(), path
    return path


def instructions(library: Path) -> list[tuple[str, str]]:
    objdump = shutil.which("objdump")
    assert objdump is not None, "objdump (binutils) is needed to read the library"
    listing = subprocess.run(
        [objdump, "-d", "--no-show-raw-insn", str(library)], check=True, capture_output=True, text=True
    ).stdout
    return [(m.group(1), m.group(2)) for m in map(INSTRUCTION.match, listing.splitlines()) if m]


def test_the_cpu_backend_uses_avx2_and_nothing_wider() -> None:
    found = instructions(llama_library("libggml-cpu.so"))
    assert len(found) > 10_000
    assert any(mnemonic.startswith("vfmadd") and "%ymm" in operands for mnemonic, operands in found), (
        "no AVX2/FMA code: the build lost its x86-64-v3 flags"
    )
    avx512 = [f"{m} {o}" for m, o in found if AVX512_OPERAND.search(o)]
    amx = [m for m, _ in found if AMX_MNEMONIC.match(m)]
    assert not avx512, f"AVX-512 instructions in the build, e.g. {avx512[:3]}"
    assert not amx, f"AMX instructions in the build, e.g. {amx[:3]}"
