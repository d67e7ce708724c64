# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#
# vmlinux.h -> *.bpf.o -> *.skel.h -> userspace. `make V=1` shows commands.
#   make demo     install what is missing, build, show it spill (root)
#                 (K8S=1: on a simulated Kubernetes node, tests/k8s)
#   make          build everything (binary, BPF objects, tests, bench)
#   make check    the tests that need no root (userspace units)
#   make test     run every test (root; see doc/testing.md), then the BPF tests
#                 under a second kernel (make test-kernels)
#   make bench    run the benchmarks: datapath, tunnel, spill (root)
#   make fuzz     build the libFuzzer harnesses (clang) and run each briefly

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
              -lcares -ljson-c -lnftables -lpthread
BPF_FLAGS  := -O2 -g -target bpf -mcpu=v3 $(WARN) -I$(BUILD) -Ibpf -Iinclude

BPF_HDRS   := $(wildcard bpf/*.h) $(wildcard include/spillway/*.h)
USER_LIB   := user/lib/error.c user/lib/log.c user/lib/loop.c user/lib/json.c \
              user/lib/netlink.c user/lib/addr.c user/lib/text.c \
              user/lib/clock.c user/lib/resolve.c user/lib/links.c \
              user/lib/cpus.c \
              user/datapath/datapath.c user/datapath/upgrade.c \
              user/datapath/control.c user/datapath/probe.c \
              user/datapath/route.c user/datapath/sysctl.c \
              user/datapath/notrack.c user/datapath/attach.c \
              user/datapath/lookup.c \
              user/config/yaml.c user/config/config.c user/config/istio.c \
              user/tunnel/tls_cert.c user/tunnel/tls_ctx.c \
              user/tunnel/tls_verify.c user/tunnel/h2.c user/tunnel/relay.c \
              user/tunnel/tunnel.c user/tunnel/tunnel_stats.c \
              user/tunnel/endpoint.c user/tunnel/fallback.c \
              user/tunnel/gateway.c user/tunnel/net.c \
              user/agent/agent.c user/agent/reconcile.c user/agent/serve.c \
              user/agent/interfaces.c user/agent/vips.c user/agent/worker.c \
              user/agent/report.c user/agent/metrics.c user/agent/rpc.c \
              user/agent/request.c \
              user/cli/top.c
TEST_LIB   := tests/lib/harness.c tests/lib/pkt.c tests/lib/sandbox.c \
              tests/lib/samples.c
SKELS      := $(BUILD)/spillway.skel.h $(BUILD)/bench.skel.h

# User code compiles once into two static libraries, plain and with the
# sanitizers (every test runs under AddressSanitizer and
# UndefinedBehaviorSanitizer); the binary, the tests and the benchmark link
# them. Objects mirror the source tree; -MMD records each one's headers, so
# an edit rebuilds what includes it and nothing else.
OBJ        := $(BUILD)/obj
OBJ_SAN    := $(BUILD)/obj-san
LIB        := $(BUILD)/libspillway.a
LIB_SAN    := $(BUILD)/libspillway-san.a

UNIT_TESTS := $(BUILD)/tests/test_config $(BUILD)/tests/test_request \
              $(BUILD)/tests/test_route $(BUILD)/tests/test_tls \
              $(BUILD)/tests/test_top $(BUILD)/tests/test_sysctl \
              $(BUILD)/tests/test_istio $(BUILD)/tests/test_loop \
              $(BUILD)/tests/test_log $(BUILD)/tests/test_text \
              $(BUILD)/tests/test_samples $(BUILD)/tests/test_cpus
TESTS      := $(UNIT_TESTS) $(BUILD)/tests/test_datapath $(BUILD)/tests/test_veth
# The unit tests that need no root (the others make network namespaces).
CHECK_TESTS := $(filter-out %/test_route %/test_sysctl,$(UNIT_TESTS)) \
               tests/unit/test_layers.py tests/unit/test_docs.py \
               tests/deploy/test_monitoring.py tests/unit/test_completion.py
# Run again under Debian 12's 6.1 LTS kernel in qemu (tests/vm/run.sh).
KERNEL_TESTS := $(BUILD)/tests/test_datapath $(BUILD)/tests/test_veth \
                "$(BUILD)/spillway check --kernel"
# Scripts, run as they are (they drive build/spillway); a quoted entry is a
# command with its arguments: the tunnel's tests run with 2 workers and 1.
TEST_SCRIPTS := tests/unit/test_layers.py tests/unit/test_docs.py \
                tests/unit/test_completion.py \
                tests/agent/test_agent.py tests/agent/test_top.py \
                "env SW_TEST_WORKERS=2 tests/agent/test_tunnel.py" \
                "env SW_TEST_WORKERS=1 tests/agent/test_tunnel.py" \
                tests/e2e/test_e2e.py \
                tests/e2e/test_istio_e2e.py tests/deploy/test_manifests.py \
                tests/deploy/test_monitoring.py tests/k8s/test_k8s.py

# libFuzzer (clang): the user code once more, instrumented for coverage.
OBJ_FUZZ     := $(BUILD)/obj-fuzz
LIB_FUZZ     := $(BUILD)/libspillway-fuzz.a
# (clang, unlike gcc, warns of a positional initializer's missing fields.)
FUZZ_FLAGS   := -fsanitize=fuzzer-no-link,address,undefined \
                -fno-sanitize-recover=all -fno-omit-frame-pointer \
                -Wno-missing-field-initializers
FUZZERS      := config istio json request
FUZZ_SECONDS ?= 15

.PHONY: all demo check test test-kernels bench fuzz clean
.DELETE_ON_ERROR:
# Keep the BPF objects (make treats them as intermediates of the skeletons)
# and the userspace objects.
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

# The skeletons first: some objects include them (-MMD sees that only after).
$(OBJ)/%.o: %.c | $(SKELS)
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(USER_FLAGS) -Itests/lib -MMD -MP -c $< -o $@

$(OBJ_SAN)/%.o: %.c | $(SKELS)
	$(call msg,CC-SAN,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(USER_FLAGS) $(SANITIZE) -Itests/lib -MMD -MP -c $< -o $@

$(OBJ_FUZZ)/%.o: %.c | $(SKELS)
	$(call msg,CC-FUZZ,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CLANG) $(USER_FLAGS) $(FUZZ_FLAGS) -Itests/fuzz -MMD -MP -c $< -o $@

$(LIB_FUZZ): $(USER_LIB:%.c=$(OBJ_FUZZ)/%.o)
	$(call msg,AR,$@)
	$(Q)rm -f $@ && $(AR) rcs $@ $^

$(BUILD)/fuzz/fuzz_%: $(OBJ_FUZZ)/tests/fuzz/fuzz_%.o $(LIB_FUZZ)
	$(call msg,LD,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CLANG) $(CFLAGS) $(FUZZ_FLAGS) -fsanitize=fuzzer $^ -o $@ $(LIBS)

$(LIB): $(USER_LIB:%.c=$(OBJ)/%.o)
	$(call msg,AR,$@)
	$(Q)rm -f $@ && $(AR) rcs $@ $^

$(LIB_SAN): $(USER_LIB:%.c=$(OBJ_SAN)/%.o)
	$(call msg,AR,$@)
	$(Q)rm -f $@ && $(AR) rcs $@ $^

$(BUILD)/spillway: $(OBJ)/user/cli/spillway.o $(LIB)
	$(call msg,LD,$@)
	$(Q)$(CC) $(CFLAGS) $^ -o $@ $(LIBS)

TEST_LINK   = $(CC) $(CFLAGS) $(SANITIZE) $^ -o $@ $(LIBS)

$(BUILD)/tests/%: $(OBJ_SAN)/tests/bpf/%.o $(TEST_LIB:%.c=$(OBJ_SAN)/%.o) $(LIB_SAN) | $(BUILD)/tests
	$(call msg,LD,$@)
	$(Q)$(TEST_LINK)

$(BUILD)/tests/%: $(OBJ_SAN)/tests/unit/%.o $(TEST_LIB:%.c=$(OBJ_SAN)/%.o) $(LIB_SAN) | $(BUILD)/tests
	$(call msg,LD,$@)
	$(Q)$(TEST_LINK)

$(BUILD)/bench_datapath: $(OBJ)/bench/bench_datapath.o $(TEST_LIB:%.c=$(OBJ)/%.o) $(LIB)
	$(call msg,LD,$@)
	$(Q)$(CC) $(CFLAGS) $^ -o $@ $(LIBS)

$(BUILD)/tcpload: $(OBJ)/bench/tcpload.o $(OBJ)/user/lib/addr.o
	$(call msg,LD,$@)
	$(Q)$(CC) $(CFLAGS) $^ -o $@

-include $(shell find $(BUILD)/obj $(BUILD)/obj-san $(BUILD)/obj-fuzz -name '*.d' 2>/dev/null)

# Not 'demo: all': on a fresh machine the demo installs the compilers first.
demo:
	$(Q)scripts/demo.sh

check: $(CHECK_TESTS) | $(BUILD)/spillway
	$(Q)for t in $^; do echo "== $$t"; $$t || exit 1; done

test: all
	$(Q)tests/run.sh $(TESTS) $(TEST_SCRIPTS)
	$(Q)$(MAKE) --no-print-directory test-kernels

test-kernels: all
	$(Q)tests/vm/run.sh $(KERNEL_TESTS)

# Through tests/run.sh, which removes what a benchmark leaves (interrupted too).
# One part: make bench BENCHES=build/bench_datapath; BENCH_PREFIX names what
# it creates (pin directories, namespaces).
BENCHES      ?= $(BUILD)/bench_datapath bench/bench_tunnel.py bench/bench_spill.py \
                "bench/bench_spill.py --cost"
BENCH_PREFIX ?= swbench
bench: $(BUILD)/bench_datapath $(BUILD)/tcpload $(BUILD)/spillway
	$(Q)SW_RUN_PREFIX=$(BENCH_PREFIX) tests/run.sh $(BENCHES)

# Each harness for FUZZ_SECONDS from its seeds (tests/fuzz/corpus/NAME);
# what it finds new goes to build/fuzz/NAME, a crash fails the target.
fuzz: $(FUZZERS:%=$(BUILD)/fuzz/fuzz_%)
	$(Q)for f in $(FUZZERS); do \
		echo "== fuzz_$$f ($(FUZZ_SECONDS) s)"; mkdir -p $(BUILD)/fuzz/$$f; \
		$(BUILD)/fuzz/fuzz_$$f -max_total_time=$(FUZZ_SECONDS) \
			-max_len=8192 -timeout=10 -rss_limit_mb=1024 \
			-artifact_prefix=$(BUILD)/fuzz/$$f- -print_final_stats=1 \
			$(BUILD)/fuzz/$$f tests/fuzz/corpus/$$f 2>$(BUILD)/fuzz/$$f.log \
			|| { tail -40 $(BUILD)/fuzz/$$f.log; exit 1; }; \
		grep -E "^(stat::number_of_executed_units|Done)" $(BUILD)/fuzz/$$f.log; \
	done

clean:
	$(call msg,CLEAN,$(BUILD))
	$(Q)rm -rf $(BUILD)
