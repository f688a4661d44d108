# The installable package: `make dist` builds a wheel and an sdist into dist/, each carrying the built web app, so
# `pip install dist/parley-*.whl` (or pipx) then `parley serve` gives the whole app outside a checkout.
# The embedded model is the `parley[local]` extra (llama.cpp builds from source: see mk/llama.mk).

.PHONY: dist

# `build` (a dev dependency) makes each file in an isolated environment with the setuptools pyproject.toml asks for.
dist: web-build $(STAMPS)/dev
	rm -rf dist
	$(BIN)/python scripts/build_dist.py --output dist
