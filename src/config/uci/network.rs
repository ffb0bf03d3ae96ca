//! A record's `interface` when it names an OpenWrt logical interface: the kernel device
//! netifd gives it, asked of netifd or guessed from `/etc/config/network`.

use super::Section;

/// The kernel device behind an OpenWrt logical interface (`wan` → `pppoe-wan`), guessed
/// from `/etc/config/network` the way netifd names devices. `None` if `name` is not a
/// logical interface there (it is then taken as a device name); `Some(Err(proto))` for
/// a logical interface whose device only netifd knows (a modem's `wwan0` behind qmi).
pub fn device_of(network: &[Section], name: &str) -> Option<Result<String, String>> {
    device_of_depth(network, name, 0)
}

fn device_of_depth(
    network: &[Section],
    name: &str,
    depth: usize,
) -> Option<Result<String, String>> {
    let s = network
        .iter()
        .rev()
        .find(|s| s.kind == "interface" && s.name.as_deref() == Some(name))?;
    let proto = s.get("proto").unwrap_or("none");
    // netifd names the devices of PPP and tunnel protocols "<prefix>-<interface>".
    const NAMED_BY_PROTO: &[(&str, &str)] = &[
        ("pppoe", "pppoe"),
        ("pppoa", "pppoa"),
        ("pptp", "pptp"),
        ("l2tp", "l2tp"),
        ("ppp", "ppp"),
        ("3g", "3g"),
        ("6in4", "6in4"),
        ("6to4", "6to4"),
        ("6rd", "6rd"),
        ("dslite", "ds"),
        ("map", "map"),
        ("464xlat", "464"),
    ];
    if let Some((_, prefix)) = NAMED_BY_PROTO.iter().find(|(p, _)| *p == proto) {
        return Some(Ok(format!("{prefix}-{name}")));
    }
    if proto == "wireguard" {
        return Some(Ok(name.to_string()));
    }
    // Modems: the device appears when the modem connects.
    if ["qmi", "mbim", "ncm", "modemmanager"].contains(&proto) {
        return Some(Err(proto.to_string()));
    }
    if s.get("type") == Some("bridge") {
        return Some(Ok(format!("br-{name}")));
    }
    let dev = s.get("device").or_else(|| s.get("ifname"))?;
    match dev.strip_prefix('@') {
        // An alias (wan6 on top of wan): the other interface's device.
        Some(other) if depth < 8 => device_of_depth(network, other, depth + 1),
        Some(_) => None,
        None => Some(Ok(dev.split_whitespace().next().unwrap_or(dev).to_string())),
    }
}

/// The device a record's `interface` names: netifd's own answer while it runs, else
/// the guess from `/etc/config/network` (with a note for the log), else the name itself.
pub(super) fn resolve(
    name: &str,
    network: &[Section],
    netifd: &dyn Fn(&str) -> Result<String, String>,
    notes: &mut Vec<String>,
) -> Option<String> {
    let guess = device_of(network, name);
    match (netifd(name), guess) {
        (Ok(dev), _) => Some(dev),
        (Err(_), None) => None,
        (Err(why), Some(Ok(dev))) => {
            notes.push(format!(
                "interface {name:?}: {why}; following {dev:?}, the device netifd normally \
                 gives it. dynhost asks netifd again at the next reload"
            ));
            Some(dev)
        }
        (Err(why), Some(Err(proto))) => {
            notes.push(format!(
                "interface {name:?}: {why}, and a {proto} interface's device cannot be \
                 guessed; following {name:?} until a reload finds the device (the hotplug \
                 script asks for one when the interface comes up), or set the device name"
            ));
            None
        }
    }
}
