# C library targets only (libscfruntime); everything else builds with cargo.
#
#   make lib                          cargo build --release -p scfruntime-ffi
#   make install PREFIX=/usr/local    lib + install the .so (with soname links), .a, header, .pc
#   make uninstall PREFIX=/usr/local
#   make dist                         dist/scfruntime-VERSION-x86_64-linux-glibc2.17.tar.gz: the
#                                     glibc-2.17 libscfruntime.so/.a (scripts/portable-build.sh),
#                                     header, relocatable .pc and a README (ffi/DIST-README.md)
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

# Where scripts/portable-build.sh puts its glibc-2.17 builds, and where `make dist` writes.
PORTABLE ?= $(CARGO_TARGET_DIR)/portable
DIST_DIR ?= dist
DIST_NAME := scfruntime-$(VERSION)-x86_64-linux-glibc2.17

.PHONY: lib install uninstall dist

lib:
	CARGO_TARGET_DIR=$(CARGO_TARGET_DIR) $(CARGO) build --release -p scfruntime-ffi

# $(call put_lib,LIBDIR,INCLUDEDIR,FROM,PREFIX,PC_LIBDIR,PC_INCLUDEDIR): the libraries from FROM,
# the header and the .pc file (its prefix, libdir and includedir as given).
define put_lib
	install -d $(1)/pkgconfig $(2)
	install -m 644 $(3)/libscfruntime.a $(1)/libscfruntime.a
	install -m 755 $(3)/libscfruntime.so $(1)/libscfruntime.so.$(VERSION)
	ln -sf libscfruntime.so.$(VERSION) $(1)/$(SONAME)
	ln -sf $(SONAME) $(1)/libscfruntime.so
	install -m 644 $(HEADER) $(2)/scfruntime.h
	sed -e 's|@PREFIX@|$(4)|g' -e 's|@LIBDIR@|$(5)|g' \
	    -e 's|@INCLUDEDIR@|$(6)|g' -e 's|@VERSION@|$(VERSION)|g' \
	    ffi/scfruntime.pc.in > $(1)/pkgconfig/scfruntime.pc
endef

install: lib
	$(call put_lib,$(DESTDIR)$(LIBDIR),$(DESTDIR)$(INCLUDEDIR),$(RELEASE),$(PREFIX),$(LIBDIR),$(INCLUDEDIR))

# The .pc file finds its prefix from where it lies (${pcfiledir}), so the tree works wherever
# it is unpacked. The build is the glibc-2.17 one: the library runs on SCF's CentOS 7.6.
dist:
	CARGO_TARGET_DIR=$(abspath $(CARGO_TARGET_DIR)) SCF_PORTABLE_DIR=$(abspath $(PORTABLE)) \
	    scripts/portable-build.sh
	rm -rf $(DIST_DIR)/$(DIST_NAME) $(DIST_DIR)/$(DIST_NAME).tar.gz
	$(call put_lib,$(DIST_DIR)/$(DIST_NAME)/lib,$(DIST_DIR)/$(DIST_NAME)/include,$(PORTABLE)/bin,$${pcfiledir}/../..,$${prefix}/lib,$${prefix}/include)
	install -m 644 ffi/DIST-README.md $(DIST_DIR)/$(DIST_NAME)/README.md
	tar -C $(DIST_DIR) -czf $(DIST_DIR)/$(DIST_NAME).tar.gz $(DIST_NAME)
	@echo "wrote $(DIST_DIR)/$(DIST_NAME).tar.gz"

uninstall:
	rm -f $(DESTDIR)$(LIBDIR)/libscfruntime.a $(DESTDIR)$(LIBDIR)/libscfruntime.so \
	      $(DESTDIR)$(LIBDIR)/$(SONAME) $(DESTDIR)$(LIBDIR)/libscfruntime.so.$(VERSION) \
	      $(DESTDIR)$(INCLUDEDIR)/scfruntime.h $(DESTDIR)$(LIBDIR)/pkgconfig/scfruntime.pc
