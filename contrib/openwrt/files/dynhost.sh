# shellcheck shell=sh
# dynhost: shell functions for the init and hotplug scripts, installed as
# /usr/lib/dynhost/openwrt.sh. Needs /lib/functions.sh (config_load, config_get...).
#
# dynhost_scan: from the enabled records of /etc/config/dynhost, sets
#   dynhost_enabled     how many records are enabled
#   dynhost_followed    the records' `interface` options, each once (logical names such
#                       as wan, or device names such as eth0.2)
#   dynhost_related     every logical interface whose events concern those records: the
#                       followed ones; those on the same device (wan6 with device '@wan',
#                       or sharing wan's device 'eth0.2'); and the ones netifd creates on
#                       top of them, X_6 (ppp-up's DHCPv6 on a PPP link) and X_4 (DS-Lite
#                       or MAP from DHCPv6, a modem's IPv4)
# A record is enabled unless its `enabled` option says otherwise, as dynhost reads it.

# The device netifd gives logical interface $1 of the loaded network config, as dynhost
# guesses it when netifd cannot be asked (src/config/uci/network.rs, device_of); empty
# when it cannot be guessed or $1 is not an interface there.
dynhost_guess_device() {
	_dg_name=$1
	_dg_depth=0
	while :; do
		_dg_type=
		config_get _dg_type "$_dg_name" TYPE
		[ "$_dg_type" = interface ] || return 0
		_dg_proto=
		config_get _dg_proto "$_dg_name" proto none
		case "$_dg_proto" in
			pppoe | pppoa | pptp | l2tp | ppp | 3g | 6in4 | 6to4 | 6rd | map)
				echo "$_dg_proto-$_dg_name"
				return 0
				;;
			dslite) echo "ds-$_dg_name"; return 0 ;;
			464xlat) echo "464-$_dg_name"; return 0 ;;
			wireguard) echo "$_dg_name"; return 0 ;;
			qmi | mbim | ncm | modemmanager) return 0 ;;
		esac
		_dg_bridge=
		config_get _dg_bridge "$_dg_name" type
		if [ "$_dg_bridge" = bridge ]; then
			echo "br-$_dg_name"
			return 0
		fi
		_dg_dev=
		config_get _dg_dev "$_dg_name" device
		[ -n "$_dg_dev" ] || config_get _dg_dev "$_dg_name" ifname
		case "$_dg_dev" in
			"") return 0 ;;
			@*)
				_dg_depth=$((_dg_depth + 1))
				[ "$_dg_depth" -le 8 ] || return 0
				_dg_name=${_dg_dev#@}
				;;
			*)
				# shellcheck disable=SC2086 # the first word of a legacy ifname list
				set -- $_dg_dev
				echo "$1"
				return 0
				;;
		esac
	done
}

dynhost_add_word() { # VAR WORD: appends WORD to the list in VAR unless it is there
	eval "_aw_list=\" \${$1} \""
	# shellcheck disable=SC2154 # set by the eval above
	case "$_aw_list" in
		*" $2 "*) ;;
		*) eval "$1=\"\${$1:+\${$1} }\$2\"" ;;
	esac
}

dynhost_scan_record() {
	_sr_on=
	_sr_if=
	config_get_bool _sr_on "$1" enabled 1
	[ "$_sr_on" = 1 ] || return 0
	dynhost_enabled=$((dynhost_enabled + 1))
	config_get _sr_if "$1" interface
	[ -n "$_sr_if" ] && dynhost_add_word dynhost_followed "$_sr_if"
	return 0
}

dynhost_scan_interface() { # a network interface section: related if on a followed device
	_si_dev=$(dynhost_guess_device "$1")
	[ -n "$_si_dev" ] || return 0
	case " $dynhost_devices " in
		*" $_si_dev "*) dynhost_add_word dynhost_related "$1" ;;
	esac
}

dynhost_scan() {
	dynhost_enabled=0
	dynhost_followed=
	dynhost_related=
	dynhost_devices=
	config_load dynhost
	config_foreach dynhost_scan_record record
	[ -n "$dynhost_followed" ] || return 0
	config_load network
	for _sc_if in $dynhost_followed; do
		_sc_dev=$(dynhost_guess_device "$_sc_if")
		# A device name (eth0.2) stands for itself.
		dynhost_add_word dynhost_devices "${_sc_dev:-$_sc_if}"
		dynhost_add_word dynhost_related "$_sc_if"
	done
	config_foreach dynhost_scan_interface interface
	for _sc_if in $dynhost_related; do
		case "$_sc_if" in
			*[!A-Za-z0-9_]*) ;;
			*)
				dynhost_add_word dynhost_related "${_sc_if}_6"
				dynhost_add_word dynhost_related "${_sc_if}_4"
				;;
		esac
	done
	return 0
}
