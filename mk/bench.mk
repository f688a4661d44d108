# Benchmarks: `make bench` runs everything in bench/ (about 10 minutes on 2 cores) and writes
# bench/results/latest.json and latest.md. Benchmarks report and never fail the build, so they are
# not a TEST_STEP. One benchmark: `make bench BENCH_ARGS="--only ttft"`. See bench/README.md.
.PHONY: bench

$(STAMPS)/bench: $(STAMPS)/dev bench/requirements.txt
	$(PIP) install --quiet -c constraints.txt -r bench/requirements.txt
	@touch $@

bench: $(STAMPS)/bench
	$(BIN)/python -m bench $(BENCH_ARGS)
