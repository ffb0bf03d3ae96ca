# Stand-in for OpenWrt's rules.mk in the tests (TOPDIR is this directory): the install
# macros with OpenWrt's modes, the directories and tools a package Makefile refers to,
# and an x86_64 musl target (so that rust-values.mk's triple is one rustup has).
# A stand-in because a real SDK cannot run here: it needs its toolchain and the feeds
# from the network, and an hour of building.
INCLUDE_DIR:=$(TOPDIR)/include
BUILD_DIR?=$(TOPDIR)/build_dir
DL_DIR?=$(TOPDIR)/dl
STAGING_DIR?=$(TOPDIR)/staging_dir

ARCH:=x86_64
REAL_GNU_TARGET_NAME:=x86_64-openwrt-linux-musl
GNU_HOST_NAME:=x86_64-pc-linux-gnu
HOST_ARCH:=x86_64
HOST_OS:=Linux
CONFIG_USE_MUSL:=y
TARGET_CC_NOCACHE:=x86_64-openwrt-linux-musl-gcc
HOSTCC_NOCACHE:=gcc
TARGET_CFLAGS:=-Os -pipe -fno-caller-saves -fno-plt -fhonour-copts
PKG_JOBS:=-j1

INSTALL_DIR:=install -d -m0755
INSTALL_BIN:=install -m0755
INSTALL_DATA:=install -m0644
INSTALL_CONF:=install -m0600
CP:=cp -fpR

toupper = $(shell echo $(1) | tr 'a-z' 'A-Z')
qstrip = $(strip $(subst ",,$(1)))
