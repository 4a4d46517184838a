# shmwrite, shmread - see README.md
PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
MANPREFIX ?= $(PREFIX)/share/man

CFLAGS ?= -O2 -g
CFLAGS += -std=c11 -Wall -Wextra -Wpedantic -Wshadow
CPPFLAGS += -D_GNU_SOURCE
LDLIBS += -pthread -lrt

BIN = shmwrite shmread
# the test build: the same tools with the injection points of common.h
INJ = tests/inject/shmwrite tests/inject/shmread
MAN = man/shmwrite.1 man/shmread.1
SH = tests/helper.bash tests/*.sh tests/need tests/mutate .ci/run
JOBS ?= 2
# The sanitizer build lives apart, so that it leaves the user's build alone.
SANDIR = tests/sanitize
SANFLAGS = -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer \
	-fno-sanitize-recover=all -DSHM_INJECT
TSANFLAGS = -O1 -g -fsanitize=thread -fno-omit-frame-pointer

# bats, in parallel when GNU parallel is there (PARALLEL: its options)
BATS = PARALLEL=--will-cite bats $$(command -v parallel >/dev/null && \
	echo --jobs $(JOBS))

all: $(BIN)

$(BIN): %: %.c common.h
	$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $< $(LDLIBS)

$(INJ): tests/inject/%: %.c common.h
	@mkdir -p tests/inject
	$(CC) $(CPPFLAGS) -DSHM_INJECT $(CFLAGS) $(LDFLAGS) -o $@ $< $(LDLIBS)

# prints the segment's layout for the tests, from the C struct itself
tests/layout: tests/layout.c common.h
	$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ tests/layout.c $(LDLIBS)

# a writer and a reader as two threads on one mapping, under ThreadSanitizer
tests/tsan: tests/tsan.c common.h
	clang $(CPPFLAGS) $(TSANFLAGS) -o $@ tests/tsan.c $(LDLIBS)

check: all tests/layout $(INJ)
	@sh tests/need bats:bats '?parallel:parallel' python3:python3
	@if command -v clang >/dev/null; then $(MAKE) -s tests/tsan; else \
	    echo "check: no clang: the ThreadSanitizer test is skipped"; fi
	$(BATS) tests

# The same suite against AddressSanitizer and UBSan builds (needs clang).
check-sanitize: tests/layout
	@sh tests/need bats:bats '?parallel:parallel' python3:python3 clang:clang
	$(MAKE) -s tests/tsan
	mkdir -p $(SANDIR)
	for p in $(BIN); do \
	    clang $(CPPFLAGS) $(SANFLAGS) -o $(SANDIR)/$$p $$p.c $(LDLIBS) || exit; \
	done
	SHMBIN=$(CURDIR)/$(SANDIR) SHMIBIN=$(CURDIR)/$(SANDIR) TMULT=3 \
	    ASAN_OPTIONS=detect_leaks=1 \
	    UBSAN_OPTIONS=print_stacktrace=1 $(BATS) tests

check-valgrind: all tests/layout $(INJ)
	@sh tests/need bats:bats valgrind:valgrind
	SHM_VALGRIND=1 $(BATS) tests/basic.bats tests/stream.bats tests/sync.bats \
	    tests/timeout.bats

lint:
	@sh tests/need groff:groff-base mandoc:mandoc cppcheck:cppcheck \
	    clang-tidy:clang-tidy shellcheck:shellcheck
	groff -mandoc -ww -z $(MAN)
	mandoc -Tlint -Wwarning $(MAN)
	cppcheck -q --error-exitcode=1 --enable=warning,style,performance,portability --suppress=variableScope \
	    --inline-suppr -D_GNU_SOURCE shmwrite.c shmread.c
	clang-tidy -quiet --warnings-as-errors='*' \
	    --checks='-*,bugprone-*,cert-*,clang-analyzer-*,misc-*,-bugprone-easily-swappable-parameters,-cert-err33-c,-misc-include-cleaner,-clang-analyzer-security.insecureAPI.DeprecatedOrUnsafeBufferHandling' \
	    shmwrite.c shmread.c -- $(CPPFLAGS) -std=c11
	shellcheck -x $(SH) tests/*.bats

demo: all
	sh tests/demo.sh

# the anchors make bench measures the tools against
tests/anchor: tests/anchor.c
	$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ tests/anchor.c $(LDLIBS)

bench: all tests/anchor
	@sh tests/need mbuffer:mbuffer time:time taskset:util-linux
	bash tests/bench.sh

# one-line mutants of common.h, each run against the suite (slow)
mutate: all
	@sh tests/need bats:bats '?parallel:parallel' python3:python3
	bash tests/mutate

install: all
	mkdir -p $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANPREFIX)/man1
	install -m 755 $(BIN) $(DESTDIR)$(BINDIR)
	install -m 644 $(MAN) $(DESTDIR)$(MANPREFIX)/man1

uninstall:
	cd $(DESTDIR)$(BINDIR) && rm -f $(BIN)
	cd $(DESTDIR)$(MANPREFIX)/man1 && rm -f shmwrite.1 shmread.1

clean:
	rm -f $(BIN) tests/layout tests/anchor tests/tsan
	rm -rf $(SANDIR) tests/inject

.PHONY: all bench check check-sanitize check-valgrind clean demo install lint mutate \
	uninstall
