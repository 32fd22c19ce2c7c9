# Nano Banana platform.  `make` builds the gateway module and every backend,
# `make <app>` one backend, `make run` the whole stack, `make test` the tests.

# nginx's configure, which builds the gateway module, breaks on a build
# folder with a space in its path: say so before anything starts.
ifneq ($(words $(CURDIR)),1)
$(error the checkout's path "$(CURDIR)" has a space in it; nginx's build cannot work there: clone or move it to a path without spaces (the media folder, STACK_MEDIA_DIR, may have spaces))
endif

# The platform and every module of the registry (modules.conf; CRLF's
# "\r" dropped, or a blank line's would be a module).
APPS      := platform $(shell sed -e 's/\r$$//' -e 's/\#.*//' modules.conf | awk 'NF { print $$1 }')
B         := build
NGINX_SRC ?= /usr/share/nginx/src

CFLAGS    ?= -O2 -g
WARNINGS  := -Wall -Wextra -Wshadow -Wmissing-prototypes
CPPFLAGS  += -D_GNU_SOURCE -Ingx_nano_auth_module -Ibackends/lib \
             -I$(shell pg_config --includedir 2>/dev/null || echo /usr/include/postgresql)
LDLIBS    := -lfcgi -ljansson -lpq -ljwt -lcurl -lcrypto -lcrypt -lunistring \
             -lidn2 \
             -lpng -lvpx -ljpeg -lwebp -lm \
             -lpthread

# Token and cookie code is shared by the gateway (verifier) and backends.
TOKEN_SRC := ngx_nano_auth_module/nano_token.c \
             ngx_nano_auth_module/nano_jose.c \
             ngx_nano_auth_module/nano_jwe.c \
             ngx_nano_auth_module/nano_cookie.c \
             ngx_nano_auth_module/nano_token_issue.c \
             ngx_nano_auth_module/nano_utf8.c \
             ngx_nano_auth_module/nano_revoke.c
LIB_SRC   := $(TOKEN_SRC) $(wildcard backends/lib/*.c)
LIB_OBJ   := $(patsubst %.c,$(B)/obj/%.o,$(LIB_SRC))
LIBNANO   := $(B)/lib/libnano.a

# The migration runner and linter (linter objects are unit-tested too).
SQLTOOL_SRC  := $(filter-out sql/tool/nano_migrate.c,$(wildcard sql/tool/*.c))
SQLTOOL_OBJ  := $(patsubst %.c,$(B)/obj/%.o,$(SQLTOOL_SRC))

UNIT_SRC  := $(wildcard tests/unit/test_*.c)
UNIT_BIN  := $(patsubst tests/unit/%.c,$(B)/tests/%,$(UNIT_SRC))

MODULE_SO := $(B)/modules/ngx_http_nano_auth_module.so
MODULE_SRC := $(wildcard ngx_nano_auth_module/*.c ngx_nano_auth_module/*.h) \
              ngx_nano_auth_module/config

.PHONY: all module apps tools deps run test unit clean new-module $(APPS) \
        install install-platform install-module deb deps-deb deb-test \
        fresh-test

all: module apps tools

apps: $(APPS)

module: $(MODULE_SO)

$(MODULE_SO): $(MODULE_SRC) scripts/build-module.sh
	scripts/build-module.sh "$(NGINX_SRC)" $(B)/nginx $@

$(B)/obj/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(WARNINGS) -MMD -MP -c $< -o $@

$(LIBNANO): $(LIB_OBJ)
	@mkdir -p $(@D)
	rm -f $@ && ar rcs $@ $^

# One rule per app: backends/<app>/*.c -> build/bin/nano-<app>.
define APP_RULE
$(1): $(B)/bin/nano-$(1)
$(B)/bin/nano-$(1): $(patsubst %.c,$(B)/obj/%.o,$(wildcard backends/$(1)/*.c)) $(LIBNANO)
	@mkdir -p $$(@D)
	$$(CC) $$(LDFLAGS) -o $$@ $$^ $$(LDLIBS)
endef
$(foreach a,$(APPS),$(eval $(call APP_RULE,$(a))))

tools: $(B)/bin/nano-migrate $(B)/bin/nano-admin $(B)/bin/nano-token \
       $(B)/bin/nano-offline $(B)/bin/nano-provider $(B)/bin/nano-testapp \
       $(B)/lib/nano-clockskew.so $(B)/lib/nano-slowlisten.so

# The operator's command line (admin/README.md).
$(B)/bin/nano-admin: $(patsubst %.c,$(B)/obj/%.o,$(wildcard admin/*.c)) \
                     $(LIBNANO)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(B)/bin/nano-migrate: $(B)/obj/sql/tool/nano_migrate.o $(SQLTOOL_OBJ) $(LIBNANO)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# Test helper: signs arbitrary claims with a key file (tests and bench).
$(B)/bin/nano-token: $(B)/obj/tests/tools/nano_token_cli.o $(LIBNANO)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# The offline providers from the command line (tests, and a look by hand).
$(B)/bin/nano-offline: $(B)/obj/tests/tools/nano_offline_cli.o $(LIBNANO)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# The wire formats from the command line (tests against the fake providers).
$(B)/bin/nano-provider: $(B)/obj/tests/tools/nano_provider_cli.o $(LIBNANO)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# Test app: a libnano app with routes for tests/integration/runtime.test.mjs
# (never deployed).
$(B)/bin/nano-testapp: $(B)/obj/tests/tools/nano_testapp.o $(LIBNANO)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# Test helper: a process's wall clock set off (LD_PRELOAD), so that the
# lease tests can run a host whose clock is wrong (never deployed).
$(B)/lib/nano-clockskew.so: tests/tools/nano_clockskew.c
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(WARNINGS) -fPIC -shared -o $@ $< -ldl

# Test helper: each listen() waits NANO_LISTEN_DELAY_MS (LD_PRELOAD), for
# runtime.test.mjs's socket that must not appear before it listens.
$(B)/lib/nano-slowlisten.so: tests/tools/nano_slowlisten.c
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(WARNINGS) -fPIC -shared -o $@ $< -ldl

$(B)/tests/test_%: $(B)/obj/tests/unit/test_%.o $(SQLTOOL_OBJ) $(LIBNANO)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ -lcmocka $(LDLIBS)

unit: $(UNIT_BIN)
	@scripts/unit.sh $(UNIT_BIN)

deps:
	@scripts/deps.sh

run: deps
	@$(MAKE) --no-print-directory all
	@env --default-signal=INT,TERM,HUP scripts/run.sh

test: deps
	@$(MAKE) --no-print-directory all $(UNIT_BIN)
	@scripts/test.sh

# make install DESTDIR=… PREFIX=…: the files of the Debian packages, laid
# out for any distribution (docs/OPERATIONS.md); then run
# $(PREFIX)/lib/nano/nano-setup on the target.
PREFIX        ?= /usr/local
SYSCONFDIR    ?= /etc
UNITDIR       ?= $(PREFIX)/lib/systemd/system
NGINX_CONFDIR ?= /etc/nginx
NGINX_MODDIR  ?= $(PREFIX)/lib/nginx/modules
INSTALL_ENV = DESTDIR="$(DESTDIR)" PREFIX="$(PREFIX)" SYSCONFDIR="$(SYSCONFDIR)" \
              UNITDIR="$(UNITDIR)" NGINX_CONFDIR="$(NGINX_CONFDIR)" \
              NGINX_MODDIR="$(NGINX_MODDIR)" B="$(B)"

install: install-module install-platform

install-platform: apps $(B)/bin/nano-migrate $(B)/bin/nano-admin
	@$(INSTALL_ENV) scripts/install.sh platform

install-module: $(MODULE_SO)
	@$(INSTALL_ENV) scripts/install.sh module

# make deb: both Debian packages into build/deb/ (dpkg-buildpackage in a
# copy of the tree).  make deb-test: installs them into a clean Debian 12
# chroot and serves a protected module (slow: not part of make test).
deps-deb:
	@scripts/deps.sh deb

deb: deps-deb
	@scripts/deb.sh

deb-test: deb
	@scripts/deb-test.sh

# make fresh-test: `make test` in a clone of HEAD inside a clean Debian 12
# chroot that has only make, git and ca-certificates (slow, about 30 min).
fresh-test:
	@scripts/fresh-test.sh

# make new-module NAME=<name> KIND=image|text|video [TITLE="…"]
# The values as written, single-quoted for the shell: make expands its
# command line's variables where a recipe uses them, so "$5" in a title
# was dropped and "$(shell …)" run.
shquote = '$(subst ','\'',$(value $(1)))'
new-module:
	@NAME=$(call shquote,NAME) KIND=$(call shquote,KIND) \
	    TITLE=$(call shquote,TITLE) scripts/new-module.sh

# make print-VAR: a variable's value (tests/fuzz/run.sh builds its
# harnesses with CPPFLAGS, WARNINGS and LDLIBS as every program has them).
print-%:
	@echo $($*)

clean:
	rm -rf $(B)

-include $(shell find $(B)/obj -name '*.d' 2>/dev/null)
