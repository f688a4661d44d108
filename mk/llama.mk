# The embedded model's runtime, llama-cpp-python, built from source with flags chosen on purpose.
#
# pip's default build uses GGML_NATIVE (-march=native): the wheel then carries whatever the build machine's CPU
# advertises, AMX included, and crashes (SIGSEGV/GPF) on a machine that advertises AMX it cannot use, or on any
# older CPU. We build for x86-64-v3 (AVX2, FMA, F16C, BMI2: every x86-64 CPU since 2013-15) and nothing more.
# Other flags, for a GPU or another CPU: make serve LLAMA_CMAKE_ARGS="-DGGML_CUDA=on" (see README).
#
# pip's wheel cache is keyed by the source package, not by CMAKE_ARGS, so it would silently reuse a wheel built
# with other flags. The wheel is kept instead in a wheelhouse keyed by version, flags, Python and machine
# (outside the checkout, so fresh clones and CI reuse it); changing the flags builds a new one.

LLAMA_VERSION := $(shell sed -n 's/^llama_cpp_python==//p' constraints.txt)
LLAMA_MACHINE := $(shell uname -m)
ifeq ($(LLAMA_MACHINE),x86_64)
LLAMA_CMAKE_ARGS ?= -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON \
	-DGGML_AVX512=OFF -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF
else
LLAMA_CMAKE_ARGS ?= -DGGML_NATIVE=OFF
endif
PARLEY_WHEELHOUSE ?= $(HOME)/.cache/parley/wheels
LLAMA_KEY := $(shell printf '%s|%s|%s|%s' '$(LLAMA_VERSION)' '$(LLAMA_CMAKE_ARGS)' '$(LLAMA_MACHINE)' \
	"$$($(PYTHON) -c 'import sys; print(sys.implementation.cache_tag)')" | sha256sum | cut -c1-16)
LLAMA_WHEEL_DIR := $(PARLEY_WHEELHOUSE)/llama-cpp-python-$(LLAMA_VERSION)-$(LLAMA_KEY)

.PHONY: llama-wheel FORCE
llama-wheel: $(LLAMA_WHEEL_DIR)/built

# Built into a temporary folder and renamed, so an interrupted build never leaves a wheel that looks finished.
# --no-cache-dir: neither read nor fill pip's wheel cache (see above).
$(LLAMA_WHEEL_DIR)/built: | $(BIN)/python
	@echo "Building llama-cpp-python $(LLAMA_VERSION) with: $(LLAMA_CMAKE_ARGS)"
	@echo "(the first time, llama.cpp compiles: ~6 min on 2 cores; kept in $(LLAMA_WHEEL_DIR))"
	rm -rf $(LLAMA_WHEEL_DIR).partial && mkdir -p $(LLAMA_WHEEL_DIR).partial
	CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" FORCE_CMAKE=1 $(PIP) wheel --quiet --no-deps --no-cache-dir \
		--no-binary llama-cpp-python -w $(LLAMA_WHEEL_DIR).partial 'llama-cpp-python==$(LLAMA_VERSION)'
	printf '%s\n' '$(LLAMA_CMAKE_ARGS)' > $(LLAMA_WHEEL_DIR).partial/built
	rm -rf $(LLAMA_WHEEL_DIR) && mv $(LLAMA_WHEEL_DIR).partial $(LLAMA_WHEEL_DIR)

# Which wheel .venv should have; rewritten only when the key changes, so going back to earlier flags reinstalls too.
$(STAMPS)/llama-key: FORCE
	@mkdir -p $(STAMPS)
	@echo '$(LLAMA_KEY)' | cmp -s - $@ || echo '$(LLAMA_KEY)' > $@

$(STAMPS)/llama: $(LLAMA_WHEEL_DIR)/built $(STAMPS)/llama-key | $(BIN)/python
	$(PIP) install --quiet --force-reinstall --no-deps $(LLAMA_WHEEL_DIR)/llama_cpp_python-*.whl
	@touch $@
