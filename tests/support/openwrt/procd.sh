# shellcheck shell=sh
# Stand-in for OpenWrt's /lib/functions/procd.sh in the tests. It builds the same ubus
# messages as the real one and prints each as one line instead of sending it:
#   ubus call service METHOD {compact JSON}
#
# What matters for dynhost and is kept from the real file: one argument per array
# item (no word splitting); `respawn` without values gets procd's defaults 3600 5 5
# (as strings, as jshn adds them); `reload_signal` takes a signal name and sends its
# number; booleans for stdout/stderr; service_triggers() runs inside procd_close_service,
# inside the "triggers" array, after start_service; every trigger carries the reload
# delay (1000 ms); reload triggers run /etc/init.d/NAME reload. This file is loaded by
# rc.common after the init script, as on OpenWrt.
#
# Kept because tests/hooks.rs's no_hook_waits_for_dynhost still runs the hotplug script
# through it, beside the other hooks on the host under ash and dash (a file outside the
# OpenWrt change). Everything else runs OpenWrt's real program in tests/openwrt.rs.

PROCD_RELOAD_DELAY=1000

# A tiny JSON writer: a text being built, and a stack of open containers (o or a), each
# with a flag saying whether it holds an item yet.
_j_text=
_j_stack=
_j_json_string() {
	printf '"%s"' "$(printf '%s' "$1" | sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/	/\\t/g' |
		awk '{ printf "%s%s", (NR > 1 ? "\\n" : ""), $0 }')"
}
_j_item() { # _j_item KEY RAW_JSON
	case "$_j_stack" in
		*1) _j_text="$_j_text," ;;
	esac
	_j_stack="${_j_stack%?}1"
	case "$_j_stack" in
		*o1) _j_text="$_j_text$(_j_json_string "$1"):" ;;
	esac
	_j_text="$_j_text$2"
}
_j_open() { # _j_open KEY o|a
	_j_item "$1" "$([ "$2" = o ] && printf '{' || printf '[')"
	_j_stack="$_j_stack${2}0"
}
_j_close() {
	case "$_j_stack" in
		*o?) _j_text="$_j_text}" ;;
		*a?) _j_text="$_j_text]" ;;
	esac
	_j_stack="${_j_stack%??}"
}
json_init() { _j_text=; _j_stack=o0; _j_text='{'; }
json_add_string() { _j_item "$1" "$(_j_json_string "$2")"; }
json_add_int() { _j_item "$1" "$2"; }
json_add_boolean() { _j_item "$1" "$([ "$2" = 1 ] && echo true || echo false)"; }
json_add_object() { _j_open "${1:-}" o; }
json_close_object() { _j_close; }
json_add_array() { _j_open "${1:-}" a; }
json_close_array() { _j_close; }
json_dump() { printf '%s}\n' "$_j_text"; }

_procd_ubus() { printf 'ubus call service %s %s' "$1" "$(json_dump)"; echo; }

# shellcheck disable=SC2154 # initscript is rc.common's
_procd_name() { basename "$(readlink "$initscript" || echo "$initscript")"; }

procd_open_service() {
	_procd_seq=0
	json_init
	json_add_string name "$1"
	[ -n "${2:-}" ] && json_add_string script "$2"
	json_add_object instances
}

procd_close_service() {
	json_close_object
	json_add_array triggers
	service_triggers
	json_close_array
	_procd_ubus "${1:-set}"
}

procd_open_instance() {
	_procd_seq=$((_procd_seq + 1))
	json_add_object "${1:-instance$_procd_seq}"
	_procd_respawn=
}

procd_set_param() {
	_type=$1
	shift
	case "$_type" in
		command | netdev | file | respawn | watch | watchdog)
			[ "$_type" = respawn ] && _procd_respawn="${*:- }"
			json_add_array "$_type"
			for _a in "$@"; do json_add_string "" "$_a"; done
			if [ "$_type" = respawn ] && [ $# = 0 ]; then
				for _a in 3600 5 5; do json_add_string "" "$_a"; done
			fi
			json_close_array
			;;
		env | data | limits)
			json_add_object "$_type"
			for _a in "$@"; do json_add_string "${_a%%=*}" "${_a#*=}"; done
			json_close_object
			;;
		nice | term_timeout) json_add_int "$_type" "$1" ;;
		reload_signal) json_add_int "$_type" "$(kill -l "$1")" ;;
		stdout | stderr | no_new_privs) json_add_boolean "$_type" "$1" ;;
		*) json_add_string "$_type" "$1" ;;
	esac
}

procd_close_instance() { json_close_object; }

_procd_trigger() { # EVENT FIELD VALUE SCRIPT...
	json_add_array
	json_add_string "" "$1"
	json_add_array
	json_add_string "" if
	json_add_array
	json_add_string "" eq
	json_add_string "" "$2"
	json_add_string "" "$3"
	json_close_array
	shift 3
	json_add_array
	json_add_string "" run_script
	for _a in "$@"; do json_add_string "" "$_a"; done
	json_close_array
	json_close_array
	json_add_int "" "$PROCD_RELOAD_DELAY"
	json_close_array
}

procd_add_reload_trigger() {
	for _f in "$@"; do
		_procd_trigger config.change package "$_f" "/etc/init.d/$(_procd_name)" reload
	done
}

procd_add_interface_trigger() { # EVENT INTERFACE SCRIPT...
	_event=$1
	_iface=$2
	shift 2
	_procd_trigger "$_event" interface "$_iface" "$@"
}

procd_add_reload_interface_trigger() {
	procd_add_interface_trigger "interface.*" "$1" "/etc/init.d/$(_procd_name)" reload
}

procd_kill() {
	json_init
	[ -n "${1:-}" ] && json_add_string name "$1"
	[ -n "${2:-}" ] && json_add_string instance "$2"
	_procd_ubus delete
}

procd_send_signal() { # SERVICE [INSTANCE] [SIGNAL]
	_signal=${3:-}
	case "$_signal" in
		[A-Z]*) _signal=$(kill -l "$_signal" 2>/dev/null) || return 1 ;;
	esac
	json_init
	json_add_string name "$1"
	[ -n "${2:-}" ] && [ "$2" != "*" ] && json_add_string instance "$2"
	[ -n "$_signal" ] && json_add_int signal "$_signal"
	_procd_ubus signal
}

procd_running() { return 1; }
