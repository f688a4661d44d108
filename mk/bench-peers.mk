# Parley against the products users would pick instead (issue 18): `make bench-peers` installs each peer
# into a virtualenv of its own under ~/.cache/parley/bench-peers (reused when it exists; never into .venv),
# then runs them against Parley in the same run and writes bench/results/peers.json and peers.md. Not part
# of `make test` (the installs are large). A short run that checks the harness end to end:
# `make bench-peers BENCH_PEERS_ARGS=--quick`. See bench/README.md.
.PHONY: bench-peers

bench-peers: $(STAMPS)/bench
	$(BIN)/python -m bench.peer_env open-webui litellm
	$(BIN)/python -m bench --suite peers $(BENCH_PEERS_ARGS)
