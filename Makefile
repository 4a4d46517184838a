# shmwrite, shmread - see README.md
VERSION = 1.0

PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
MANPREFIX ?= $(PREFIX)/share/man

CFLAGS ?= -O2 -g
CFLAGS += -std=c11 -Wall -Wextra -Wpedantic -Wshadow
CPPFLAGS += -D_GNU_SOURCE -DVERSION=\"$(VERSION)\"
LDLIBS += -pthread -lrt

BATS ?= bats
JOBS ?= 2
BIN = shmwrite shmread
MAN = man/shmwrite.1 man/shmread.1
SH = tests/helper.bash tests/*.sh .ci/run

all: $(BIN)

shmwrite: shmwrite.c common.h
	$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ shmwrite.c $(LDLIBS)

shmread: shmread.c common.h
	$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ shmread.c $(LDLIBS)

check: all lint
	$(BATS) --jobs $(JOBS) tests

# The same suite against AddressSanitizer and UBSan builds (needs clang).
check-sanitize:
	$(MAKE) clean
	$(MAKE) CC=clang CFLAGS="-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all"
	TMULT=3 ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 \
	    UBSAN_OPTIONS=print_stacktrace=1 $(BATS) --jobs $(JOBS) tests
	$(MAKE) clean

check-valgrind: all
	SHM_VALGRIND=1 $(BATS) tests/basic.bats tests/stream.bats

lint:
	groff -mandoc -ww -z $(MAN)
	if command -v mandoc >/dev/null; then mandoc -Tlint -Wwarning $(MAN); fi
	cppcheck -q --error-exitcode=1 --enable=warning,style,performance,portability --suppress=variableScope \
	    --inline-suppr -D_GNU_SOURCE shmwrite.c shmread.c
	clang-tidy -quiet --warnings-as-errors='*' \
	    --checks='-*,bugprone-*,cert-*,clang-analyzer-*,misc-*,-bugprone-easily-swappable-parameters,-cert-err33-c,-misc-include-cleaner,-clang-analyzer-security.insecureAPI.DeprecatedOrUnsafeBufferHandling' \
	    shmwrite.c shmread.c -- $(CPPFLAGS) -std=c11
	shellcheck -x $(SH) tests/*.bats

demo: all
	sh tests/demo.sh

bench: all
	bash tests/bench.sh

install: all
	mkdir -p $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANPREFIX)/man1
	cp -f $(BIN) $(DESTDIR)$(BINDIR)
	cp -f $(MAN) $(DESTDIR)$(MANPREFIX)/man1

uninstall:
	cd $(DESTDIR)$(BINDIR) && rm -f $(BIN)
	cd $(DESTDIR)$(MANPREFIX)/man1 && rm -f shmwrite.1 shmread.1

clean:
	rm -f $(BIN)

.PHONY: all bench check check-sanitize check-valgrind clean demo install lint uninstall
