# jiesu — build, run, test, bench.  `make help` lists the targets.
#
# Layout discovered by wildcard, so adding a module needs no edit here:
#   common/*.c                -> libjiesu.a (every .c of common/)
#   proto/jiesu/v1/*.proto    -> generated C (protobuf-c) into libjiesu.a, Python into build/py
#   services/NAME/*.c         -> build/bin/jiesu-NAME (main.c wires; the other .c are the
#                                service's pure cores, also linked into the unit tests)
#   tools/NAME/*.c            -> build/bin/NAME
#   tests/unit/test_*.c       -> one cmocka binary each
#   common/*.lua              -> embedded in libjiesu as C strings (Redis Functions library)

BUILD     ?= build
SANITIZE  ?=
PREFIX    ?= /usr/local
VERSION   := $(shell cat VERSION 2>/dev/null || echo 0.0.0)
PYTHON    ?= /usr/bin/python3
CC        ?= cc

PKGS      := libzmq libprotobuf-c hiredis libuv jansson libsodium opencc
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS  := $(shell pkg-config --libs $(PKGS) 2>/dev/null)

OPT       ?= -O2 -g
ALL_CFLAGS := $(OPT) -std=gnu11 -Wall -Wextra -Werror -D_GNU_SOURCE -fno-omit-frame-pointer \
             -DJIESU_VERSION='"$(VERSION)"' -Icommon -I$(BUILD)/gen $(PKG_CFLAGS) $(CFLAGS)
ALL_LDFLAGS := $(LDFLAGS)
LDLIBS    += $(PKG_LIBS) -lm -lpthread
ifneq ($(SANITIZE),)
ALL_CFLAGS  += -fsanitize=address,undefined -fno-sanitize-recover=undefined
ALL_LDFLAGS += -fsanitize=address,undefined
endif

# ---- sources ---------------------------------------------------------------
PROTOS      := $(wildcard proto/jiesu/v1/*.proto)
PROTO_C     := $(patsubst proto/%.proto,$(BUILD)/gen/%.pb-c.c,$(PROTOS))
PROTO_H     := $(PROTO_C:.c=.h)
PROTO_PY    := $(patsubst proto/%.proto,$(BUILD)/py/%_pb2.py,$(PROTOS))
LUA         := $(wildcard common/*.lua)
LUA_C       := $(patsubst common/%.lua,$(BUILD)/gen/lua_%.c,$(LUA))
COMMON_SRC  := $(wildcard common/*.c)
SERVICES    := $(notdir $(patsubst %/,%,$(wildcard services/*/)))
TOOLS       := $(notdir $(patsubst %/,%,$(wildcard tools/*/)))
CORE_SRC    := $(filter-out %/main.c,$(wildcard services/*/*.c tools/*/*.c))
UNIT_SRC    := $(wildcard tests/unit/test_*.c)

obj = $(patsubst %.c,$(BUILD)/obj/%.o,$(1))
CORE_OBJ    := $(call obj,$(CORE_SRC))
LIBJIESU    := $(BUILD)/lib/libjiesu.a
LIBCORE     := $(BUILD)/lib/libjiesu-core.a
BINS        := $(addprefix $(BUILD)/bin/jiesu-,$(SERVICES)) $(addprefix $(BUILD)/bin/,$(TOOLS))
UNIT_BINS   := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRC))

# Debian packages: build, run and test.
DEB_PKGS := build-essential pkg-config libzmq3-dev libprotobuf-c-dev protobuf-c-compiler \
            libhiredis-dev libuv1-dev redis-server libjansson-dev libsodium-dev libcmocka-dev \
            libopencc-dev libh2o-dev protobuf-compiler python3-zmq python3-protobuf python3-pytest python3-yaml

.PHONY: all deps run stop test unit system bench clean install help py model
.DEFAULT_GOAL := all
.SECONDARY:

all: $(BINS) py

py: $(PROTO_PY) $(BUILD)/py/jiesu/__init__.py $(BUILD)/py/jiesu/v1/__init__.py

help:
	@echo "make deps     install missing Debian packages (apt-get, needs root)"
	@echo "make          build everything into $(BUILD)/bin"
	@echo "make run      start redis-server and every service (Ctrl-C or 'make stop' stops)"
	@echo "make stop     stop what 'make run' started"
	@echo "make test     unit tests (ASan+UBSan) and system tests"
	@echo "make bench    benchmarks, one JSON line each (BENCH=name for one)"
	@echo "make model    rebuild the classifier's topic model from ../shared/data"
	@echo "make install  PREFIX=$(PREFIX)"
	@echo "make clean"

deps:
	@missing=$$(for p in $(DEB_PKGS); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "deps: installing$$(echo ' '$$missing)"; \
	  SUDO=; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	  $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null || exit 1; \
	fi

# ---- generated code --------------------------------------------------------
$(BUILD)/gen/%.pb-c.c $(BUILD)/gen/%.pb-c.h: proto/%.proto
	@mkdir -p $(BUILD)/gen
	protoc-c --c_out=$(BUILD)/gen -Iproto $<

$(BUILD)/py/%_pb2.py: proto/%.proto
	@mkdir -p $(BUILD)/py
	protoc --python_out=$(BUILD)/py -Iproto $<

$(BUILD)/py/jiesu/__init__.py $(BUILD)/py/jiesu/v1/__init__.py: $(PROTO_PY)
	@touch $@

$(BUILD)/gen/lua_%.c: common/%.lua scripts/embed.sh
	@mkdir -p $(@D)
	sh scripts/embed.sh js_lua_$* $< > $@.tmp && mv $@.tmp $@

# The transition table is written once, in common/fsm.c; the Functions library
# gets its Lua copy at the line "-- @FSM_TABLE@" (scripts/fsm-gen.c).
$(BUILD)/gen/fsm-gen: scripts/fsm-gen.c common/fsm.c common/fsm.h | $(PROTO_H)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ scripts/fsm-gen.c common/fsm.c

$(BUILD)/gen/fsm.lua: $(BUILD)/gen/fsm-gen
	$< > $@.tmp && mv $@.tmp $@

$(BUILD)/gen/functions.lua: common/functions.lua $(BUILD)/gen/fsm.lua
	grep -q '^-- @FSM_TABLE@$$' $< || { echo "$<: no line '-- @FSM_TABLE@'"; exit 1; }
	sed -e '/^-- @FSM_TABLE@$$/{r $(BUILD)/gen/fsm.lua' -e 'd;}' $< > $@.tmp && mv $@.tmp $@

$(BUILD)/gen/lua_functions.c: $(BUILD)/gen/functions.lua scripts/embed.sh
	sh scripts/embed.sh js_lua_functions $< > $@.tmp && mv $@.tmp $@

# Both pb-c.c files come from one protoc-c run each; envelope imports types.
$(PROTO_C:.c=.o): $(PROTO_H)

# ---- objects and archives --------------------------------------------------
$(BUILD)/obj/%.o: %.c | $(PROTO_H)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/obj/$(BUILD)/gen/%.o: $(BUILD)/gen/%.c | $(PROTO_H)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -Wno-unused-parameter -MMD -MP -c $< -o $@

LIB_OBJ := $(call obj,$(COMMON_SRC)) $(call obj,$(PROTO_C)) $(call obj,$(LUA_C))

$(LIBJIESU): $(LIB_OBJ)
	@mkdir -p $(@D)
	rm -f $@ && ar rcs $@ $^

$(LIBCORE): $(CORE_OBJ)
	@mkdir -p $(@D)
	rm -f $@ && ar rcs $@ $^

# A service links its own objects, then libjiesu; a tool also links the
# services' pure cores (libjiesu-core), so jiesuctl can reuse them.
define service_rule
$(BUILD)/bin/jiesu-$(1): $(call obj,$(wildcard services/$(1)/*.c)) $(LIBJIESU)
	@mkdir -p $$(@D)
	$$(CC) $$(ALL_LDFLAGS) -o $$@ $$(filter %.o,$$^) $(LIBJIESU) $$(LDLIBS)
endef
define tool_rule
$(BUILD)/bin/$(1): $(call obj,$(wildcard tools/$(1)/*.c)) $(LIBCORE) $(LIBJIESU)
	@mkdir -p $$(@D)
	$$(CC) $$(ALL_LDFLAGS) -o $$@ $$(filter %.o,$$^) $(LIBCORE) $(LIBJIESU) $$(LDLIBS)
endef
$(foreach s,$(SERVICES),$(eval $(call service_rule,$(s))))
$(foreach t,$(TOOLS),$(eval $(call tool_rule,$(t))))

$(BUILD)/tests/test_%: $(BUILD)/obj/tests/unit/test_%.o $(LIBCORE) $(LIBJIESU)
	@mkdir -p $(@D)
	$(CC) $(ALL_LDFLAGS) -o $@ $< $(LIBCORE) $(LIBJIESU) $(LDLIBS) -lcmocka

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)

# ---- run -------------------------------------------------------------------
run: deps all
	@scripts/run.sh start

stop:
	@scripts/run.sh stop

# ---- tests -----------------------------------------------------------------
# Unit tests and system tests run against the sanitized build in build/asan.
TEST_BUILD ?= build/asan

unit:
	@$(MAKE) --no-print-directory BUILD=$(TEST_BUILD) SANITIZE=1 OPT="-O1 -g" unit-bins
	@scripts/run-unit.sh $(TEST_BUILD)/tests

unit-bins: $(UNIT_BINS)

system:
	@$(MAKE) --no-print-directory BUILD=$(TEST_BUILD) SANITIZE=1 OPT="-O1 -g" all
	@JIESU_BUILD=$(TEST_BUILD) $(PYTHON) -m pytest -q -p no:cacheprovider tests/system

test: deps
	@$(MAKE) --no-print-directory BUILD=$(TEST_BUILD) SANITIZE=1 OPT="-O1 -g" all unit-bins
	@scripts/test.sh $(TEST_BUILD)

# ---- classifier model ------------------------------------------------------
# The shipped models (config/classifier/topic.model, type.model) are rebuilt
# from the data in ../shared (not shipped: see docs/CLASSIFIER.md), the same
# bytes for the same data. CORRECTIONS_TOPIC / CORRECTIONS_TYPE: files of
# `jiesuctl corrections [--kind type]` to train on as well (docs/CLI.md).
SHARED ?= ../shared
CORRECTIONS_TOPIC ?=
CORRECTIONS_TYPE ?=
model: $(BUILD)/bin/jiesu-train
	$(BUILD)/bin/jiesu-train --data $(SHARED)/data/tipdm/topics-train.tsv --out config/classifier/topic.model \
	  --seed 12345 --holdout 0.2 --folds 5 --mix 0.5 --max-chars 500 --sample-out tests/data/topics-sample.tsv --sample-n 300 \
	  $(addprefix --corrections ,$(CORRECTIONS_TOPIC))
	$(BUILD)/bin/jiesu-train --kind type --weak $(SHARED)/data/tipdm/messages.tsv \
	  --weak $(SHARED)/data/tipdm/replies.tsv --cues config/classifier/type-cues.tsv \
	  --exclude tests/data/type-test.tsv --out config/classifier/type.model --seed 12345 --mix 0.5 --max-chars 500 \
	  $(addprefix --corrections ,$(CORRECTIONS_TYPE))

# ---- bench -----------------------------------------------------------------
bench: deps all
	@$(PYTHON) scripts/bench.py $(BENCH)

# ---- install / clean -------------------------------------------------------
install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/jiesu
	install -m 755 $(BINS) $(DESTDIR)$(PREFIX)/bin/
	cp -r config $(DESTDIR)$(PREFIX)/share/jiesu/
	install -m 644 $(PROTOS) $(DESTDIR)$(PREFIX)/share/jiesu/

clean:
	rm -rf build
