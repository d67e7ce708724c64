# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#
# vmlinux.h -> *.bpf.o -> *.skel.h -> userspace. `make V=1` shows commands.
#   make demo     install what is missing, build, show it spill (root)
#   make          build everything (binary, BPF objects, tests, bench)
#   make test     run every test (root; see README), then the BPF tests
#                 under a second kernel (make test-kernels)
#   make bench    run the benchmarks: datapath, tunnel, spill (root)

VERSION := 0.1.0
BUILD   := build
CC      ?= gcc
CLANG   ?= clang
BPFTOOL ?= bpftool

ifeq ($(V),1)
Q :=
msg :=
else
Q := @
msg = @printf '  %-8s %s\n' '$(1)' '$(2)';
endif

WARN       := -Wall -Wextra -Werror
CFLAGS     ?= -O2 -g
USER_FLAGS := $(CFLAGS) $(WARN) -std=gnu11 -D_GNU_SOURCE \
              -Iinclude -Iuser -I$(BUILD) -DSW_VERSION='"$(VERSION)"'
SANITIZE   := -fsanitize=address,undefined -fno-sanitize-recover=all \
              -fno-omit-frame-pointer
LIBS       := -lbpf -lelf -lz -lyaml -lmicrohttpd -lnghttp2 -lssl -lcrypto \
              -lpthread
BPF_FLAGS  := -O2 -g -target bpf -mcpu=v3 $(WARN) -I$(BUILD) -Ibpf -Iinclude

BPF_HDRS   := $(wildcard bpf/*.h) $(wildcard include/spillway/*.h)
USER_HDRS  := $(wildcard user/*.h) $(wildcard include/spillway/*.h)
USER_LIB   := user/error.c user/datapath.c user/upgrade.c user/control.c user/addr.c \
              user/probe.c user/netlink.c \
              user/endpoint.c user/config.c user/route.c user/json.c \
              user/log.c user/rpc.c user/request.c user/report.c \
              user/metrics.c user/agent.c user/reconcile.c user/serve.c \
              user/loop.c user/net.c user/tls.c user/h2.c user/relay.c \
              user/tunnel.c user/tunnel_stats.c user/gateway.c user/jsonparse.c \
              user/fallback.c \
              user/top.c user/sysctl.c user/istio.c
TEST_LIB   := tests/lib/harness.c tests/lib/pkt.c tests/lib/sandbox.c
TEST_HDRS  := $(wildcard tests/lib/*.h)
SKELS      := $(BUILD)/spillway.skel.h $(BUILD)/bench.skel.h

UNIT_TESTS := $(BUILD)/tests/test_config $(BUILD)/tests/test_request \
              $(BUILD)/tests/test_route $(BUILD)/tests/test_tls \
              $(BUILD)/tests/test_jsonparse $(BUILD)/tests/test_top \
              $(BUILD)/tests/test_sysctl $(BUILD)/tests/test_istio \
              $(BUILD)/tests/test_loop $(BUILD)/tests/test_log
TESTS      := $(UNIT_TESTS) $(BUILD)/tests/test_datapath $(BUILD)/tests/test_veth
# Scripts, run as they are (they drive build/spillway).
# Run again under Debian 12's 6.1 LTS kernel in qemu (tests/vm/run.sh).
KERNEL_TESTS := $(BUILD)/tests/test_datapath $(BUILD)/tests/test_veth \
                "$(BUILD)/spillway check --kernel"
TEST_SCRIPTS := tests/agent/test_agent.py tests/agent/test_top.py \
                tests/agent/test_tunnel.py tests/e2e/test_e2e.py \
                tests/e2e/test_istio_e2e.py tests/deploy/test_manifests.py

.PHONY: all demo test test-kernels bench clean
.DELETE_ON_ERROR:
# Keep the BPF objects (make treats them as intermediates of the skeletons).
.SECONDARY:

all: $(BUILD)/spillway $(TESTS) $(BUILD)/bench_datapath $(BUILD)/tcpload

$(BUILD) $(BUILD)/tests:
	$(Q)mkdir -p $@

$(BUILD)/vmlinux.h: | $(BUILD)
	$(call msg,GEN,$@)
	$(Q)$(BPFTOOL) btf dump file /sys/kernel/btf/vmlinux format c > $@

$(BUILD)/%.bpf.o: bpf/%.bpf.c $(BPF_HDRS) $(BUILD)/vmlinux.h
	$(call msg,BPF,$@)
	$(Q)$(CLANG) $(BPF_FLAGS) -c $< -o $@

$(BUILD)/%.skel.h: $(BUILD)/%.bpf.o
	$(call msg,GEN-SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< name $*_bpf > $@

$(BUILD)/spillway: user/spillway.c $(USER_LIB) $(USER_HDRS) $(SKELS)
	$(call msg,CC,$@)
	$(Q)$(CC) $(USER_FLAGS) user/spillway.c $(USER_LIB) -o $@ $(LIBS)

# Tests run under AddressSanitizer and UndefinedBehaviorSanitizer.
TEST_DEPS  := $(USER_LIB) $(TEST_LIB) $(USER_HDRS) $(TEST_HDRS) $(SKELS)
TEST_CC     = $(CC) $(USER_FLAGS) $(SANITIZE) -Itests/lib $< $(USER_LIB) $(TEST_LIB) -o $@ $(LIBS)

$(BUILD)/tests/%: tests/bpf/%.c $(TEST_DEPS) | $(BUILD)/tests
	$(call msg,CC,$@)
	$(Q)$(TEST_CC)

$(BUILD)/tests/%: tests/unit/%.c $(TEST_DEPS) | $(BUILD)/tests
	$(call msg,CC,$@)
	$(Q)$(TEST_CC)

$(BUILD)/bench_datapath: bench/bench_datapath.c $(USER_LIB) $(TEST_LIB) $(USER_HDRS) $(TEST_HDRS) $(SKELS)
	$(call msg,CC,$@)
	$(Q)$(CC) $(USER_FLAGS) -Itests/lib $< $(USER_LIB) $(TEST_LIB) -o $@ $(LIBS)

$(BUILD)/tcpload: bench/tcpload.c user/addr.c user/addr.h
	$(call msg,CC,$@)
	$(Q)$(CC) $(USER_FLAGS) $< user/addr.c -o $@

# Not 'demo: all': on a fresh machine the demo installs the compilers first.
demo:
	$(Q)scripts/demo.sh

test: all
	$(Q)tests/run.sh $(TESTS) $(TEST_SCRIPTS)
	$(Q)$(MAKE) --no-print-directory test-kernels

test-kernels: all
	$(Q)tests/vm/run.sh $(KERNEL_TESTS)

bench: $(BUILD)/bench_datapath $(BUILD)/tcpload $(BUILD)/spillway
	$(Q)tests/preflight.sh
	$(Q)SW_TEST_PREFIX=swbench$$$$ $(BUILD)/bench_datapath
	$(Q)SW_TEST_PREFIX=swbench$$$$ bench/bench_tunnel.py
	$(Q)SW_TEST_PREFIX=swbench$$$$ bench/bench_spill.py

clean:
	$(call msg,CLEAN,$(BUILD))
	$(Q)rm -rf $(BUILD)
