#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#
# Install the Debian packages spillway needs to build, test and run.
# Idempotent and quiet when everything is present. Needs root to install.
set -euo pipefail

packages=(
	make gcc libc6-dev                   # userspace build
	clang                                # BPF build (clang -target bpf)
	libbpf-dev libelf-dev zlib1g-dev     # libbpf and what it links
	libyaml-dev                          # the agent's configuration
	libmicrohttpd-dev                    # the agent's /metrics, /healthz, /readyz
	libssl-dev libnghttp2-dev openssl    # the mTLS HTTP/2 tunnel, gen-certs.sh
	python3-h2                           # tunnel conformance tests (a client we did not write)
	stunnel4                             # the tunnel benchmark's baseline
	wrk haproxy                          # the spill benchmark and its baseline
	gnuplot-nox                          # make demo's plot
	python3                              # agent and CLI integration tests
	python3-yaml                         # the deployment manifests' test
	bpftool                              # vmlinux.h, skeletons, map dumps
	iproute2                             # ip netns / veth in tests
	linux-libc-dev
)

missing=()
for p in "${packages[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
		missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "deps.sh: missing packages: ${missing[*]}; run as root to install them" >&2
	exit 1
fi
echo "deps.sh: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
