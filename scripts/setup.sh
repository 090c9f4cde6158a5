#!/usr/bin/env bash
# Installs what osha and its tests need on a Debian machine: the Debian packages listed in
# .ci/apt-packages, the npm dependencies and the compiled CLI (dist/). Quick when everything is
# already there.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" -ne 0 ]; then
  echo "setup: run as root (sudo) to install Debian packages; skipping them" >&2
else
  export DEBIAN_FRONTEND=noninteractive
  mapfile -t pkgs < <(sed -e 's/#.*//' -e '/^[[:space:]]*$/d' -e 's/[[:space:]]//g' .ci/apt-packages)
  missing=()
  for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  if [ "${#missing[@]}" -gt 0 ]; then
    echo "setup: installing ${missing[*]}"
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
fi

# npm ci only when node_modules does not match package-lock.json.
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi

# dist/, the compiled CLI that bin/osha.js runs, only when a file under src/, a tsconfig or the bundle script is newer
# than the stamp `npm run build` leaves.
if [ ! -f dist/.built ] || [ -n "$(find src tsconfig.json tsconfig.build.json scripts/bundle.mjs -newer dist/.built -print -quit)" ]; then
  echo "setup: building dist/ (npm run build)"
  npm run build --silent
fi
