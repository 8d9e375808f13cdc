# Mailwarden build. `make` builds build/mailwarden; `make test` runs every
# test (unit, end-to-end, the same under ASan+UBSan, fuzz smoke); `make run`
# starts a demo server on the dev ports.

CC      ?= gcc
PKGS    := libevent libevent_openssl libevent_pthreads openssl sqlite3 libcrypt jansson libcares
PYTHON  ?= /usr/bin/python3

WARN    := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
	   -Wmissing-prototypes -Wpointer-arith -Wcast-qual -Wformat=2 -Wvla
BASE    := -std=c17 -D_GNU_SOURCE -Isrc $(WARN) -g -pthread \
	   $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LIBS    := $(shell pkg-config --libs $(PKGS) 2>/dev/null) -pthread

SRC     := $(sort $(wildcard src/*/*.c))
LIBSRC  := $(filter-out src/cli/%,$(SRC))

B       ?= build
MODE    ?= release
ifeq ($(MODE),asan)
CFLAGS_MODE := -O1 -fno-omit-frame-pointer -fsanitize=address,undefined \
	       -fno-sanitize-recover=undefined
else ifeq ($(MODE),fuzz)
CC          := clang
CFLAGS_MODE := -O1 -fno-omit-frame-pointer \
	       -fsanitize=fuzzer-no-link,address,undefined \
	       -Wno-missing-field-initializers
else
CFLAGS_MODE := -O2 -D_FORTIFY_SOURCE=2 -fstack-protector-strong
endif
CFLAGS  := $(BASE) $(CFLAGS_MODE)
, := ,
LDFLAGS_MODE := $(if $(filter asan,$(MODE)),-fsanitize=address$(,)undefined)

OBJ     := $(SRC:%.c=$(B)/%.o)
LIBOBJ  := $(LIBSRC:%.c=$(B)/%.o)
UNIT    := $(patsubst tests/unit/%.c,$(B)/unit/%,$(wildcard tests/unit/test_*.c))
FUZZ    := $(patsubst tests/fuzz/%.c,$(B)/fuzz/%,$(wildcard tests/fuzz/fuzz_*.c))

.PHONY: all deps test-deps run test unit e2e asan fuzz clean bench-programs
all: deps $(B)/mailwarden

deps:
	@./scripts/install-deps

test-deps:
	@./scripts/install-deps --test

$(B)/mailwarden: $(OBJ)
	$(CC) $(CFLAGS) -o $@ $^ $(LIBS) $(LDFLAGS_MODE)

$(B)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c -o $@ $<

$(B)/unit/%: tests/unit/%.c $(wildcard tests/unit/harness*.h) $(LIBOBJ)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Itests/unit -o $@ $< $(LIBOBJ) $(LIBS) $(LDFLAGS_MODE)

unit: $(UNIT)

# libFuzzer targets: make fuzz B=build-fuzz MODE=fuzz
$(B)/fuzz/%: tests/fuzz/%.c $(LIBOBJ)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -fsanitize=fuzzer -o $@ $< $(LIBOBJ) $(LIBS) \
		-fsanitize=fuzzer,address,undefined

fuzz: $(FUZZ)

# C benchmark programs: bench/NAME.c -> build/bench/NAME (not in tests).
BENCHC  := $(patsubst bench/%.c,$(B)/bench/%,$(wildcard bench/*.c))
$(B)/bench/%: bench/%.c $(LIBOBJ)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(LIBOBJ) $(LIBS) $(LDFLAGS_MODE)

bench-programs: $(BENCHC)

run: all
	@./scripts/run-demo

test: test-deps
	@./scripts/run-tests

clean:
	rm -rf build build-asan build-fuzz

-include $(OBJ:.o=.d)
