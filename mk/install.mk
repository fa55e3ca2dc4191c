# SPDX-License-Identifier: MIT
#
# Manual pages and installation:
#   make man                         $(BUILD)/man/kstapled.8, kstapled.conf.5
#   make install [PREFIX=/usr] [DESTDIR=]
#   make uninstall [PREFIX=...] [DESTDIR=]
#
# kstapled.conf(5) is doc/kstapled.conf.5.in with its option table
# generated from the daemon's own option list (`kstapled --options man`),
# so the manual cannot drift from the code.
#
# Where files go (each directory can be overridden on the command line):
#   PREFIX=/usr (the default: Debian's layout, what the README's next
#   steps and kstapled(8) assume)
#     /usr/sbin/kstapled, /etc/kstapled/kstapled.conf.example,
#     kstapled.{service,socket} in systemd's unit directory, sysusers.d,
#     tmpfiles.d and modules-load.d files in systemd's directories (each
#     as `pkg-config --variable=... systemd` says: /lib/systemd/system on
#     bookworm, /usr/lib/systemd/system on trixie; /usr/lib/*.d),
#     /usr/share/man/man{5,8}
#   PREFIX=/usr/local (or any other: everything under the prefix)
#     /usr/local/sbin/kstapled, /usr/local/lib/systemd/system/,
#     /usr/local/lib/{sysusers,tmpfiles,modules-load}.d/,
#     /usr/local/etc/kstapled/, /usr/local/share/man/
# systemd, systemd-sysusers, systemd-tmpfiles and systemd-modules-load all
# search the /usr/local/lib directories. The files in dist/ and doc/ are
# written for PREFIX=/usr; install rewrites /usr/sbin/kstapled and
# /etc/kstapled in them to SBINDIR and SYSCONFDIR, so the unit starts
# the binary that was installed, with the configuration beside it.
# Nothing is compressed (a package may gzip the manual pages).

PREFIX ?= /usr
KST_PREFIX := $(patsubst %/,%,$(PREFIX))
SBINDIR ?= $(KST_PREFIX)/sbin
# $(call kst_systemd_dir,VARIABLE,FALLBACK): systemd.pc's directory
kst_systemd_dir = $(or $(shell $(PKG_CONFIG) --variable=$(1) systemd 2>/dev/null),$(2))
ifeq ($(KST_PREFIX),/usr)
SYSCONFDIR ?= /etc
UNITDIR ?= $(call kst_systemd_dir,systemdsystemunitdir,/lib/systemd/system)
SYSUSERSDIR ?= $(call kst_systemd_dir,sysusersdir,/usr/lib/sysusers.d)
TMPFILESDIR ?= $(call kst_systemd_dir,tmpfilesdir,/usr/lib/tmpfiles.d)
MODULESLOADDIR ?= $(call kst_systemd_dir,modulesloaddir,/usr/lib/modules-load.d)
else
SYSCONFDIR ?= $(KST_PREFIX)/etc
UNITDIR ?= $(KST_PREFIX)/lib/systemd/system
SYSUSERSDIR ?= $(KST_PREFIX)/lib/sysusers.d
TMPFILESDIR ?= $(KST_PREFIX)/lib/tmpfiles.d
MODULESLOADDIR ?= $(KST_PREFIX)/lib/modules-load.d
endif
MANDIR ?= $(KST_PREFIX)/share/man
INSTALL ?= install

MAN_PAGES := $(BUILD)/man/kstapled.8 $(BUILD)/man/kstapled.conf.5

# ---------------------------------------------------------------- man
# The generated table as roff: backslashes escaped, a text line that
# would read as a request guarded, `code` spans bold, hyphens in names,
# values and code spans made minus signs (so they copy and paste), break
# points after the colons of long values (cipher lists), left-adjusted
# (groff 1.23 warns "cannot adjust line" on a justified line without
# spaces), and the type line on a line of its own.
KST_MAN_TABLE := perl -pe ' \
	s/\\/\\e/g; \
	$$_ = "\\&$$_" if /^[.\x27]/ && !/^\.(SS|TP|B)\b/; \
	s/-/\\-/g if /^(\.B |\()/; \
	s/:(?=\S)/:\\:/g if /^\(/; \
	$$_ .= ".br\n" if /^\(/; \
	$$_ = ".na\n$$_.ad\n" if /^\(.*:\\:/; \
	s{`([^`]*)`}{(my $$c = $$1) =~ s/-/\\-/g; "\\fB$$c\\fR"}ge'

$(BUILD)/man/kstapled.8: doc/kstapled.8 | $(BUILD)/.dirs
	@mkdir -p $(@D)
	$(if $(Q),@echo "  MAN     $@")
	$(Q)cp $< $@

$(BUILD)/man/kstapled.conf.5: doc/kstapled.conf.5.in $(KSTAPLED) \
		mk/install.mk | $(BUILD)/.dirs
	@mkdir -p $(@D)
	$(if $(Q),@echo "  MAN     $@")
	$(Q)$(KSTAPLED) --options man | $(KST_MAN_TABLE) >$@.options
	$(Q)grep -qx '@KST_OPTIONS@' $< || \
		{ echo "$<: no @KST_OPTIONS@ line" >&2; exit 1; }
	$(Q)sed -e '/^@KST_OPTIONS@$$/{r $@.options' -e 'd' -e '}' $< >$@.tmp
	$(Q)rm -f $@.options && mv $@.tmp $@

# ---------------------------------------------------------------- install
KST_SUBST := sed -e 's|/usr/sbin/kstapled|$(SBINDIR)/kstapled|g' \
	-e 's|/etc/kstapled|$(SYSCONFDIR)/kstapled|g'

# $(call kst_inst,SOURCE,PATH[,DIRMODE]): SOURCE with the paths
# rewritten, installed as DESTDIR/PATH, mode 0644; its directory is made
# with DIRMODE (default 0755). PATH may follow a continuation line.
define kst_inst
	$(Q)$(INSTALL) -d -m $(or $(strip $(3)),0755) $(DESTDIR)$(dir $(strip $(2)))
	$(Q)$(KST_SUBST) $(1) >$(DESTDIR)$(strip $(2)).tmp
	$(Q)chmod 0644 $(DESTDIR)$(strip $(2)).tmp
	$(Q)mv -f $(DESTDIR)$(strip $(2)).tmp $(DESTDIR)$(strip $(2))
endef

KST_INSTALLED := $(SBINDIR)/kstapled $(UNITDIR)/kstapled.service \
	$(UNITDIR)/kstapled.socket $(SYSUSERSDIR)/kstapled.conf \
	$(TMPFILESDIR)/kstapled.conf $(MODULESLOADDIR)/kstapled.conf \
	$(SYSCONFDIR)/kstapled/kstapled.conf.example \
	$(MANDIR)/man8/kstapled.8 $(MANDIR)/man5/kstapled.conf.5

.PHONY: man install uninstall
man: $(MAN_PAGES)

# tests/integration/test_dist.c reads the pages: build them before the
# integration tests run rather than inside them.
integration: $(MAN_PAGES)

install: $(KSTAPLED) $(MAN_PAGES)
	$(if $(Q),@echo "  INSTALL $(DESTDIR)$(KST_PREFIX)")
	$(Q)$(INSTALL) -d -m 0755 $(DESTDIR)$(SBINDIR)
	$(Q)$(INSTALL) -m 0755 $(KSTAPLED) $(DESTDIR)$(SBINDIR)/kstapled
	$(call kst_inst,dist/kstapled.service,$(UNITDIR)/kstapled.service)
	$(call kst_inst,dist/kstapled.socket,$(UNITDIR)/kstapled.socket)
	$(call kst_inst,dist/sysusers.d/kstapled.conf,$(SYSUSERSDIR)/kstapled.conf)
	$(call kst_inst,dist/tmpfiles.d/kstapled.conf,$(TMPFILESDIR)/kstapled.conf)
	$(call kst_inst,dist/modules-load.d/kstapled.conf,\
		$(MODULESLOADDIR)/kstapled.conf)
	$(call kst_inst,dist/kstapled.conf.example,\
		$(SYSCONFDIR)/kstapled/kstapled.conf.example,0750)
	$(call kst_inst,$(BUILD)/man/kstapled.8,$(MANDIR)/man8/kstapled.8)
	$(call kst_inst,$(BUILD)/man/kstapled.conf.5,\
		$(MANDIR)/man5/kstapled.conf.5)
	$(if $(DESTDIR),,$(Q)echo "kstapled installed; then:" \
		"systemd-sysusers, systemd-tmpfiles --create kstapled.conf," \
		"modprobe tls, systemctl daemon-reload (kstapled(8), EXAMPLES)")

# Leaves $(SYSCONFDIR)/kstapled (the operator's configuration and keys)
# and /var/lib/kstapled alone.
uninstall:
	$(Q)rm -f $(addprefix $(DESTDIR),$(KST_INSTALLED))
