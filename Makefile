# ktlsd - kernel-TLS offload daemon.  GNU make; see README.md.
VERSION   := 0.1.0
PREFIX    ?= /usr/local
BINDIR    ?= $(PREFIX)/bin
SBINDIR   ?= $(PREFIX)/sbin
SYSCONFDIR ?= /etc
MANDIR    ?= $(PREFIX)/share/man
DESTDIR   ?=
BUILD     ?= build
# One spelling per build directory: the dependency files (-MMD) name their objects by
# this path, so `BUILD=build` and `BUILD=$PWD/build` must not differ.
override BUILD := $(abspath $(BUILD))
# MULTIARCH=1: Debian's multiarch library directory (lib/x86_64-linux-gnu), as packages use.
ifeq ($(MULTIARCH),1)
LIBDIR    ?= $(PREFIX)/lib/$(shell $(CC) -print-multiarch)
endif
LIBDIR    ?= $(PREFIX)/lib
INCDIR    ?= $(PREFIX)/include
UNITDIR   ?= $(PREFIX)/lib/systemd/system
LIBKTLS_SO = $(BUILD)/lib/libktls.so.1

CC        ?= gcc
# daemon/ is layered (daemon/README.md): util, config, core, tls, data, services, then
# main.c and runtime.c on top. Every folder is on the include path.
DAEMON_DIRS := daemon $(patsubst %/,%,$(sort $(dir $(wildcard daemon/*/*.c daemon/*/*.h))))
DAEMON_INC  := $(addprefix -I,$(DAEMON_DIRS))
PKGS      := openssl liburing libconfig libnl-3.0 json-c libsystemd libcap-ng libseccomp
CFLAGS    ?= -O2 -g
CFLAGS    += -std=gnu11 -Wall -Wextra -Werror -Wshadow -Wformat=2 -Wmissing-prototypes \
             -fno-strict-aliasing -D_GNU_SOURCE -DKTLSD_VERSION='"$(VERSION)"' \
             $(DAEMON_INC) -Iinclude $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LDLIBS    += $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lpthread

# Goals that install their Debian packages themselves and then build in a second
# make; any other goal needs the -dev packages already, and says so plainly.
SELF_DEPS_GOALS := run check check-ktls check-fresh deps bench bench-ktls bench-scale bench-scale-ktls clean format tidy uninstall
ifneq ($(filter-out $(SELF_DEPS_GOALS),$(or $(MAKECMDGOALS),all)),)
ifneq ($(shell pkg-config --exists $(PKGS) json-c openssl 2>/dev/null && echo ok),ok)
$(error the build needs Debian packages that are missing here: run `scripts/deps.sh build` as root, or `make run` / `make check`, which install them first)
endif
endif

ifeq ($(SANITIZE),1)
CFLAGS    += -fsanitize=address,undefined -fno-omit-frame-pointer
LDFLAGS   += -fsanitize=address,undefined
endif

DAEMON_SRCS := $(wildcard daemon/*.c daemon/*/*.c)
DAEMON_OBJS := $(patsubst daemon/%.c,$(BUILD)/daemon/%.o,$(DAEMON_SRCS))
CORE_OBJS   := $(filter-out $(BUILD)/daemon/main.o,$(DAEMON_OBJS))
UNIT_SRCS   := $(wildcard tests/unit/*.c)
UNIT_BINS   := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRCS))
TOOL_SRCS   := $(wildcard tests/tools/*.c)
TOOL_BINS   := $(patsubst tests/tools/%.c,$(BUILD)/tests/%,$(TOOL_SRCS))
# kmod-helpers programs: each links the daemon modules it names.
HELPER_BINS := $(BUILD)/ktls-probe $(BUILD)/ktls-diag
# The configuration reference, printed from the settings schema (make docs).
CONFDOC     := $(BUILD)/ktlsd-confdoc
# ktlsctl, the control socket's client: json-c and nothing else of the daemon's;
# OpenSSL for `ktlsctl probe`, which measures TLS servers itself.
CTL_PKGS    := json-c openssl
CTL_SRCS    := $(wildcard ktlsctl/*.c)
CTL_OBJS    := $(patsubst ktlsctl/%.c,$(BUILD)/ctl/%.o,$(CTL_SRCS))
CTL_CFLAGS  := $(shell pkg-config --cflags $(CTL_PKGS) 2>/dev/null)
CTL_LDLIBS  := $(shell pkg-config --libs $(CTL_PKGS) 2>/dev/null)

PHONY_GOALS := all check check-ktls check-fresh vm-selftest run install uninstall clean deps format tidy \
	       bench bench-ktls bench-handoff bench-scale bench-scale-ktls fuzz tidy-files docs
.PHONY: $(PHONY_GOALS)
all: $(BUILD)/ktlsd $(UNIT_BINS) $(TOOL_BINS) $(HELPER_BINS) $(CONFDOC) $(BUILD)/ktlsctl \
     $(LIBKTLS_SO) $(BUILD)/lib/libktls.a $(BUILD)/lib/ktls.pc $(BUILD)/examples/ktls-echo-server \
     $(BUILD)/examples/ktls-echo-poll $(BUILD)/examples/ktls-client $(BUILD)/ktlsd.service

$(BUILD)/daemon/%.o: daemon/%.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -MMD -MP -c -o $@ $<

$(BUILD)/ktlsd: $(DAEMON_OBJS)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/ctl/%.o: ktlsctl/%.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(CTL_CFLAGS) -MMD -MP -c -o $@ $<

$(BUILD)/ktlsctl: $(CTL_OBJS)
	$(CC) $(LDFLAGS) -o $@ $^ $(CTL_LDLIBS)

$(BUILD)/tests/%: tests/unit/%.c $(CORE_OBJS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(CORE_OBJS) $(LDLIBS)

$(BUILD)/ktls-probe: kmod-helpers/ktls-probe.c $(BUILD)/daemon/tls/ktls_probe.o \
		$(BUILD)/daemon/tls/ktls_probe_report.o
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/ktls-diag: kmod-helpers/ktls-diag.c $(BUILD)/daemon/services/diag.o $(BUILD)/daemon/services/diag_tcpinfo.o
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(CONFDOC): tools/ktlsd-confdoc.c $(filter $(BUILD)/daemon/config/%,$(DAEMON_OBJS))
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# README.md's settings tables and man/ktlsd.conf.5 from the schema (the test suite
# checks that they are current: tests/integration/config_docs.sh).
docs: $(CONFDOC)
	python3 scripts/config-docs.py $(CONFDOC)

$(BUILD)/tests/%: tests/tools/%.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(LDLIBS)

# The targets README gives a new user install their Debian packages first
# (scripts/deps.sh GROUP, idempotent) and only then build, in a second make: this
# one's pkg-config flags were read before the -dev packages were there.
SUBMAKE = $(MAKE) --no-print-directory BUILD=$(BUILD)

# Installs missing Debian packages, builds, runs every suite.
check:
	@scripts/deps.sh check
	@$(SUBMAKE) all
	BUILD=$(BUILD) tests/run.sh

# The kernel-TLS suite alone, in a VM with Debian's kernel (kmod-helpers/ktls-vm.sh).
check-ktls:
	@scripts/deps.sh check
	@$(SUBMAKE) all
	BUILD=$(BUILD) tests/run.sh --vm-only

# README's two commands in a pristine minimal Debian 12 root (what CI runs too).
check-fresh:
	scripts/fresh-root.sh

# Boots the test VM and checks kTLS and the tools the suite needs inside it.
vm-selftest: $(BUILD)/ktls-probe
	kmod-helpers/ktls-vm.sh -- env BUILD=$(BUILD) kmod-helpers/ktls-selftest.sh --tools

# Builds and runs ktlsd on the default configuration in front of a demo backend.
run:
	@scripts/deps.sh run
	@$(SUBMAKE) $(BUILD)/ktlsd $(BUILD)/ktlsctl
	BUILD=$(BUILD) scripts/run-demo.sh

deps:
	@scripts/deps.sh check

bench:
	@scripts/deps.sh bench
	@$(SUBMAKE) all
	BUILD=$(BUILD) bench/run.sh

# Handoff overhead: a handshake through ktlsd's handoff socket vs in the application.
bench-handoff: all
	BUILD=$(BUILD) bench/handoff.sh

# Memory and handshake latency with many connections held (idle and established), ktlsd
# beside nginx (stream) and HAProxy: bench/scale.py. SCALE_N: the connection counts.
SCALE_N ?= 10000,50000,100000
bench-scale:
	@scripts/deps.sh bench
	@$(SUBMAKE) all
	BUILD=$(BUILD) python3 bench/scale.py -n $(SCALE_N)

# The same for ktlsd alone inside the test VM, where connections move to kernel TLS.
bench-scale-ktls:
	@scripts/deps.sh bench
	@$(SUBMAKE) all
	kmod-helpers/ktls-vm.sh -t 1200 -e BUILD=$(abspath $(BUILD)) -- \
		python3 $(CURDIR)/bench/scale.py -n $(or $(SCALE_KTLS_N),2000) -o ktlsd $(SCALE_KTLS_ARGS)

# The kernel-TLS data path's counters, in the test VM.
bench-ktls:
	@scripts/deps.sh bench
	@$(SUBMAKE) all
	BUILD=$(BUILD) bench/ktls-vm.sh

# libktls: the application side of the handoff socket (include/ktlsd/ktls.h).
$(BUILD)/lib/ktls.pic.o: lib/ktls.c include/ktlsd/ktls.h include/ktlsd/handoff.h
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -fPIC -fvisibility=default -c -o $@ $<
$(BUILD)/lib/ktls.o: lib/ktls.c include/ktlsd/ktls.h include/ktlsd/handoff.h
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -c -o $@ $<
$(LIBKTLS_SO): $(BUILD)/lib/ktls.pic.o
	$(CC) $(LDFLAGS) -shared -Wl,-soname,libktls.so.1 -o $@ $<
	ln -sf libktls.so.1 $(BUILD)/lib/libktls.so
$(BUILD)/lib/libktls.a: $(BUILD)/lib/ktls.o
	rm -f $@ && ar rcs $@ $<
# Files that carry install paths are made again when the paths change (make install
# PREFIX=/usr after a plain make, say): the stamp is rewritten only when they differ.
INSTALL_PATHS := $(PREFIX) $(SBINDIR) $(SYSCONFDIR) $(LIBDIR) $(INCDIR) $(VERSION)
$(BUILD)/install-paths: FORCE
	@mkdir -p $(@D)
	@echo '$(INSTALL_PATHS)' | cmp -s - $@ 2>/dev/null || echo '$(INSTALL_PATHS)' >$@
.PHONY: FORCE
FORCE:

$(BUILD)/lib/ktls.pc: lib/ktls.pc.in $(BUILD)/install-paths
	@mkdir -p $(@D)
	sed -e 's|@PREFIX@|$(PREFIX)|; s|@LIBDIR@|$(LIBDIR)|; s|@INCDIR@|$(INCDIR)|; s|@VERSION@|$(VERSION)|' $< >$@
# The examples link the static library: they run from the build tree without installing.
$(BUILD)/examples/%: examples/%.c $(BUILD)/lib/libktls.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(BUILD)/lib/libktls.a

# The systemd unit with this install's paths.
$(BUILD)/ktlsd.service: etc/ktlsd.service.in $(BUILD)/install-paths
	@mkdir -p $(@D)
	sed -e 's|@SBINDIR@|$(SBINDIR)|g; s|@SYSCONFDIR@|$(SYSCONFDIR)|g' $< >$@

install: $(BUILD)/ktlsd $(BUILD)/ktlsctl $(LIBKTLS_SO) $(BUILD)/lib/libktls.a $(BUILD)/lib/ktls.pc \
	 $(BUILD)/ktlsd.service
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(SYSCONFDIR)/ktlsd
	install -m 0755 $(BUILD)/ktlsd $(DESTDIR)$(SBINDIR)/ktlsd
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man5 \
		$(DESTDIR)$(MANDIR)/man8
	install -m 0755 $(BUILD)/ktlsctl $(DESTDIR)$(BINDIR)/ktlsctl
	install -m 0644 man/ktlsctl.1 $(DESTDIR)$(MANDIR)/man1/ktlsctl.1
	install -m 0644 man/ktlsd.conf.5 $(DESTDIR)$(MANDIR)/man5/ktlsd.conf.5
	install -m 0644 man/ktlsd.8 $(DESTDIR)$(MANDIR)/man8/ktlsd.8
	install -m 0755 $(BUILD)/ktls-probe $(BUILD)/ktls-diag $(DESTDIR)$(SBINDIR)/
	install -d $(DESTDIR)$(SYSCONFDIR)/modules-load.d
	install -m 0644 kmod-helpers/ktls.conf $(DESTDIR)$(SYSCONFDIR)/modules-load.d/ktls.conf
	install -m 0644 etc/ktlsd.conf $(DESTDIR)$(SYSCONFDIR)/ktlsd/ktlsd.conf.example
	install -d $(DESTDIR)$(UNITDIR)
	install -m 0644 $(BUILD)/ktlsd.service $(DESTDIR)$(UNITDIR)/ktlsd.service
	install -d $(DESTDIR)$(LIBDIR)/pkgconfig $(DESTDIR)$(INCDIR)/ktlsd
	install -m 0755 $(LIBKTLS_SO) $(DESTDIR)$(LIBDIR)/libktls.so.1
	ln -sf libktls.so.1 $(DESTDIR)$(LIBDIR)/libktls.so
	install -m 0644 $(BUILD)/lib/libktls.a $(DESTDIR)$(LIBDIR)/libktls.a
	install -m 0644 $(BUILD)/lib/ktls.pc $(DESTDIR)$(LIBDIR)/pkgconfig/ktls.pc
	install -m 0644 include/ktlsd/ktls.h include/ktlsd/handoff.h $(DESTDIR)$(INCDIR)/ktlsd/

uninstall:
	rm -f $(DESTDIR)$(SBINDIR)/ktlsd $(DESTDIR)$(SBINDIR)/ktls-probe $(DESTDIR)$(SBINDIR)/ktls-diag \
		$(DESTDIR)$(BINDIR)/ktlsctl $(DESTDIR)$(MANDIR)/man1/ktlsctl.1 \
		$(DESTDIR)$(MANDIR)/man5/ktlsd.conf.5 $(DESTDIR)$(MANDIR)/man8/ktlsd.8 \
		$(DESTDIR)$(SYSCONFDIR)/ktlsd/ktlsd.conf.example \
		$(DESTDIR)$(SYSCONFDIR)/modules-load.d/ktls.conf $(DESTDIR)$(UNITDIR)/ktlsd.service \
		$(DESTDIR)$(LIBDIR)/libktls.so.1 $(DESTDIR)$(LIBDIR)/libktls.so $(DESTDIR)$(LIBDIR)/libktls.a \
		$(DESTDIR)$(LIBDIR)/pkgconfig/ktls.pc $(DESTDIR)$(INCDIR)/ktlsd/ktls.h \
		$(DESTDIR)$(INCDIR)/ktlsd/handoff.h

format:
	@scripts/deps.sh dev
	clang-format -i $(wildcard daemon/*.c daemon/*.h daemon/*/*.c daemon/*/*.h tests/unit/*.c tests/tools/*.c kmod-helpers/*.c \
		ktlsctl/*.c ktlsctl/*.h fuzz/*.c include/ktlsd/*.h lib/*.c examples/*.c)

tidy:
	@scripts/deps.sh build dev
	@$(SUBMAKE) tidy-files

tidy-files:
	@# One file per run: clang-tidy 14 misreports va_list state across files of one run.
	for f in $(DAEMON_SRCS) tools/*.c; do \
		clang-tidy --quiet $$f -- -std=gnu11 -D_GNU_SOURCE $(DAEMON_INC) -Iinclude $(shell pkg-config --cflags $(PKGS)) \
			-DKTLSD_VERSION=\"tidy\" || exit 1; done
	for f in ktlsctl/*.c; do \
		clang-tidy --quiet --header-filter='ktlsctl/.*' $$f -- -std=gnu11 -D_GNU_SOURCE \
			-Iinclude $(CTL_CFLAGS) || exit 1; done
	cppcheck --quiet --error-exitcode=1 --enable=warning,performance,portability \
		--inline-suppr $(DAEMON_INC) -Iinclude -D_GNU_SOURCE daemon/ tools/
	cppcheck --quiet --error-exitcode=1 --enable=warning,performance,portability \
		--inline-suppr -Iinclude -D_GNU_SOURCE ktlsctl/

# libFuzzer targets (clang from Debian): the control request parser and the
# configuration parser; run by tests/integration/fuzz_*.sh within `make check`, or by hand:
#   make fuzz && build/fuzz/fuzz_control -max_total_time=60 fuzz/corpus/control
FUZZ_CC ?= clang
$(BUILD)/fuzz/fuzz_control: fuzz/fuzz_control.c daemon/services/control_proto.c \
		daemon/services/control_proto.h
	@mkdir -p $(@D)
	$(FUZZ_CC) -g -O1 -std=gnu11 -D_GNU_SOURCE $(DAEMON_INC) -Iinclude $(shell pkg-config --cflags json-c) \
		-fsanitize=fuzzer,address,undefined -o $@ fuzz/fuzz_control.c daemon/services/control_proto.c \
		$(shell pkg-config --libs json-c)

# The configuration parser through ktlsd's schema (the same runner, FUZZ_SECONDS).
CONFIG_SRCS := $(wildcard daemon/config/*.c)
$(BUILD)/fuzz/fuzz_config: fuzz/fuzz_config.c $(CONFIG_SRCS) $(wildcard daemon/config/*.h) \
		daemon/util/log.h
	@mkdir -p $(@D)
	$(FUZZ_CC) -g -O1 -std=gnu11 -D_GNU_SOURCE $(DAEMON_INC) -Iinclude $(shell pkg-config --cflags libconfig) \
		-fsanitize=fuzzer,address,undefined -o $@ fuzz/fuzz_config.c $(CONFIG_SRCS) \
		$(shell pkg-config --libs libconfig) -ldl

fuzz: $(BUILD)/fuzz/fuzz_control $(BUILD)/fuzz/fuzz_config

clean:
	rm -rf $(BUILD) build-*

-include $(DAEMON_OBJS:.o=.d) $(CTL_OBJS:.o=.d)
