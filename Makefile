# C library targets only (libscfruntime); everything else builds with cargo.
#
#   make lib                          cargo build --release -p scfruntime-ffi
#   make install PREFIX=/usr/local    lib + install the .so (with soname links), .a, header, .pc
#   make uninstall PREFIX=/usr/local
#
# DESTDIR is honoured for staging; LIBDIR and INCLUDEDIR default to PREFIX/lib and
# PREFIX/include. CARGO_TARGET_DIR (environment or make variable) says where cargo builds.

PREFIX     ?= /usr/local
LIBDIR     ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
DESTDIR    ?=
CARGO      ?= cargo
CARGO_TARGET_DIR ?= target

RELEASE := $(CARGO_TARGET_DIR)/release
HEADER  := include/scfruntime.h
# The version comes from the generated header, which a test keeps equal to Cargo.toml's.
MAJOR   := $(shell sed -n 's/^\#define SCF_VERSION_MAJOR //p' $(HEADER))
MINOR   := $(shell sed -n 's/^\#define SCF_VERSION_MINOR //p' $(HEADER))
PATCH   := $(shell sed -n 's/^\#define SCF_VERSION_PATCH //p' $(HEADER))
VERSION := $(MAJOR).$(MINOR).$(PATCH)
SONAME  := libscfruntime.so.$(MAJOR)

.PHONY: lib install uninstall

lib:
	CARGO_TARGET_DIR=$(CARGO_TARGET_DIR) $(CARGO) build --release -p scfruntime-ffi

install: lib
	install -d $(DESTDIR)$(LIBDIR)/pkgconfig $(DESTDIR)$(INCLUDEDIR)
	install -m 644 $(RELEASE)/libscfruntime.a $(DESTDIR)$(LIBDIR)/libscfruntime.a
	install -m 755 $(RELEASE)/libscfruntime.so $(DESTDIR)$(LIBDIR)/libscfruntime.so.$(VERSION)
	ln -sf libscfruntime.so.$(VERSION) $(DESTDIR)$(LIBDIR)/$(SONAME)
	ln -sf $(SONAME) $(DESTDIR)$(LIBDIR)/libscfruntime.so
	install -m 644 $(HEADER) $(DESTDIR)$(INCLUDEDIR)/scfruntime.h
	sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@LIBDIR@|$(LIBDIR)|g' \
	    -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|g' -e 's|@VERSION@|$(VERSION)|g' \
	    ffi/scfruntime.pc.in > $(DESTDIR)$(LIBDIR)/pkgconfig/scfruntime.pc

uninstall:
	rm -f $(DESTDIR)$(LIBDIR)/libscfruntime.a $(DESTDIR)$(LIBDIR)/libscfruntime.so \
	      $(DESTDIR)$(LIBDIR)/$(SONAME) $(DESTDIR)$(LIBDIR)/libscfruntime.so.$(VERSION) \
	      $(DESTDIR)$(INCLUDEDIR)/scfruntime.h $(DESTDIR)$(LIBDIR)/pkgconfig/scfruntime.pc
