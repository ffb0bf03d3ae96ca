# shellcheck shell=sh
# Stand-in for OpenWrt's /lib/functions.sh in the tests: the UCI part that dynhost's
# init and hotplug scripts use (config_load, config_get, config_get_bool, config_foreach).
#
# Like the real one, config_load evaluates the package as `config`, `option` and `list`
# calls (the real one evaluates `uci export`, which has the same syntax). It reads
# $UCI_CONFIG_DIR/PACKAGE (default /etc/config, as uci does); a missing package loads no
# section. Values live in CONFIG_<section>_<option> variables, as in the real one.

CONFIG_SECTIONS=
CONFIG_NUM_SECTIONS=0
CONFIG_SECTION=

package() { :; }

config() {
	CONFIG_NUM_SECTIONS=$((CONFIG_NUM_SECTIONS + 1))
	CONFIG_SECTION=${2:-cfg$CONFIG_NUM_SECTIONS}
	CONFIG_SECTIONS="${CONFIG_SECTIONS:+$CONFIG_SECTIONS }$CONFIG_SECTION"
	config_set "$CONFIG_SECTION" TYPE "$1"
}

option() {
	config_set "$CONFIG_SECTION" "$1" "$2"
}

list() {
	eval "_l=\${CONFIG_${CONFIG_SECTION}_$1:-}"
	# shellcheck disable=SC2154 # set by the eval above
	config_set "$CONFIG_SECTION" "$1" "${_l:+$_l }$2"
}

config_set() {
	case "$1$2" in
		*[!A-Za-z0-9_]*) echo "functions.sh stand-in: bad name $1 $2" >&2; return 1 ;;
	esac
	eval "CONFIG_$1_$2=\$3"
}

config_load() {
	for _s in $CONFIG_SECTIONS; do
		unset "CONFIG_${_s}_TYPE"
	done
	CONFIG_SECTIONS=
	CONFIG_NUM_SECTIONS=0
	CONFIG_SECTION=
	_f="${UCI_CONFIG_DIR:-/etc/config}/$1"
	[ -f "$_f" ] || return 1
	# shellcheck source=/dev/null
	. "$_f"
}

# config_get VAR SECTION OPTION [DEFAULT]  or  config_get SECTION OPTION (prints)
config_get() {
	case "$2${3:-$1}" in
		*[!A-Za-z0-9_]*) return 0 ;;
	esac
	if [ -z "${3:-}" ]; then
		eval "printf '%s\n' \"\${CONFIG_$1_$2:-}\""
	else
		eval "$1=\${CONFIG_$2_$3:-\${4:-}}"
	fi
}

config_get_bool() {
	config_get _b "$2" "$3" "${4:-}"
	case "$_b" in
		1 | on | true | yes | enabled) _b=1 ;;
		0 | off | false | no | disabled) _b=0 ;;
		*) _b=${4:-} ;;
	esac
	eval "$1=\$_b"
}

config_foreach() {
	_fn=$1
	_type=$2
	shift 2
	_t=
	for _sec in $CONFIG_SECTIONS; do
		config_get _t "$_sec" TYPE
		[ -n "$_type" ] && [ "$_t" != "$_type" ] && continue
		"$_fn" "$_sec" "$@"
	done
}
