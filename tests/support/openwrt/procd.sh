# shellcheck shell=sh
# Stand-in for OpenWrt's /lib/functions/procd.sh in the tests: each procd_* call prints
# its name and arguments, one argument per [bracket], on stdout, so that a test can compare
# what an init script asked procd for (an argument list, exactly as procd would get it).

procd_call() {
	_line=$1
	shift
	for _a in "$@"; do
		_line="$_line [$_a]"
	done
	printf '%s\n' "$_line"
}

procd_open_service() { procd_call procd_open_service "$@"; }
procd_close_service() { procd_call procd_close_service "$@"; }
procd_open_instance() { procd_call procd_open_instance "$@"; }
procd_close_instance() { procd_call procd_close_instance "$@"; }
procd_set_param() { procd_call procd_set_param "$@"; }
procd_append_param() { procd_call procd_append_param "$@"; }
procd_open_trigger() { procd_call procd_open_trigger "$@"; }
procd_close_trigger() { procd_call procd_close_trigger "$@"; }
procd_add_reload_trigger() { procd_call procd_add_reload_trigger "$@"; }
procd_add_interface_trigger() { procd_call procd_add_interface_trigger "$@"; }
procd_add_reload_interface_trigger() { procd_call procd_add_reload_interface_trigger "$@"; }
procd_add_config_trigger() { procd_call procd_add_config_trigger "$@"; }
procd_add_raw_trigger() { procd_call procd_add_raw_trigger "$@"; }
procd_add_validation() { procd_call procd_add_validation "$@"; }
procd_send_signal() { procd_call procd_send_signal "$@"; }
procd_kill() { procd_call procd_kill "$@"; }
procd_running() { procd_call procd_running "$@"; return 1; }
