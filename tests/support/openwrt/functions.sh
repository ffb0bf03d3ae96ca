# shellcheck shell=sh
# Stand-in for OpenWrt's /lib/functions.sh (with /lib/config/uci.sh's uci_load) in the
# tests: the UCI part that dynhost's scripts use.
#
# As on OpenWrt, config_load runs `uci -S -n export PACKAGE` (the uci stand-in next to
# this file, in $OPENWRT_STANDIN) and evaluates its output as `config`, `option` and
# `list` calls: sections are what uci reads, anonymous ones named cfgNNHHHH, values in
# CONFIG_<section>_<option>, list items also in _ITEM<n> and _LENGTH, and the state of
# the previous config_load cleared first. A missing package loads no section and
# returns non-zero. Unlike the real file it does not `export -n` (dash has no -n); the
# variables stay in the shell all the same.
#
# Kept because tests/hooks.rs's no_hook_waits_for_dynhost still runs the hotplug script
# through it, beside the other hooks on the host under ash and dash (a file outside the
# OpenWrt change). Everything else runs OpenWrt's real program in tests/openwrt.rs.

LOAD_STATE=1
LIST_SEP=" "

append() {
	_var=$1
	_value=$2
	_sep=${3:- }
	eval "$_var=\${$_var:+\${$_var}\${_value:+\$_sep}}\$_value"
}

list_contains() {
	eval "_val=\" \${$1} \""
	# shellcheck disable=SC2154 # set by the eval above
	[ "${_val%% "$2" *}" != "$_val" ]
}

reset_cb() {
	config_cb() { return 0; }
	option_cb() { return 0; }
	list_cb() { return 0; }
}
reset_cb

package() { return 0; }

config() {
	CONFIG_NUM_SECTIONS=$((CONFIG_NUM_SECTIONS + 1))
	_name=${2:-cfg$CONFIG_NUM_SECTIONS}
	append CONFIG_SECTIONS "$_name"
	CONFIG_SECTION=$_name
	config_set "$CONFIG_SECTION" TYPE "$1"
	[ -n "${NO_CALLBACK:-}" ] || config_cb "$1" "$_name"
}

option() {
	_varname=$1
	shift
	config_set "$CONFIG_SECTION" "$_varname" "$*"
	[ -n "${NO_CALLBACK:-}" ] || option_cb "$_varname" "$*"
}

list() {
	_varname=$1
	shift
	config_get _len "$CONFIG_SECTION" "${_varname}_LENGTH" 0
	[ "$_len" = 0 ] && append CONFIG_LIST_STATE "${CONFIG_SECTION}_${_varname}"
	_len=$((_len + 1))
	config_set "$CONFIG_SECTION" "${_varname}_ITEM$_len" "$*"
	config_set "$CONFIG_SECTION" "${_varname}_LENGTH" "$_len"
	append "CONFIG_${CONFIG_SECTION}_${_varname}" "$*" "$LIST_SEP"
	[ -n "${NO_CALLBACK:-}" ] || list_cb "$_varname" "$*"
}

config_set() {
	eval "CONFIG_${1}_${2}=\$3"
}

config_unset() {
	config_set "$1" "$2" ""
}

uci_load() {
	for _v in ${CONFIG_LIST_STATE:-}; do
		eval "CONFIG_${_v}="
		eval "CONFIG_${_v}_LENGTH="
	done
	CONFIG_LIST_STATE=
	CONFIG_SECTIONS=
	CONFIG_NUM_SECTIONS=0
	CONFIG_SECTION=
	_data=$("${OPENWRT_STANDIN:?set OPENWRT_STANDIN to tests/support/openwrt}/uci" \
		${UCI_CONFIG_DIR:+-c "$UCI_CONFIG_DIR"} ${LOAD_STATE:+-P /var/state} -S -n export "$1" 2>/dev/null)
	_ret=$?
	[ "$_ret" != 0 ] || [ -z "$_data" ] || eval "$_data"
	unset _data
	${CONFIG_SECTION:+config_cb}
	return "$_ret"
}

config_load() {
	[ -n "${IPKG_INSTROOT:-}" ] && return 0
	uci_load "$@"
}

# config_get VAR SECTION OPTION [DEFAULT]  or  config_get SECTION OPTION (prints)
config_get() {
	case "$2${3:-$1}" in
		*[!A-Za-z0-9_]*) : ;;
		*)
			case "${3:-}" in
				"") eval echo "\"\${CONFIG_${1}_${2}:-\${4:-}}\"" ;;
				*) eval "${1}=\${CONFIG_${2}_${3}:-\${4:-}}" ;;
			esac
			;;
	esac
}

get_bool() {
	case "$1" in
		1 | on | true | yes | enabled) printf 1 ;;
		0 | off | false | no | disabled) printf 0 ;;
		*) printf '%s' "${2:-}" ;;
	esac
}

config_get_bool() {
	config_get _tmp "$2" "$3" "${4:-}"
	# shellcheck disable=SC2154 # set by config_get
	_tmp=$(get_bool "$_tmp" "${4:-}")
	eval "$1=\$_tmp"
}

config_foreach() {
	_function=$1
	[ "$#" -ge 1 ] && shift
	_type=${1:-}
	[ "$#" -ge 1 ] && shift
	[ -z "${CONFIG_SECTIONS:-}" ] && return 0
	for _section in ${CONFIG_SECTIONS}; do
		config_get _cfgtype "$_section" TYPE
		# shellcheck disable=SC2154 # set by config_get
		[ -n "$_type" ] && [ "x$_cfgtype" != "x$_type" ] && continue
		eval "$_function \"\$_section\" \"\$@\""
	done
}

config_list_foreach() {
	[ "$#" -ge 3 ] || return 0
	_lsection=$1
	_loption=$2
	_lfunction=$3
	shift 3
	config_get _llen "$_lsection" "${_loption}_LENGTH"
	[ -z "$_llen" ] && return 0
	_c=1
	while [ "$_c" -le "$_llen" ]; do
		config_get _lval "$_lsection" "${_loption}_ITEM$_c"
		eval "$_lfunction \"\$_lval\" \"\$@\""
		_c=$((_c + 1))
	done
}
