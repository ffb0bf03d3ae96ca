# Stand-in for the packages feed's lang/rust/rust-package.mk in the tests: the same
# RustBinPackage (a default install of bin/* unless the package has its own) and
# RUST_ARCH_DEPENDS as rust-values.mk sets it.
RUST_ARCH_DEPENDS:=@(aarch64||arm||i386||loongarch64||mips||mips64||mips64el||mipsel||powerpc||powerpc64||riscv64||x86_64)
RUST_PKG_LOCKED?=1

define RustBinPackage
  ifndef Package/$(1)/install
    define Package/$(1)/install
	$$(INSTALL_DIR) $$(1)/usr/bin/
	$$(INSTALL_BIN) $$(PKG_INSTALL_DIR)/bin/* $$(1)/usr/bin/
    endef
  endif
endef
