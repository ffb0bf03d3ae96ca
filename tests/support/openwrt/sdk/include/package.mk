# Stand-in for OpenWrt's include/package.mk in the tests. BuildPackage defines targets
# that do what the real build does with the package Makefile:
#   prepare  the source: with USE_SOURCE_DIR, PKG_BUILD_DIR becomes a link to that tree
#            (include/unpack.mk's local-source mode); otherwise PKG_SOURCE from DL_DIR,
#            checked against PKG_HASH (unless skip) and unpacked
#   compile  Build/Compile in PKG_BUILD_DIR (rust-package.mk's cargo install), with the
#            package's variables
#   install  Package/NAME/install into DESTDIR (the package's root file system)
#   info     the package's metadata, one KEY=VALUE a line
PKG_BUILD_DIR?=$(BUILD_DIR)/$(PKG_NAME)-$(PKG_VERSION)
PKG_INSTALL_DIR?=$(PKG_BUILD_DIR)/ipkg-install

ifdef USE_SOURCE_DIR
  define Build/Prepare/Default
	rm -rf $(PKG_BUILD_DIR)
	mkdir -p $(dir $(PKG_BUILD_DIR))
	ln -snf $(USE_SOURCE_DIR) $(PKG_BUILD_DIR)
	touch $(PKG_BUILD_DIR)/.source_dir
  endef
else
  define Build/Prepare/Default
	test -f $(DL_DIR)/$(PKG_SOURCE) || { echo "$(PKG_SOURCE) is not in $(DL_DIR)" >&2; exit 1; }
	test "$(PKG_HASH)" = skip || echo "$(PKG_HASH)  $(DL_DIR)/$(PKG_SOURCE)" | sha256sum -c --quiet
	rm -rf $(PKG_BUILD_DIR)
	mkdir -p $(PKG_BUILD_DIR)
	tar -C $(PKG_BUILD_DIR) --strip-components=1 -xzf $(DL_DIR)/$(PKG_SOURCE)
  endef
endif
Build/Prepare?=$(Build/Prepare/Default)

define BuildPackage
$(eval $(Package/$(1)))
.PHONY: prepare compile install info
prepare:
	$$(call Build/Prepare)
compile:
	$$(call Build/Compile)
install:
	$$(call Package/$(1)/install,$$(DESTDIR))
info:
	@echo 'NAME=$(PKG_NAME)'
	@echo 'VERSION=$(PKG_VERSION)'
	@echo 'SOURCE=$(PKG_SOURCE)'
	@echo 'SOURCE_URL=$(PKG_SOURCE_URL)'
	@echo 'HASH=$(PKG_HASH)'
	@echo 'MAINTAINER=$(PKG_MAINTAINER)'
	@echo 'LICENSE=$(PKG_LICENSE)'
	@echo 'LICENSE_FILES=$(PKG_LICENSE_FILES)'
	@echo 'BUILD_DEPENDS=$(PKG_BUILD_DEPENDS)'
	@echo 'SECTION=$(SECTION)'
	@echo 'CATEGORY=$(CATEGORY)'
	@echo 'URL=$(URL)'
	@echo 'DEPENDS=$(strip $(DEPENDS))'
	@echo 'CONFFILES=$(strip $(Package/$(1)/conffiles))'
endef
