# seqrun - run PyTorch-style Sequential models from YAML specs.
#
#   make            build ./seqrun
#   make deps       install what a fresh Debian machine lacks (needs root)
#   make test       build, then run every test; ends with "N passed, M failed"
#   make demo       build, then classify the bundled data with a bundled model
#   SANITIZE=1      build with AddressSanitizer and UBSan (objects in build-san/)

# A plain `make` builds on every core: the kernel files take seconds each
# at -O2, and a one-at-a-time build of the whole tree takes most of a minute.
ifeq ($(filter -j%,$(MAKEFLAGS)),)
MAKEFLAGS += -j$(shell nproc 2>/dev/null || echo 2)
endif

CC       ?= cc
PKGS     := yaml-0.1 openblas
CFLAGS   ?= -O2 -g
CFLAGS   += -std=c11 -D_GNU_SOURCE -Wall -Wextra $(WERROR) $(shell pkg-config --cflags $(PKGS))
LDLIBS   += $(shell pkg-config --libs $(PKGS)) -lm -lpthread
PY       := /usr/bin/python3

ifeq ($(SANITIZE),1)
BUILD    := build-san
CFLAGS   += -O1 -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
LDFLAGS  += -fsanitize=address,undefined
BIN      := $(BUILD)/seqrun
else
# BUILD=DIR builds into DIR (objects and DIR/seqrun), so several builds of one
# tree (a helper's, a bisect's) do not overwrite each other.
BUILD    ?= build
BIN      := $(if $(filter build,$(BUILD)),seqrun,$(BUILD)/seqrun)
endif

LIB_SRC  := $(filter-out src/main.c,$(wildcard src/*.c)) $(wildcard src/layers/*.c)
LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/%.o)
TOOLS    := $(BUILD)/tests/npycmp $(BUILD)/tests/stcmp
UNITS    := $(patsubst tests/%.c,$(BUILD)/tests/%,$(wildcard tests/test_*.c))

.PHONY: all deps ensure-deps test test-run demo demo-run clean
.SECONDARY:
all: $(BIN)

# seqrun itself links OpenBLAS statically where its archive is installed
# (Debian's libopenblas-dev has it): loading the shared DYNAMIC_ARCH library
# and its relocations cost about 1.5 ms of every process's start, most of a
# one-sample run.  OPENBLAS_STATIC=0 links it dynamically; tests and tools
# always do.
OPENBLAS_STATIC ?= 1
OPENBLAS_A := $(wildcard $(shell pkg-config --variable=libdir openblas 2>/dev/null)/libopenblas.a)
ifeq ($(OPENBLAS_STATIC)$(if $(OPENBLAS_A),yes,),1yes)
BIN_LDLIBS := $(shell pkg-config --libs yaml-0.1) $(OPENBLAS_A) \
              $(filter-out -lopenblas,$(shell pkg-config --static --libs-only-l openblas)) -lm -lpthread
else
BIN_LDLIBS := $(LDLIBS)
endif

$(BIN): $(BUILD)/src/main.o $(LIB_OBJ)
	$(CC) $(LDFLAGS) -o $@ $^ $(BIN_LDLIBS)

$(BUILD)/%.o: %.c $(wildcard src/*.h src/layers/*.h src/layers/*.def)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<

$(BUILD)/tests/%: $(BUILD)/tests/%.o $(LIB_OBJ)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/tests/%.o: tests/%.c $(wildcard tests/*.h src/*.h src/layers/*.h src/layers/*.def)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Isrc -c -o $@ $<

# Debian packages: the build needs the first line; the test suite uses the
# second (valgrind for the memcheck test, clang for the fuzzers, mandoc and
# groff to lint the man page, GNU parallel for the README recipe, Graphviz
# to parse --check --format dot).
DEB_BUILD := gcc make pkg-config libyaml-dev libopenblas-dev
DEB_TEST  := valgrind clang mandoc groff-base parallel graphviz
SUDO      := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

deps:
	$(SUDO) apt-get update
	DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y --no-install-recommends $(DEB_BUILD) $(DEB_TEST)

# pkg-config's answers are read when this Makefile is parsed, so the real
# work runs in a fresh make once the packages are known to be there.
ensure-deps:
	@command -v pkg-config >/dev/null && pkg-config --exists $(PKGS) || $(MAKE) --no-print-directory deps

test: ensure-deps
	@$(MAKE) --no-print-directory test-run

test-run: $(BIN) $(TOOLS) $(UNITS)
	@tests/run.sh $(BUILD) $(BIN)

demo: ensure-deps
	@$(MAKE) --no-print-directory demo-run

demo-run: $(BIN)
	@tools/demo.sh ./$(BIN)

clean:
	rm -rf build build-san seqrun

# ---- man page, install (issue 6) ----
PREFIX  ?= /usr/local
DESTDIR ?=
GENMAN  := $(BUILD)/man/genman
.PHONY: man install
$(GENMAN): $(BUILD)/man/genman.o $(LIB_OBJ)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)
man: $(GENMAN)
	$(GENMAN) man/seqrun.1.in >man/seqrun.1.tmp.$$$$ && mv man/seqrun.1.tmp.$$$$ man/seqrun.1
install: $(BIN)
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man1
	install -m 755 $(BIN) $(DESTDIR)$(PREFIX)/bin/seqrun
	install -m 644 man/seqrun.1 $(DESTDIR)$(PREFIX)/share/man/man1/seqrun.1
test-run: $(GENMAN)

# ---- benchmarks (issues 7, 15, 12) ----
# make bench                                    full run, writes bench/RESULTS.md
# make bench BENCHFLAGS="--quick --only W7,W9"  smoke run / a subset; the report goes to
#                                               $TMPDIR/seqrun-bench-partial.md (and stdout)
# make bench BUILD=build-bench                  benchmark that build's seqrun
# PyTorch on the same machine is the baseline, so it is installed if missing.
# ONNX Runtime is the other peer: npm's onnxruntime-node, installed into
# bench/ort/node_modules (ignored by git) when npm is present; without npm the
# report's ORT column says why.  ONNXRUNTIME_NODE_INSTALL=skip: its postinstall
# would fetch GPU binaries from outside the npm registry; the CPU library ships
# in the package.  torch.onnx.export (torch 1.13) needs no `onnx` package.
DEB_BENCH   := python3-torch python3-numpy python3-yaml time
ORT_VERSION := 1.30.0
.PHONY: bench bench-run bench-ort
bench: ensure-deps
	@$(PY) -c 'import torch, numpy, yaml' 2>/dev/null || \
	    (DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y --no-install-recommends $(DEB_BENCH))
	@$(MAKE) --no-print-directory bench-ort
	@$(MAKE) --no-print-directory bench-run

bench-ort:
	@if [ "$$(cd bench/ort && node -p 'require("onnxruntime-node/package.json").version' 2>/dev/null)" = "$(ORT_VERSION)" ]; then :; \
	elif ! command -v npm >/dev/null; then \
	    echo "bench: npm not found: ONNX Runtime will not be measured"; \
	else \
	    echo "bench: installing onnxruntime-node@$(ORT_VERSION) into bench/ort/node_modules (log: bench/ort/install.log)"; \
	    (cd bench/ort && ONNXRUNTIME_NODE_INSTALL=skip npm install --no-audit --no-fund --no-save \
	        --no-package-lock onnxruntime-node@$(ORT_VERSION)) >bench/ort/install.log 2>&1 || \
	    echo "bench: npm install failed (bench/ort/install.log): ONNX Runtime will not be measured"; \
	fi

bench-run: $(BIN) $(BUILD)/bench/sgemm_peak $(BUILD)/bench/fma_peak
	$(PY) bench/bench.py --seqrun ./$(BIN) --sgemm $(BUILD)/bench/sgemm_peak --fma $(BUILD)/bench/fma_peak $(BENCHFLAGS)

# in-process timing of one layer's forward (bench/micro_layers.c)
$(BUILD)/bench/micro_layers: bench/micro_layers.c bench/timing.h $(LIB_OBJ) $(wildcard src/*.h src/layers/*.h src/layers/*.def)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Isrc $(LDFLAGS) -o $@ $< $(LIB_OBJ) $(LDLIBS)

# sr_gemm alone on a Linear stack (bench/gemm_micro.c)
$(BUILD)/bench/gemm_micro: bench/gemm_micro.c bench/timing.h $(BUILD)/src/gemm.o $(BUILD)/src/par.o $(BUILD)/src/cpu.o src/gemm.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Isrc $(LDFLAGS) -o $@ $< $(BUILD)/src/gemm.o $(BUILD)/src/par.o $(BUILD)/src/cpu.o -lpthread

$(BUILD)/bench/sgemm_peak: bench/sgemm_peak.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(LDLIBS)

# the AVX-512 FMA peak (its kernel is compiled for avx512f by a target attribute)
$(BUILD)/bench/fma_peak: bench/fma_peak.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< -lpthread

# ---- fault injection (issue 14) ----
# tests/suite_fault.sh preloads this shim to fail the Nth malloc, write,
# fsync or rename of a run.  Built without the build's sanitizers: ASan must
# come first in a process, so the suite skips itself for SANITIZE=1 builds.
$(BUILD)/tests/faultinject.so: tests/faultinject.c
	@mkdir -p $(dir $@)
	$(CC) -O2 -g -Wall -Wextra $(WERROR) -shared -fPIC -o $@ $< -ldl
test-run: $(BUILD)/tests/faultinject.so

# ---- fuzzing (issues 5, 14) ----
# make fuzz                  libFuzzer targets build-fuzz/fuzz_* (clang, ASan+UBSan)
# make fuzz FUZZ_S=600       ...then runs each target for FUZZ_S seconds in turn
#                            (tests/fuzz/fuzz.sh: one process at a time, its
#                            dictionary and corpus; new inputs that reach new
#                            edges are merged into tests/fuzz/corpus/TARGET,
#                            crashes land in build-fuzz/artifacts/TARGET;
#                            prints time, executions and coverage per target)
# make fuzz FUZZ_S=600 FUZZ_TARGETS=fuzz_run   one target
# `make test` also builds $(BUILD)/tests/fuzz/fuzz_*: the same targets with a
# plain main() (tests/fuzz/replay.c) and this build's compiler and sanitizers,
# which tests/suite_fuzzregress.sh uses to replay every input that once crashed.
FUZZ_CC     ?= clang
FUZZ_FLAGS  := -g -O1 -std=c11 -D_GNU_SOURCE -Wall -Wextra $(WERROR) -fno-omit-frame-pointer \
               -fsanitize=address,undefined -fno-sanitize-recover=undefined \
               $(shell pkg-config --cflags $(PKGS))
# The hand-unrolled SIMD kernels (every file with an unroll pragma or an
# AVX target attribute): clang -O1 with ASan spent more than 24 minutes on
# conv.c alone (the unroll pragmas times every inlined tile variant, each
# access instrumented).  At -O0 the pragmas are ignored and these files
# compile in seconds; the kernels run slower, which the fuzz targets' small
# models do not mind.
FUZZ_O0     := $(shell grep -lE 'pragma GCC unroll|target."avx' src/*.c src/layers/*.c)
FUZZ_SRCS   := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BINS   := $(FUZZ_SRCS:tests/fuzz/%.c=build-fuzz/%)
FUZZ_OBJ    := $(LIB_SRC:%.c=build-fuzz/%.o)
FUZZ_REPLAY := $(FUZZ_SRCS:tests/fuzz/%.c=$(BUILD)/tests/fuzz/%)
FUZZ_TARGETS ?= $(FUZZ_SRCS:tests/fuzz/%.c=%)
FUZZ_S      ?=

.PHONY: fuzz fuzz-clean
fuzz: $(FUZZ_BINS)
ifneq ($(FUZZ_S),)
	@for t in $(FUZZ_TARGETS); do tests/fuzz/fuzz.sh build-fuzz/$$t $(FUZZ_S) || exit 1; done
endif

$(FUZZ_O0:%.c=build-fuzz/%.o): FUZZ_OPT := -O0
build-fuzz/%.o: %.c $(wildcard src/*.h src/layers/*.h src/layers/*.def)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_FLAGS) $(FUZZ_OPT) -fsanitize=fuzzer-no-link -c -o $@ $<

$(FUZZ_BINS): build-fuzz/%: tests/fuzz/%.c $(FUZZ_OBJ) $(wildcard src/*.h)
	$(FUZZ_CC) $(FUZZ_FLAGS) -fsanitize=fuzzer -Isrc -o $@ $< $(FUZZ_OBJ) $(LDLIBS)

$(FUZZ_REPLAY): $(BUILD)/tests/fuzz/%: tests/fuzz/%.c tests/fuzz/replay.c $(LIB_OBJ) $(wildcard src/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Isrc $(LDFLAGS) -o $@ $< tests/fuzz/replay.c $(LIB_OBJ) $(LDLIBS)

test-run: $(FUZZ_REPLAY)

fuzz-clean:
	rm -rf build-fuzz
