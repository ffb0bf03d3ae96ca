//! The socket options std and tokio do not offer (SO_REUSEPORT before bind, a multicast
//! membership by interface index, IP_MULTICAST_IF, IP_MULTICAST_ALL, a BPF filter), set
//! through `socket2`, which covers them all.

use std::io;
use std::mem::size_of;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::os::fd::{AsFd, RawFd};

use socket2::{Domain, InterfaceIndexOrAddress, SockFilter, SockRef, Socket, Type};

/// setsockopt(2) with a typed value, for an option `socket2` lacks: only the
/// benchmark's listener uses it (SO_TIMESTAMPNS); the daemon's options go through
/// `socket2`.
pub fn setsockopt<T>(
    fd: RawFd,
    level: libc::c_int,
    name: libc::c_int,
    value: &T,
) -> io::Result<()> {
    // SAFETY: `value` points to a live T of the size passed; unsafe because socket2
    // has no setter for these options.
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

/// Sends multicast out of the interface that holds `addr`.
pub fn set_multicast_if(sock: &impl AsFd, addr: Ipv4Addr) -> io::Result<()> {
    SockRef::from(sock).set_multicast_if_v4(&addr)
}

/// The interface a membership is on: by index, or with index 0 by its address.
fn interface(ifindex: u32, iface_addr: Ipv4Addr) -> InterfaceIndexOrAddress {
    if ifindex == 0 {
        InterfaceIndexOrAddress::Address(iface_addr)
    } else {
        InterfaceIndexOrAddress::Index(ifindex)
    }
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
    let sock = Socket::new(Domain::IPV4, Type::DGRAM.nonblocking().cloexec(), None)?;
    sock.set_reuse_address(true)?;
    sock.set_reuse_port(true)?;
    sock.bind(&bind.into())?;
    // Without this, Linux also delivers groups other sockets joined, on any interface.
    // Old kernels lack it; the source check still applies then.
    let _ = sock.set_multicast_all_v4(false);
    sock.join_multicast_v4_n(&group, &interface(ifindex, iface_addr))?;
    Ok(sock.into())
}

/// Joins `group` on one more interface (by index, or with index 0 by `iface_addr`).
pub fn join(
    sock: &impl AsFd,
    group: Ipv4Addr,
    ifindex: u32,
    iface_addr: Ipv4Addr,
) -> io::Result<()> {
    SockRef::from(sock).join_multicast_v4_n(&group, &interface(ifindex, iface_addr))
}

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
pub fn only_from(sock: &impl AsFd, sources: &[Ipv4Addr]) -> io::Result<()> {
    let prog: Vec<SockFilter> = source_filter(sources)
        .iter()
        .map(|op| SockFilter::new(op.code, op.jt, op.jf, op.k))
        .collect();
    SockRef::from(sock).attach_filter(&prog)
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
