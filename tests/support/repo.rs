//! Paths into this repository, and the system tools tests run: a missing tool fails
//! the test with the package that provides it, never a silent pass.

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;

/// The repository's root (the crate's manifest directory).
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `contrib/PATH`: the shipped integrations.
pub fn contrib(path: &str) -> PathBuf {
    root().join("contrib").join(path)
}

/// A stand-in for part of OpenWrt's shell API, in `tests/support/openwrt`.
pub fn openwrt_standin(name: &str) -> PathBuf {
    root().join("tests/support/openwrt").join(name)
}

/// The fake dynhost that records how it was called (`tests/support/fakebin/dynhost`).
pub fn fake_dynhost() -> PathBuf {
    root().join("tests/support/fakebin/dynhost")
}

/// The first executable file `name` on `PATH`.
pub fn which(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .map(|dir| dir.join(name))
        .find(|p| {
            p.metadata()
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
}

/// A tool the test needs, or a failure that says which package to install.
pub fn tool(name: &str, package: &str, why: &str) -> PathBuf {
    which(name).unwrap_or_else(|| {
        panic!("{name} is not installed; {why}. Install it: apt-get install {package}")
    })
}

/// busybox: the hooks and the OpenWrt scripts run under busybox ash, as on OpenWrt.
pub fn busybox() -> PathBuf {
    tool(
        "busybox",
        "busybox",
        "the hooks and the OpenWrt scripts run under busybox ash, as on OpenWrt",
    )
}
