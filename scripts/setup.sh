#!/usr/bin/env bash
# Installs bcqnmt's build dependencies from Debian 12 packages (run as root, or with sudo).
set -euo pipefail
packages=(
  build-essential cmake ninja-build pkg-config
  libopenblas-dev      # GEMM/GEMV (CBLAS)
  libtbb-dev           # oneTBB: element-wise and row-wise parallelism
  libdnnl-dev          # oneDNN: bf16 matmuls on AMX for mixed-precision training
  ocl-icd-opencl-dev   # oneDNN's CMake package asks for OpenCL (Debian builds its GPU runtime)
  libicu-dev           # Unicode normalisation for the tokenizer
  libcereal-dev        # checkpoint and model serialisation
  libssl-dev           # OpenSSL libcrypto: SHA-256 of run and bundle files
  doctest-dev          # tests
  libbenchmark-dev     # bench/
  libcli11-dev         # command-line parsing of the bcqnmt binary
  nlohmann-json3-dev   # JSON configs and metrics
  librsvg2-bin         # rsvg-convert: tests check that plotted SVGs render
  strace               # tests only: SIGKILL at an exact system call (test_checkpoint_kill)
  curl ca-certificates # scripts/fetch_data.sh downloads the corpus over https
  libcpp-httplib-dev   # cpp-httplib: the HTTP server of `bcqnmt serve` (and its tests' client)
  chromium chromium-driver  # tests only: the page of `bcqnmt serve` in headless Chromium
  libopenmpi-dev openmpi-bin  # Open MPI: data-parallel training under mpirun (optional in CMake; docs/scaling.md)
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all ${#packages[@]} packages already installed"
  exit 0
fi
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "setup: installing ${missing[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "setup: done"
