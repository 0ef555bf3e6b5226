# Top-level entry points. `make check` runs every test (installing what they need first);
# `make demo` runs the demo submission server.
.PHONY: check demo bench

check:
	scripts/check.sh

# Every Rust benchmark; writes the "Rust benchmarks" section of docs/PERFORMANCE.md.
bench:
	scripts/bench.sh

demo:
	cargo run --example submission
