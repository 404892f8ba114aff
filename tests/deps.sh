#!/usr/bin/env bash
# The packages ldmesh needs, listed once, installed when missing.
# Sourced by tests/run.sh and examples/demo.sh: `ldmesh_deps [extra...]`.

LDMESH_PACKAGES=(
  # build
  cmake make gcc pkg-config libyaml-dev libcmocka-dev libunwind-dev
  # the manual pages (scdoc builds them; man-db renders them in their test)
  scdoc man-db
  # ldmesh-sync: HTTP(S) to the API server, JSON; openssl makes the test CA
  libcurl4-openssl-dev libjson-c-dev openssl
  # ldmesh-dns and ldmeshctl dig: DNS wire format
  libldns-dev
  # libldmesh-musl.so (musl-gcc) and the musl client of its test
  musl-tools
  # end-to-end tests and the demo: namespaces, real servers and clients
  iproute2 util-linux procps curl python3 python3-yaml redis-server redis-tools
  # the metrics test parses /metrics with Prometheus' own text parser
  python3-prometheus-client
  # chattr: published snapshots are immutable; tests lift that to clean up
  e2fsprogs
  # tests/run.sh's other passes: libFuzzer targets (clang-14 with its
  # fuzzer/ASan runtimes, llvm-symbolizer for readable reports), valgrind
  clang-14 libclang-rt-14-dev llvm-14 valgrind
  # the comparison benchmark (its smoke run is in CI) and the DNS test:
  # kube-proxy's data paths, a real DNS server, plots
  iptables nftables dnsmasq-base gnuplot-nox
)

# The runtime matrix (tests/e2e/test_rt_*.sh: real programs of each kind
# under the preload) and the Go clients of ldmesh-exec's tests, built there.
# tests/run.sh installs these; the demo does not need them.
LDMESH_TEST_PACKAGES=(nginx postgresql postgresql-client openjdk-17-jdk-headless nodejs
  golang-go file bind9-dnsutils
  # the Debian packages' test (tests/e2e/test_packages.sh)
  lintian)

# What the demo runs, for its installed copy (which builds nothing):
# share/doc/ldmesh/examples/demo.sh sources this file installed beside it.
LDMESH_DEMO_PACKAGES=(python3 iproute2 util-linux procps curl redis-server redis-tools e2fsprogs)

ldmesh_deps() { ldmesh_install_missing "${LDMESH_PACKAGES[@]}" "$@"; }

ldmesh_install_missing() {
  local missing=() pkg
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' ||
      missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" -ne 0 ]; then
    echo "ldmesh: missing packages; as root run:" >&2
    echo "  apt-get update && apt-get install -y ${missing[*]}" >&2
    return 1
  fi
  echo "ldmesh: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}
