# nqmail build. `make PREFIX=DIR` builds for the install root DIR (fixed at
# build time, as in qmail); `make install` installs there; `make test` runs
# every test, then again under AddressSanitizer and UBSan.
#
# Layout: lib/*.c is the shared library; src/NAME.c is the program NAME;
# src/NAME/*.c is the program NAME when it needs several files; src/NAME.sh
# is the script NAME. New programs need no Makefile change.

PREFIX   ?= /var/qmail
BUILDDIR ?= build/default
SAN      ?= 0
CC       ?= cc

CFLAGS_WARN = -Wall -Wextra -Werror -Wshadow -Wformat=2 -Wvla
CFLAGS  ?= -O2 -g
ALL_CFLAGS = -std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE $(CFLAGS_WARN) $(CFLAGS) \
             -Ilib -I$(BUILDDIR)
LDLIBS  = -lcdb -lcrypt
ifeq ($(FUZZ),1)
ALL_CFLAGS += -fsanitize=fuzzer-no-link
endif
ifeq ($(SAN),1)
ALL_CFLAGS += -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer \
              -DNQ_SANITIZE
LDFLAGS    += -fsanitize=address,undefined
# Short-lived programs exit without freeing by design (as qmail's do); leak
# reports would only be noise. Memory errors and UB still fail the tests.
export ASAN_OPTIONS = detect_leaks=0
export UBSAN_OPTIONS = print_stacktrace=1
endif

LIB_SRC   := $(wildcard lib/*.c)
LIB_OBJ   := $(LIB_SRC:lib/%.c=$(BUILDDIR)/lib/%.o)
LIB_A     := $(BUILDDIR)/libnq.a
PROG_ONE  := $(basename $(notdir $(wildcard src/*.c)))
PROG_DIR  := $(notdir $(patsubst %/,%,$(wildcard src/*/)))
SCRIPTS   := $(basename $(notdir $(wildcard src/*.sh)))
PROGS     := $(PROG_ONE) $(PROG_DIR)
BINS      := $(PROGS:%=$(BUILDDIR)/bin/%) $(SCRIPTS:%=$(BUILDDIR)/bin/%)
UNIT_SRC  := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(UNIT_SRC:tests/unit/%.c=$(BUILDDIR)/tests/%)
FUZZ_SRC  := $(wildcard fuzz/fuzz_*.c)
FUZZ_BINS := $(FUZZ_SRC:fuzz/%.c=build/fuzz/bin/%)
FUZZ_SECONDS ?= 10

# Only qmail-tls links OpenSSL: it speaks TLS for qmail-smtpd and
# qmail-remote (lib/tlshelper), which so stay small static binaries.
LDLIBS_qmail-tls = -lssl -lcrypto

# Programs started once per connection or per message are linked
# statically: on a VM the dynamic loader's start-up is about a third of
# their cost (bench/smtp). Not under the sanitizers or the fuzzer, which
# need their dynamic runtimes.
STATIC_PROGS = qmail-smtpd qmail-queue qmail-local qmail-remote qmail-tls
ifeq ($(SAN)$(FUZZ),0)
STATIC_LDFLAGS = -static
endif

# Programs started per message or per delivery are built with musl and
# linked statically when musl-gcc is there (Debian's musl-tools): glibc's
# start-up probes the CPU, which traps on a VM and made a process start
# cost about three times musl's (docs/QUEUE.md). Programs that need a
# library musl does not have stay with $(CC): OpenSSL, tinycdb's writer,
# libxcrypt (musl's crypt() knows no yescrypt), that is any program with
# an LDLIBS_NAME line or whose sources include those headers. Not under
# the sanitizers or the fuzzer (they need glibc); MUSL=0 turns it off, and
# without musl-gcc everything is built with $(CC) as before.
MUSL    ?= 1
MUSL_CC ?= $(shell command -v musl-gcc 2>/dev/null)
MUSL_BAD_RE := <openssl/|<cdb\.h>|<crypt\.h>|<shadow\.h>|[^_a-z0-9]crypt[ ]*\(
MUSL_BAD_H  := $(notdir $(shell grep -lE '$(MUSL_BAD_RE)' lib/*.h src/*/*.h 2>/dev/null))
MUSL_BAD_RE2 := $(MUSL_BAD_RE)$(foreach h,$(MUSL_BAD_H),|"$(subst .,\.,$(h))")
MUSL_BAD_SRC := $(shell grep -lE '$(MUSL_BAD_RE2)' src/*.c src/*/*.c lib/*.c 2>/dev/null)
MUSL_BAD_PROGS := $(sort $(foreach f,$(filter src/%,$(MUSL_BAD_SRC)),\
                  $(firstword $(subst /, ,$(patsubst src/%,%,$(basename $(f)))))))
MUSL_PROGS :=
ifeq ($(SAN)$(filter 1,$(FUZZ))$(MUSL),01)
ifneq ($(MUSL_CC),)
MUSL_PROGS := $(filter-out $(MUSL_BAD_PROGS) $(patsubst LDLIBS_%,%,$(filter LDLIBS_%,$(.VARIABLES))),\
              $(PROGS))
endif
endif
MUSL_LIB_OBJ := $(patsubst lib/%.c,$(BUILDDIR)/musl/lib/%.o,$(filter-out $(MUSL_BAD_SRC),$(LIB_SRC)))
MUSL_LIB_A   := $(BUILDDIR)/musl/libnq.a
# libcdb and libcrypt are not there under musl (crypt() is in its libc).
MUSL_LDLIBS  := $(filter-out -lcdb -lcrypt,$(LDLIBS))

.PHONY: all install run test unit it deps clean check-build format fuzz-build fuzz-smoke fuzz-progs faults
all: $(BINS)

# auto.h carries the install root; it is rewritten only when PREFIX changes,
# so that a rebuild for another root recompiles what depends on it.
$(BUILDDIR)/auto.h: FORCE
	@mkdir -p $(BUILDDIR)
	@printf '#define AUTO_PREFIX "%s"\n#define AUTO_PATRN 022\n' '$(PREFIX)' > $@.tmp
	@cmp -s $@.tmp $@ && rm -f $@.tmp || mv $@.tmp $@
FORCE:

$(BUILDDIR)/lib/%.o: lib/%.c lib/*.h $(BUILDDIR)/auto.h
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(LIB_A): $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILDDIR)/obj/%.o: src/%.c lib/*.h $(BUILDDIR)/auto.h
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -Isrc/$(firstword $(subst /, ,$*)) -c -o $@ $<

.SECONDEXPANSION:
$(filter-out $(MUSL_PROGS:%=$(BUILDDIR)/bin/%),$(PROG_ONE:%=$(BUILDDIR)/bin/%)): $(BUILDDIR)/bin/%: $(BUILDDIR)/obj/%.o $(LIB_A)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) $(if $(filter $*,$(STATIC_PROGS)),$(STATIC_LDFLAGS)) -o $@ $^ $(LDLIBS_$*) $(LDLIBS)

# (No '%' in the object list: a static pattern rule would replace it with
# the stem before the secondary expansion runs.)
$(filter-out $(MUSL_PROGS:%=$(BUILDDIR)/bin/%),$(PROG_DIR:%=$(BUILDDIR)/bin/%)): $(BUILDDIR)/bin/%: \
		$$(addprefix $(BUILDDIR)/obj/,$$(subst src/,,$$(addsuffix .o,$$(basename \
		$$(wildcard src/$$*/*.c))))) $(LIB_A)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) $(if $(filter $*,$(STATIC_PROGS)),$(STATIC_LDFLAGS)) -o $@ $^ $(LDLIBS_$*) $(LDLIBS)

# The musl programs: the same sources compiled again with $(MUSL_CC),
# against a musl build of the library.
$(BUILDDIR)/musl/lib/%.o: lib/%.c lib/*.h $(BUILDDIR)/auto.h
	@mkdir -p $(@D)
	$(MUSL_CC) $(ALL_CFLAGS) -c -o $@ $<

$(MUSL_LIB_A): $(MUSL_LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILDDIR)/musl/obj/%.o: src/%.c lib/*.h $(BUILDDIR)/auto.h
	@mkdir -p $(@D)
	$(MUSL_CC) $(ALL_CFLAGS) -Isrc/$(firstword $(subst /, ,$*)) -c -o $@ $<

$(filter $(MUSL_PROGS:%=$(BUILDDIR)/bin/%),$(PROG_ONE:%=$(BUILDDIR)/bin/%)): $(BUILDDIR)/bin/%: \
		$(BUILDDIR)/musl/obj/%.o $(MUSL_LIB_A)
	@mkdir -p $(@D)
	$(MUSL_CC) $(LDFLAGS) -static -o $@ $^ $(MUSL_LDLIBS)

$(filter $(MUSL_PROGS:%=$(BUILDDIR)/bin/%),$(PROG_DIR:%=$(BUILDDIR)/bin/%)): $(BUILDDIR)/bin/%: \
		$$(addprefix $(BUILDDIR)/musl/obj/,$$(subst src/,,$$(addsuffix .o,$$(basename \
		$$(wildcard src/$$*/*.c))))) $(MUSL_LIB_A)
	@mkdir -p $(@D)
	$(MUSL_CC) $(LDFLAGS) -static -o $@ $^ $(MUSL_LDLIBS)

$(SCRIPTS:%=$(BUILDDIR)/bin/%): $(BUILDDIR)/bin/%: src/%.sh $(BUILDDIR)/auto.h
	@mkdir -p $(@D)
	sed 's|@PREFIX@|$(PREFIX)|g' $< > $@.tmp && chmod 755 $@.tmp && mv $@.tmp $@

$(BUILDDIR)/tests/%: tests/unit/%.c $(LIB_A)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $< $(LIB_A) -lcheck -lsubunit -lm -lrt -lpthread $(LDLIBS)

# libFuzzer targets (fuzz/fuzz_NAME.c), built with clang, ASan and UBSan.
build/fuzz/bin/%: fuzz/%.c fuzz/*.h $(LIB_A)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -fsanitize=fuzzer $(LDFLAGS) -o $@ $< $(LIB_A) $(LDLIBS)

fuzz-build:
	$(MAKE) CC=clang SAN=1 FUZZ=1 BUILDDIR=build/fuzz $(FUZZ_BINS)

# fuzz_smtpd and fuzz_inject run the real programs, built with the
# sanitizers and installed in a root of their own (build/fuzz/root).
fuzz-progs:
	$(MAKE) SAN=1 BUILDDIR=build/fuzz/prog PREFIX=$(CURDIR)/build/fuzz/root all
	NQ_INSTALL_MODE=user sh scripts/install.sh build/fuzz/prog '$(CURDIR)/build/fuzz/root' >/dev/null
	echo fuzz.example > build/fuzz/root/control/me
	printf 'example.com\nexample.org\n' > build/fuzz/root/control/rcpthosts

# A short bounded run of every target over its committed seeds (make test).
fuzz-smoke: fuzz-build fuzz-progs
	@for t in $(FUZZ_BINS); do n=$${t##*/fuzz_}; mkdir -p build/fuzz/corpus/$$n; \
	  echo "== fuzz $$n ($(FUZZ_SECONDS) s)"; \
	  $$t -max_total_time=$(FUZZ_SECONDS) -max_len=65536 -timeout=10 \
	    -artifact_prefix=build/fuzz/ build/fuzz/corpus/$$n fuzz/corpus/$$n 2>build/fuzz/$$n.log \
	    || { tail -n 30 build/fuzz/$$n.log; exit 1; }; \
	  tail -n 1 build/fuzz/$$n.log; done

# SENDMAIL=1 also links /usr/sbin/sendmail to PREFIX/bin/sendmail.
install: all
	SENDMAIL='$(SENDMAIL)' sh scripts/install.sh '$(BUILDDIR)' '$(DESTDIR)$(PREFIX)' '$(PREFIX)'

# make run: a local instance under build/run (scripts/run.sh) on
# 127.0.0.1:$(PORT), with submission (AUTH) on SUBMISSION_PORT (STARTTLS)
# and SMTPS_PORT (implicit TLS), by default PORT+1 and PORT+2; Ctrl-C
# stops it, running it again reuses it.
PORT     ?= 2525
SUBMISSION_PORT ?=
SMTPS_PORT ?=
INSTANCE ?= $(CURDIR)/build/run
run:
	$(MAKE) install BUILDDIR='$(INSTANCE)/build' PREFIX='$(INSTANCE)/root' NQ_INSTALL_MODE=user SENDMAIL=0
	@sh scripts/run.sh '$(INSTANCE)/root' '$(PORT)' '$(SUBMISSION_PORT)' '$(SMTPS_PORT)'

# One build-and-test pass: BUILDDIR and PREFIX say which.
check-build: all $(UNIT_BINS)
	NQ_INSTALL_MODE=user sh scripts/install.sh '$(BUILDDIR)' '$(PREFIX)'
	@for t in $(UNIT_BINS); do echo "== $$t"; CK_FORK=yes $$t || exit 1; done
	NQ_PREFIX='$(PREFIX)' NQ_BUILDDIR='$(BUILDDIR)' NQ_SAN='$(SAN)' \
	  /usr/bin/python3 -m pytest -q -p no:cacheprovider tests/it $(PYTEST_ARGS)

# Fault injection (tests/faults: SIGKILLs, full disks, write and fsync
# errors) against an installed build; make test runs it in the normal pass
# only. What it counted goes to build/faults-report.txt.
faults: all
	NQ_INSTALL_MODE=user sh scripts/install.sh '$(BUILDDIR)' '$(PREFIX)'
	@mkdir -p build && rm -f build/faults-report.txt
	NQ_PREFIX='$(PREFIX)' NQ_BUILDDIR='$(BUILDDIR)' NQ_SAN='$(SAN)' \
	  NQ_FAULTS_REPORT='$(CURDIR)/build/faults-report.txt' \
	  /usr/bin/python3 -m pytest -q -p no:cacheprovider tests/faults $(FAULTS_ARGS)
	@cat build/faults-report.txt

deps:
	@sh scripts/deps.sh

test: deps
	$(MAKE) check-build BUILDDIR=build/test PREFIX=$(CURDIR)/build/test/root SAN=0
	$(MAKE) faults BUILDDIR=build/test PREFIX=$(CURDIR)/build/test/root SAN=0
	$(MAKE) check-build BUILDDIR=build/san PREFIX=$(CURDIR)/build/san/root SAN=1
	$(MAKE) fuzz-smoke

unit: $(UNIT_BINS)
	@for t in $(UNIT_BINS); do $$t || exit 1; done

format:
	clang-format -i lib/*.c lib/*.h src/*.c $(wildcard src/*/*.c src/*/*.h) tests/unit/*.c

clean:
	rm -rf build
