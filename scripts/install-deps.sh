#!/usr/bin/env bash
# Installs everything the tests need on a fresh Debian machine (run as root, or with sudo).
# Idempotent: packages already present are skipped quickly.
set -euo pipefail

APT_PACKAGES=(
  # real SASL peers and mail clients the tests drive
  gsasl sasl2-bin libsasl2-modules libsasl2-modules-db swaks msmtp curl
  # C toolchain and checkers for the C ABI tests (g++ for the header's C++11 check, binutils
  # for nm/readelf on the shared library, libc6-dev for the fully static link)
  gcc g++ make pkg-config binutils libc6-dev valgrind clang libclang-rt-14-dev
  # flock (serialises the C builds between test processes) and kill (stops the C smtpd)
  util-linux procps
  # incumbents' libraries for the side-by-side benchmark
  libgsasl-dev libsasl2-dev libssl-dev
  # python3 for smtplib-based tests
  python3
  # a private PostgreSQL server for saslmech-authd's pgsql passdb tests (initdb, pg_ctl, psql)
  postgresql
)

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  echo "installing: ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# cargo-fuzz for the fuzz smoke run (builds from crates.io in about two minutes).
if ! cargo fuzz --version >/dev/null 2>&1; then
  cargo install --locked cargo-fuzz
fi
