#!/usr/bin/env bash
# Add a cargo-fuzz target NAME that calls `saslmech_fuzz::NAME`: writes
# fuzz/fuzz_targets/NAME.rs, its [[bin]] entry in fuzz/Cargo.toml and fuzz/corpus/NAME/.
# The function itself (in fuzz/bodies/src/) and its line in `saslmech_fuzz::TARGETS` are
# written by hand; fuzz/bodies/tests/replay.rs checks that all of these agree and that the
# corpus is not empty.
set -euo pipefail
cd "$(dirname "$0")/.."
name=${1:?usage: scripts/fuzz-add-target.sh NAME}
[[ $name =~ ^[a-z0-9_]+$ ]] || { echo "target names are lowercase identifiers" >&2; exit 2; }
file=fuzz/fuzz_targets/$name.rs
if [ ! -e "$file" ]; then
  cat > "$file" <<RS
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| saslmech_fuzz::$name(data));
RS
fi
if ! grep -q "^name = \"$name\"$" fuzz/Cargo.toml; then
  cat >> fuzz/Cargo.toml <<TOML

[[bin]]
name = "$name"
path = "fuzz_targets/$name.rs"
test = false
doc = false
bench = false
TOML
fi
mkdir -p "fuzz/corpus/$name"
echo "target $name: $file, fuzz/Cargo.toml, fuzz/corpus/$name/ (add seeds there)"
