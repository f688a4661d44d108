"""The peer products ``make bench-peers`` installs, each into a virtualenv of its own (``bench.peer_env``)."""

from __future__ import annotations

from bench.peer_env import PeerSpec

OPEN_WEBUI_VERSION = "0.12.4"
# Open WebUI needs torch (sentence-transformers, accelerate), and a bare `torch` requirement would
# take a multi-GB CUDA build; 2.13.0 is the CPU wheel this machine's pip finds on disk. It is
# requested on its own first and then again beside open-webui, so the resolver keeps it.
_CPU_TORCH = "torch==2.13.0"

OPEN_WEBUI = PeerSpec(
    name="open-webui",
    first=(_CPU_TORCH,),
    packages=(f"open-webui=={OPEN_WEBUI_VERSION}", _CPU_TORCH),
    version_of="open-webui",
)

# The newest LiteLLM whose `proxy` extra installs from PyPI alone (later ones need a separate `litellm-proxy`).
LITELLM_VERSION = "1.108.0"

LITELLM = PeerSpec(name="litellm", packages=(f"litellm[proxy]=={LITELLM_VERSION}",), version_of="litellm")

PEER_SPECS: dict[str, PeerSpec] = {spec.name: spec for spec in (OPEN_WEBUI, LITELLM)}
