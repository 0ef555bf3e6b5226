#!/usr/bin/env bash
# The whole test suite: what `make check` and CI run. Installs what the tests need first.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

step "install test dependencies"
scripts/install-deps.sh

step "rustfmt"
cargo fmt --all -- --check

step "clippy"
cargo clippy --workspace --all-targets --all-features -- -D warnings

# Includes fuzz/bodies (a workspace member): its test replays the whole committed fuzz corpus.
step "tests (unit, integration, doc; the fuzz corpus replay)"
cargo test --workspace --all-features

step "fuzz smoke run (every target, FUZZ_SECONDS=10 each, two at a time)"
scripts/fuzz-smoke.sh

step "benchmarks compile"
cargo bench --no-run --quiet

echo
echo "check: all passed"
