//! A hostile LAN host: datagrams with another host's source address (the gateway's),
//! sent from the rogue namespace through an IP_TRANSPARENT socket, as a host on the
//! LAN can without any help from the gateway.

use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread::JoinHandle;

use super::miniupnpd::Netns;

/// A UDP socket in the current namespace bound to `from`, which need not be ours.
fn spoofing_socket(from: SocketAddr) -> UdpSocket {
    // SAFETY: plain socket(2); owned right below.
    let raw = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    assert!(raw >= 0, "socket: {}", std::io::Error::last_os_error());
    // SAFETY: a fresh descriptor nobody else owns.
    let fd = unsafe { OwnedFd::from_raw_fd(raw) };
    let one: libc::c_int = 1;
    for opt in [libc::IP_TRANSPARENT, libc::IP_FREEBIND] {
        // SAFETY: an int option of the right size.
        let rc = unsafe {
            libc::setsockopt(
                fd.as_raw_fd(),
                libc::IPPROTO_IP,
                opt,
                (&one as *const libc::c_int).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        assert_eq!(rc, 0, "setsockopt: {}", std::io::Error::last_os_error());
    }
    let sock = UdpSocket::from(fd);
    sock.set_broadcast(true).unwrap();
    // std's bind on an existing socket is not offered: go through libc.
    let SocketAddr::V4(v4) = from else {
        panic!("IPv4 only")
    };
    let sa = libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: v4.port().to_be(),
        sin_addr: libc::in_addr {
            s_addr: u32::from(*v4.ip()).to_be(),
        },
        sin_zero: [0; 8],
    };
    // SAFETY: a valid sockaddr_in of the size passed.
    let rc = unsafe {
        libc::bind(
            sock.as_raw_fd(),
            (&sa as *const libc::sockaddr_in).cast(),
            std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
        )
    };
    assert_eq!(rc, 0, "bind {from}: {}", std::io::Error::last_os_error());
    sock
}

/// Sprays `packet` from `from` (spoofed) to every UDP port of `to`, over and over,
/// until `stop`; counts the sweeps done.
pub fn spray(
    ns: &Netns,
    from: SocketAddr,
    to: Ipv4Addr,
    packet: Vec<u8>,
    stop: Arc<AtomicBool>,
    sweeps: Arc<AtomicUsize>,
) -> JoinHandle<()> {
    ns.spawn(move || {
        let sock = spoofing_socket(from);
        while !stop.load(Ordering::Relaxed) {
            for port in 1024..=u16::MAX {
                let _ = sock.send_to(&packet, (to, port));
            }
            sweeps.fetch_add(1, Ordering::Relaxed);
        }
    })
}

/// Sends `packet` from `from` (not spoofed) to `to` as fast as it can until `stop`;
/// counts the datagrams sent.
pub fn flood(
    ns: &Netns,
    from: SocketAddr,
    to: SocketAddr,
    packet: Vec<u8>,
    stop: Arc<AtomicBool>,
    sent: Arc<AtomicUsize>,
) -> JoinHandle<()> {
    ns.spawn(move || {
        let sock = UdpSocket::bind(from).unwrap();
        while !stop.load(Ordering::Relaxed) {
            for _ in 0..1000 {
                if sock.send_to(&packet, to).is_ok() {
                    sent.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
    })
}
