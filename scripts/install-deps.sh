#!/usr/bin/env bash
# Installs everything the tests need on a fresh Debian machine (run as root, or with sudo).
# Idempotent: packages already present are skipped quickly.
set -euo pipefail

APT_PACKAGES=(
  # real SASL peers and mail clients the tests drive (sasl2-bin: saslpluginviewer,
  # saslpasswd2 and sasl-sample-server/-client for the Cyrus plugin's tests)
  gsasl sasl2-bin libsasl2-modules libsasl2-modules-db swaks msmtp curl
  # C toolchain and checkers for the C ABI tests (g++ for the header's C++11 check, binutils
  # for nm/readelf on the shared library, libc6-dev for the fully static link)
  gcc g++ make pkg-config binutils libc6-dev valgrind clang libclang-rt-14-dev
  # flock (serialises the C builds between test processes) and kill (stops the C smtpd)
  util-linux procps
  # incumbents' libraries for the side-by-side benchmark (libsasl2-dev: also <sasl/saslplug.h>
  # for the Cyrus plugin, bindings/cyrus)
  libgsasl-dev libsasl2-dev libssl-dev
  # python3 for smtplib-based tests
  python3
  # a private PostgreSQL server for saslmech-authd's pgsql passdb tests (initdb, pg_ctl, psql)
  postgresql
)

# The GSSAPI / GS2-KRB5 tests (feature `gssapi`): a private MIT KDC, the headers the `libgssapi`
# crate's bindgen reads (with clang above), Cyrus SASL's GSSAPI plugin. `install-deps.sh
# --kerberos` installs only these (tests/support/kdc.rs runs it, under flock, when missing).
KRB5_PACKAGES=(
  krb5-kdc krb5-admin-server krb5-user libkrb5-dev libsasl2-modules-gssapi-mit
)
APT_PACKAGES+=("${KRB5_PACKAGES[@]}")

# The end-to-end tests of saslmech-authd (authd/tests/e2e_*.rs) drive Debian's unmodified
# Postfix, Exim and Dovecot. `install-deps.sh --e2e` installs only these (the tests run it
# themselves, under flock, when a program is missing).
E2E_PACKAGES=(
  postfix dovecot-core swaks libnet-ssleay-perl gsasl msmtp curl openssl util-linux procps
  # Dovecot's SQL passdb on PostgreSQL, for scripts/bench-authd-pgsql.sh and
  # AUTHD_TARGET=dovecot runs of authd/tests/e2e_postfix_pgsql.rs
  dovecot-pgsql
  # Postfix through libsasl2 and the saslmech plugin (tests/cyrus_postfix/): Cyrus's sasldb,
  # saslpasswd2 and saslpluginviewer, its own plugins, and what building the plugin takes
  sasl2-bin libsasl2-modules libsasl2-modules-db libsasl2-dev gcc make libc6-dev
  # exim4-daemon-heavy's libraries that postfix's dependencies do not bring (the binary itself
  # is extracted below: exim4-daemon-* and postfix conflict as packages)
  libmariadb3 libspf2-2 libgnutls-dane0 libidn12 libpq5 libperl5.36 libsqlite3-0 libldap-2.5-0
  libnsl2 libpam0g libdb5.3 libpcre2-8-0 libsasl2-2
)
EXIM_ROOT=/var/lib/saslmech-e2e/exim4-daemon-heavy
# Debian's other XOAUTH2 plugin, for the name-clash test of the saslmech plugin: unpacked, not
# installed (in the system plugin directory it would take XOAUTH2 from every libsasl2 program).
KDE_ROOT=/var/lib/saslmech-e2e/kdexoauth2

SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
APT_GET=($SUDO env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600)

install_e2e() {
  local missing=() p
  for p in "${E2E_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "installing: ${missing[*]}"
    # Postfix without its configuration questions; the tests run private instances only.
    echo "postfix postfix/main_mailer_type select No configuration" | $SUDO debconf-set-selections
    "${APT_GET[@]}" update -qq
    "${APT_GET[@]}" install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
  # Exim 4.96 with the dovecot authenticator, unpacked beside Postfix.
  if [ ! -x "$EXIM_ROOT/usr/sbin/exim4" ]; then
    local tmp; tmp=$(mktemp -d)
    (cd "$tmp" && "${APT_GET[@]}" download exim4-daemon-heavy >/dev/null 2>&1 \
      || { "${APT_GET[@]}" update -qq && "${APT_GET[@]}" download exim4-daemon-heavy >/dev/null; })
    $SUDO mkdir -p "$EXIM_ROOT.new"
    $SUDO dpkg-deb -x "$tmp"/exim4-daemon-heavy_*.deb "$EXIM_ROOT.new"
    $SUDO rm -rf "$EXIM_ROOT" && $SUDO mv "$EXIM_ROOT.new" "$EXIM_ROOT"
    rm -rf "$tmp"
  fi
  if [ ! -e "$KDE_ROOT/usr/lib/x86_64-linux-gnu/sasl2/libkdexoauth2.so" ]; then
    local tmp; tmp=$(mktemp -d)
    (cd "$tmp" && "${APT_GET[@]}" download libsasl2-modules-kdexoauth2 >/dev/null 2>&1 \
      || { "${APT_GET[@]}" update -qq && "${APT_GET[@]}" download libsasl2-modules-kdexoauth2 >/dev/null; })
    $SUDO mkdir -p "$KDE_ROOT.new"
    $SUDO dpkg-deb -x "$tmp"/libsasl2-modules-kdexoauth2_*.deb "$KDE_ROOT.new"
    $SUDO rm -rf "$KDE_ROOT" && $SUDO mv "$KDE_ROOT.new" "$KDE_ROOT"
    rm -rf "$tmp"
  fi
  # The binary resolves its system user before reading any configuration.
  getent passwd Debian-exim >/dev/null || $SUDO useradd --system --no-create-home \
    --home-dir /var/spool/exim4 --shell /usr/sbin/nologin Debian-exim
  if ldd "$EXIM_ROOT/usr/sbin/exim4" | grep -q "not found"; then
    echo "exim4: libraries still missing:" >&2
    ldd "$EXIM_ROOT/usr/sbin/exim4" | grep "not found" >&2
    exit 1
  fi
}

if [ "${1:-}" = "--kerberos" ]; then
  missing=()
  for p in "${KRB5_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "installing: ${missing[*]}"
    "${APT_GET[@]}" update -qq
    "${APT_GET[@]}" install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
  exit 0
fi

if [ "${1:-}" = "--e2e" ]; then
  install_e2e
  exit 0
fi

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

install_e2e

# cargo-fuzz for the fuzz smoke run (builds from crates.io in about two minutes).
if ! cargo fuzz --version >/dev/null 2>&1; then
  cargo install --locked cargo-fuzz
fi
