# seqrun - run PyTorch-style Sequential models from YAML specs.
#
#   make            build ./seqrun
#   make deps       install what a fresh Debian machine lacks (needs root)
#   make test       build, then run every test; ends with "N passed, M failed"
#   make demo       build, then classify the bundled data with a bundled model
#   SANITIZE=1      build with AddressSanitizer and UBSan (objects in build-san/)

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
BUILD    := build
BIN      := seqrun
endif

LIB_SRC  := $(filter-out src/main.c,$(wildcard src/*.c)) $(wildcard src/layers/*.c)
LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/%.o)
TOOLS    := $(BUILD)/tests/npycmp $(BUILD)/tests/stcmp
UNITS    := $(patsubst tests/%.c,$(BUILD)/tests/%,$(wildcard tests/test_*.c))

.PHONY: all deps test demo clean
all: $(BIN)

$(BIN): $(BUILD)/src/main.o $(LIB_OBJ)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/%.o: %.c $(wildcard src/*.h src/layers/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<

$(BUILD)/tests/%: $(BUILD)/tests/%.o $(LIB_OBJ)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/tests/%.o: tests/%.c tests/unit.h $(wildcard src/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Isrc -c -o $@ $<

deps:
	apt-get update
	DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
	    gcc make pkg-config libyaml-dev libopenblas-dev

test: $(BIN) $(TOOLS) $(UNITS)
	@tests/run.sh $(BUILD) $(BIN)

demo: $(BIN)
	./$(BIN) --check models/mlp.yaml
	./$(BIN) -q --format text models/mlp.yaml data/mlp_input.npy

clean:
	rm -rf build build-san seqrun
