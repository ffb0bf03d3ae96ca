//! The socket options std and tokio do not offer: SO_REUSEPORT before bind, a multicast
//! membership by interface index, IP_MULTICAST_IF, IP_MULTICAST_ALL.

use std::io;
use std::mem::size_of;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

/// setsockopt(2) with a typed value (public for the benchmark's own listener).
pub fn setsockopt<T>(
    fd: RawFd,
    level: libc::c_int,
    name: libc::c_int,
    value: &T,
) -> io::Result<()> {
    // SAFETY: `value` points to a live T of the size passed.
    let rc = unsafe {
        libc::setsockopt(
            fd,
            level,
            name,
            (value as *const T).cast(),
            size_of::<T>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

fn in_addr(a: Ipv4Addr) -> libc::in_addr {
    libc::in_addr {
        s_addr: u32::from(a).to_be(),
    }
}

/// Sends multicast out of the interface that holds `addr`.
pub fn set_multicast_if(sock: &impl AsRawFd, addr: Ipv4Addr) -> io::Result<()> {
    setsockopt(
        sock.as_raw_fd(),
        libc::IPPROTO_IP,
        libc::IP_MULTICAST_IF,
        &in_addr(addr),
    )
}

/// A non-blocking UDP socket bound to `bind` with SO_REUSEADDR and SO_REUSEPORT (other
/// listeners may share the port), joined to `group` on the interface given by index
/// (or, with index 0, by `iface_addr`), and receiving only the groups it joined itself.
pub fn shared_multicast(
    bind: SocketAddrV4,
    group: Ipv4Addr,
    ifindex: u32,
    iface_addr: Ipv4Addr,
) -> io::Result<std::net::UdpSocket> {
    // SAFETY: plain socket(2); the descriptor is owned right below.
    let raw = unsafe {
        libc::socket(
            libc::AF_INET,
            libc::SOCK_DGRAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
            0,
        )
    };
    if raw < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `raw` is a fresh descriptor nobody else owns.
    let fd = unsafe { OwnedFd::from_raw_fd(raw) };
    let one: libc::c_int = 1;
    setsockopt(raw, libc::SOL_SOCKET, libc::SO_REUSEADDR, &one)?;
    setsockopt(raw, libc::SOL_SOCKET, libc::SO_REUSEPORT, &one)?;
    let sa = libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: bind.port().to_be(),
        sin_addr: in_addr(*bind.ip()),
        sin_zero: [0; 8],
    };
    // SAFETY: `sa` is a valid sockaddr_in of the size passed.
    let rc = unsafe {
        libc::bind(
            raw,
            (&sa as *const libc::sockaddr_in).cast(),
            size_of::<libc::sockaddr_in>() as libc::socklen_t,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    // Without this, Linux also delivers groups other sockets joined, on any interface.
    // Old kernels lack it; the source check still applies then.
    let zero: libc::c_int = 0;
    let _ = setsockopt(raw, libc::IPPROTO_IP, libc::IP_MULTICAST_ALL, &zero);
    let mreq = libc::ip_mreqn {
        imr_multiaddr: in_addr(group),
        imr_address: in_addr(iface_addr),
        imr_ifindex: ifindex as libc::c_int,
    };
    setsockopt(raw, libc::IPPROTO_IP, libc::IP_ADD_MEMBERSHIP, &mreq)?;
    Ok(std::net::UdpSocket::from(fd))
}

/// Joins `group` on one more interface (by index, or with index 0 by `iface_addr`).
pub fn join(
    sock: &impl AsRawFd,
    group: Ipv4Addr,
    ifindex: u32,
    iface_addr: Ipv4Addr,
) -> io::Result<()> {
    let mreq = libc::ip_mreqn {
        imr_multiaddr: in_addr(group),
        imr_address: in_addr(iface_addr),
        imr_ifindex: ifindex as libc::c_int,
    };
    setsockopt(
        sock.as_raw_fd(),
        libc::IPPROTO_IP,
        libc::IP_ADD_MEMBERSHIP,
        &mreq,
    )
}

/// SO_ATTACH_FILTER: 26 on every Linux architecture OpenWrt and Debian build for.
const SO_ATTACH_FILTER: libc::c_int = 26;

/// The classic BPF program that passes IPv4 datagrams whose source address is one of
/// `sources` and drops every other before it is queued: a flood from another LAN host
/// then never wakes the reader nor fills its buffer. At most 255 sources.
pub fn source_filter(sources: &[Ipv4Addr]) -> Vec<libc::sock_filter> {
    const LD_W_ABS: u16 = (libc::BPF_LD | libc::BPF_W | libc::BPF_ABS) as u16;
    const JEQ_K: u16 = (libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K) as u16;
    const RET_K: u16 = (libc::BPF_RET | libc::BPF_K) as u16;
    let sources = &sources[..sources.len().min(255)];
    let n = sources.len();
    let op = |code, jt, k| libc::sock_filter { code, jt, jf: 0, k };
    // A = the IPv4 header's source address (the network header, 12 bytes in).
    let mut prog = vec![op(LD_W_ABS, 0, (libc::SKF_NET_OFF + 12) as u32)];
    for (i, a) in sources.iter().enumerate() {
        // Equal: jump over the remaining comparisons and the drop, to the pass.
        prog.push(op(JEQ_K, (n - i) as u8, u32::from(*a)));
    }
    prog.push(op(RET_K, 0, 0));
    prog.push(op(RET_K, 0, u32::MAX));
    prog
}

/// Attaches [`source_filter`] to `sock` (replacing any earlier filter).
pub fn only_from(sock: &impl AsRawFd, sources: &[Ipv4Addr]) -> io::Result<()> {
    let mut prog = source_filter(sources);
    let fprog = libc::sock_fprog {
        len: prog.len() as libc::c_ushort,
        filter: prog.as_mut_ptr(),
    };
    setsockopt(sock.as_raw_fd(), libc::SOL_SOCKET, SO_ATTACH_FILTER, &fprog)
}

/// 12 random bytes for a request's nonce.
pub fn random_nonce() -> io::Result<[u8; 12]> {
    crate::random::bytes().map_err(io::Error::other)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_source_filter_jumps_to_the_pass() {
        let gws = [Ipv4Addr::new(192, 168, 1, 1), Ipv4Addr::new(10, 0, 0, 1)];
        let p = source_filter(&gws);
        assert_eq!(p.len(), 5);
        // From each comparison, the pass is the last instruction.
        for (i, op) in p[1..3].iter().enumerate() {
            assert_eq!(1 + i + 1 + usize::from(op.jt), p.len() - 1);
        }
        assert_eq!(p[1].k, 0xc0a8_0101);
        assert_eq!((p[3].k, p[4].k), (0, u32::MAX));
        // No source known yet: everything is dropped.
        assert_eq!(source_filter(&[]).len(), 3);
    }

    #[test]
    fn nonces_differ() {
        let a = random_nonce().unwrap();
        let b = random_nonce().unwrap();
        assert_ne!(a, b);
    }
}
