#!/usr/bin/env bash
# Installs what yoloop needs on a fresh Debian machine; a no-op when everything is present.
#   tools/setup.sh           build tools and the -dev libraries
#   tools/setup.sh --bench   also Debian's python3-torch, the reference for bench ratios
set -euo pipefail

packages=(build-essential cmake pkg-config
          libopenblas-dev libcjson-dev libcurl4-openssl-dev libstb-dev
          libyaml-dev libzip-dev libmicrohttpd-dev)
for arg in "$@"; do
  case "$arg" in
    --bench) packages+=(python3-torch python3-numpy) ;;
    *) echo "setup.sh: unknown option '$arg' (known: --bench)" >&2; exit 2 ;;
  esac
done

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all ${#packages[@]} packages present"
else
  echo "setup: installing ${missing[*]}"
  sudo_cmd=""
  [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo_cmd apt-get update -qq
  $sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# CUDA is optional: the build turns it on when nvcc and cuDNN are found.
cuda_root=${CUDA_HOME:-/usr/local/cuda}
if [ -x "$cuda_root/bin/nvcc" ] && ls "$cuda_root"/include/cudnn.h >/dev/null 2>&1; then
  echo "setup: CUDA toolkit with cuDNN found at $cuda_root (CUDA build on)"
else
  echo "setup: no CUDA toolkit with cuDNN at $cuda_root (CPU-only build)"
fi
