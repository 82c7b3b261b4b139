#!/usr/bin/env bash
# Makes sure the Debian packages behind the real test stack (test/stack/) and the WBXML tooling are
# installed. Installs what is missing when run as root; otherwise says in one line what to install.
# Costs one dpkg-query call when everything is already there.
set -euo pipefail

packages=(dovecot-core dovecot-imapd radicale redis-server slapd libwbxml2-utils libxml2-utils libwbxml2-dev gcc
  nginx-light haproxy apache2)

missing_packages() {
  local status p
  # dpkg-query exits non-zero when a package is unknown, but still reports the known ones.
  status=$(dpkg-query -W -f='${Package} ${db:Status-Abbrev}\n' "${packages[@]}" 2>/dev/null || true)
  for p in "${packages[@]}"; do
    grep -q "^$p ii" <<<"$status" || printf '%s\n' "$p"
  done
}

if ! command -v dpkg-query >/dev/null 2>&1; then
  echo "test-prereqs: no dpkg-query here; the test stack needs these Debian packages: ${packages[*]}" >&2
  exit 1
fi

mapfile -t missing < <(missing_packages)
[ "${#missing[@]}" -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "test-prereqs: missing Debian packages; run: sudo apt-get install --no-install-recommends ${missing[*]}" >&2
  exit 1
fi

echo "test-prereqs: installing ${missing[*]}" >&2

# Debian starts dovecot, redis, radicale, nginx, haproxy and apache2 as system services on install
# when an init system runs. The test stack starts its own instances on free ports, so keep the
# system ones from starting: a policy-rc.d that answers 101 ("action forbidden") is honoured by
# invoke-rc.d and deb-systemd-invoke. Only a policy file we created ourselves is removed afterwards.
policy=/usr/sbin/policy-rc.d
created_policy=0
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' >"$policy"
  chmod 755 "$policy"
  created_policy=1
fi
cleanup() { if [ "$created_policy" -eq 1 ]; then rm -f "$policy"; fi; }
trap cleanup EXIT

export DEBIAN_FRONTEND=noninteractive
apt_opts=(-o DPkg::Lock::Timeout=300 -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold)
apt-get "${apt_opts[@]}" -qq update
apt-get "${apt_opts[@]}" -qq -y install --no-install-recommends "${missing[@]}" >/dev/null

mapfile -t still < <(missing_packages)
if [ "${#still[@]}" -ne 0 ]; then
  echo "test-prereqs: apt-get did not install: ${still[*]}" >&2
  exit 1
fi
