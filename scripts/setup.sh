# Sourced by test.sh and demo.sh: installs the Debian packages senet needs when any is missing,
# and sets SENET_ROOT and SENET_JOBS.
SENET_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SENET_JOBS=$(nproc 2>/dev/null || echo 2)
senet_packages=(cmake g++ make ccache pkg-config libeigen3-dev nlohmann-json3-dev libgtest-dev libbenchmark-dev libstb-dev
                python3-numpy python3-torch python3-torchvision python3-pil python3-sklearn dataset-fashion-mnist
                clang-14 libclang-rt-14-dev libomp-14-dev llvm-14)
senet_missing=()
for p in "${senet_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || senet_missing+=("$p")
done
if ((${#senet_missing[@]})); then
  echo "setup: installing ${senet_missing[*]}" >&2
  if [[ $(id -u) -eq 0 ]]; then senet_sudo=(); else senet_sudo=(sudo); fi
  "${senet_sudo[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${senet_sudo[@]}" apt-get install -y -qq --no-install-recommends \
    "${senet_missing[@]}" >/dev/null
fi
