# Top-level entry points. `make check` runs every test (installing what they need first);
# `make demo` runs the demo submission server.
.PHONY: check demo bench bench-compare

check:
	scripts/check.sh

# Every Rust benchmark; writes the "Rust benchmarks" section of docs/PERFORMANCE.md.
bench:
	scripts/bench.sh

# saslmech against GNU SASL and Cyrus SASL; rewrites the results in docs/PERFORMANCE.md
bench-compare:
	$(MAKE) -C bindings/c/bench run

demo:
	cargo run --example submission
