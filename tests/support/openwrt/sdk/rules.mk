# Stand-in for OpenWrt's rules.mk in the tests (TOPDIR is this directory): the install
# macros with OpenWrt's modes, and the directories a package Makefile refers to.
INCLUDE_DIR:=$(TOPDIR)/include
BUILD_DIR?=$(TOPDIR)/build_dir

INSTALL_DIR:=install -d -m0755
INSTALL_BIN:=install -m0755
INSTALL_DATA:=install -m0644
INSTALL_CONF:=install -m0600
CP:=cp -fpR
