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
	libjson-c-dev                        # spillway top reads the agent's status JSON
	libssl-dev libnghttp2-dev openssl    # the mTLS HTTP/2 tunnel, gen-certs.sh
	libc-ares-dev                        # name resolution off the event loop
	libnftables-dev                      # steered packets kept out of conntrack (kube-proxy)
	python3-h2                           # tunnel conformance tests (a client we did not write)
	stunnel4                             # the tunnel benchmark's baseline
	wrk haproxy                          # the spill benchmark and its baseline
	gnuplot-nox                          # make demo's plot
	python3                              # agent and CLI integration tests
	python3-yaml                         # the deployment manifests' test
	python3-kubernetes                   # ... their fields, against the API's models
	prometheus                           # tests: its promtool checks /metrics and deploy/monitoring (the server goes unused)
	bpftool                              # vmlinux.h, skeletons, map dumps
	iproute2                             # ip netns / veth in tests
	nftables iptables conntrack          # tests: the agent's nft table, kube-proxy's rules
	linux-libc-dev
	qemu-system-x86 busybox-static cpio  # tests under a second kernel (tests/vm)
)

# The second kernel the tests boot (tests/vm/run.sh): Debian 12's own 6.1 LTS
# cloud kernel, the one linux-image-cloud-amd64 names, unpacked (never
# installed: the machine's own kernel and boot stay as they are).
KERNELS=/var/cache/spillway/kernels
KERNEL_META=linux-image-cloud-amd64

need_root() {
	[ "$(id -u)" -eq 0 ] && return 0
	echo "deps.sh: $1; run as root to install them" >&2
	exit 1
}

missing=()
for p in "${packages[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
		missing+=("$p")
done
if [ ${#missing[@]} -ne 0 ]; then
	need_root "missing packages: ${missing[*]}"
	echo "deps.sh: installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if ! ls "$KERNELS"/*/boot/vmlinuz-* >/dev/null 2>&1; then
	need_root "no test kernel under $KERNELS"
	pkg=$(apt-cache depends "$KERNEL_META" | awk '/Depends: linux-image-/ {print $2; exit}')
	[ -n "$pkg" ] || { apt-get update -qq; pkg=$(apt-cache depends "$KERNEL_META" | awk '/Depends: linux-image-/ {print $2; exit}'); }
	[ -n "$pkg" ] || { echo "deps.sh: apt knows no $KERNEL_META" >&2; exit 1; }
	echo "deps.sh: unpacking $pkg into $KERNELS/$pkg for the tests"
	tmp=$(mktemp -d)
	(cd "$tmp" && apt-get download -qq "$pkg" 2>/dev/null)
	mkdir -p "$KERNELS/$pkg.part"
	dpkg-deb -x "$tmp"/*.deb "$KERNELS/$pkg.part"
	rm -rf "$tmp"
	mv "$KERNELS/$pkg.part" "$KERNELS/$pkg"
fi
