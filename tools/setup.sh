#!/usr/bin/env bash
# Installs what yoloop needs on a fresh Debian machine; a no-op when everything is present.
#   tools/setup.sh           build tools and the -dev libraries
#   tools/setup.sh --bench       also Debian's python3-torch, the reference for bench ratios
#   tools/setup.sh --reference   also the Ultralytics 8.3.166 reference environment that writes
#                                the parity fixtures: Debian's python3-torch and friends plus a
#                                venv (build/refenv, with system site packages) holding ultralytics
set -euo pipefail
cd "$(dirname "$0")/.."
reference=0

packages=(build-essential cmake pkg-config
          libopenblas-openmp-dev libcjson-dev libcurl4-openssl-dev libstb-dev
          libyaml-dev libzip-dev libmicrohttpd-dev libssl-dev)
for arg in "$@"; do
  case "$arg" in
    --bench) packages+=(python3-torch python3-numpy) ;;
    --reference)
      reference=1
      packages+=(python3-torch python3-torchvision python3-numpy python3-pil python3-opencv python3-matplotlib
                 python3-tqdm python3-scipy python3-yaml python3-psutil python3-requests python3-venv) ;;
    *) echo "setup.sh: unknown option '$arg' (known: --bench, --reference)" >&2; exit 2 ;;
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

if [ "$reference" -eq 1 ]; then
  refenv=${YOLOOP_REFENV:-build/refenv}
  if ! "$refenv/bin/python" -c 'import ultralytics, sys; sys.exit(ultralytics.__version__ != "8.3.166")' 2>/dev/null; then
    echo "setup: creating the Ultralytics reference environment in $refenv"
    /usr/bin/python3 -m venv --system-site-packages "$refenv"
    "$refenv/bin/pip" install -q --no-deps ultralytics==8.3.166
  fi
  echo "setup: reference environment ready: $refenv/bin/python (ultralytics 8.3.166)"
fi
