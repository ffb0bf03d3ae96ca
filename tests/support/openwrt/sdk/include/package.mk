# Stand-in for OpenWrt's include/package.mk in the tests. BuildPackage defines targets
# that run what the real build would run from the package Makefile:
#   prepare  Build/Prepare (the source tree into PKG_BUILD_DIR)
#   install  Package/NAME/install into DESTDIR (the package's root file system)
#   info     the package's metadata, one KEY=VALUE a line
PKG_BUILD_DIR?=$(BUILD_DIR)/$(PKG_NAME)-$(PKG_VERSION)
PKG_INSTALL_DIR?=$(PKG_BUILD_DIR)/ipkg-install

define BuildPackage
$(eval $(Package/$(1)))
.PHONY: prepare install info
prepare:
	$$(call Build/Prepare)
install:
	$$(call Package/$(1)/install,$$(DESTDIR))
info:
	@echo 'NAME=$(PKG_NAME)'
	@echo 'VERSION=$(PKG_VERSION)'
	@echo 'BUILD_DEPENDS=$(PKG_BUILD_DEPENDS)'
	@echo 'SECTION=$(SECTION)'
	@echo 'CATEGORY=$(CATEGORY)'
	@echo 'DEPENDS=$(strip $(DEPENDS))'
	@echo 'CONFFILES=$(strip $(Package/$(1)/conffiles))'
endef
