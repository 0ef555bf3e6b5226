# Top-level entry points. `make check` runs every test (installing what they need first);
# `make demo` runs the demo submission server.
.PHONY: check demo bench

check:
	scripts/check.sh

bench:
	cargo bench --bench handshake

demo:
	cargo run --example submission
