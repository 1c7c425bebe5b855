#!/usr/bin/env bash
# Installs what RadScholar needs on this machine, and only what is missing:
#   - Debian packages: Orthanc and its DICOMweb plugin (without starting Debian's own Orthanc daemon);
#   - .venv: every pinned dependency from requirements/requirements.lock, then every RadScholar
#     package as an editable install. Re-runs are no-ops unless the lock or a pyproject.toml changed.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '\033[1;34m[bootstrap]\033[0m %s\n' "$*"; }

install_system_packages() {
  local missing=()
  command -v Orthanc >/dev/null || missing+=(orthanc)
  [[ -e /usr/share/orthanc/plugins/libOrthancDicomWeb.so ]] || missing+=(orthanc-dicomweb)
  [[ ${#missing[@]} -eq 0 ]] && return
  log "installing Debian packages: ${missing[*]}"
  local sudo=""; [[ $(id -u) -eq 0 ]] || sudo="sudo"
  # A policy-rc.d that denies every start keeps Debian's packaged Orthanc service (0.0.0.0:8042/4242,
  # stock config) from starting: RadScholar runs its own Orthanc with a generated strict config.
  local policy=/usr/sbin/policy-rc.d restore=""
  if [[ -e $policy ]]; then restore=$(mktemp); $sudo cp -p "$policy" "$restore"; fi
  printf '#!/bin/sh\nexit 101\n' | $sudo tee "$policy" >/dev/null && $sudo chmod +x "$policy"
  trap '[[ -n "$restore" ]] && $sudo mv "$restore" "$policy" || $sudo rm -f "$policy"' RETURN
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

PACKAGES=(proto/python libs/core libs/phantoms libs/localstack services/dicom-store services/labeling
          services/training services/radiomics services/stats gateway sdk)

install_python_packages() {
  local python=${PYTHON:-python3.11}
  command -v "$python" >/dev/null || python=python3
  local stamp=.venv/.radscholar-installed
  local want
  want=$(cat requirements/requirements.lock "${PACKAGES[@]/%//pyproject.toml}" | sha256sum | cut -d' ' -f1)
  if [[ -f $stamp && $(cat "$stamp") == "$want" ]]; then return; fi
  [[ -x .venv/bin/python ]] || { log "creating .venv with $($python --version)"; "$python" -m venv .venv; }
  log "installing the locked dependencies (torch is taken from this machine's disk)"
  .venv/bin/python -m pip install -q --upgrade "pip>=24" 
  .venv/bin/python -m pip install -q -r requirements/requirements.lock
  log "installing the RadScholar packages (editable)"
  local args=(); for p in "${PACKAGES[@]}"; do args+=(-e "$p"); done
  .venv/bin/python -m pip install -q --no-deps "${args[@]}"
  .venv/bin/python -m pip check
  echo "$want" > "$stamp"
}

install_system_packages
install_python_packages
log "ready"
