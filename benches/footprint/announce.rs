//! The benchmark's own listener for gateway announcements: a socket on 0.0.0.0:5350
//! shared with the daemon's (SO_REUSEADDR, SO_REUSEPORT: each socket gets its copy of a
//! multicast datagram), joined to 224.0.0.1 on one interface, that stamps each datagram
//! with the kernel's arrival time (SO_TIMESTAMPNS) rather than the moment our thread
//! happens to run. Datagrams are parsed with `dynhost::gateway::announce::parse`.

use std::io;
use std::mem::{size_of, zeroed};
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::os::fd::{AsRawFd, OwnedFd};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use dynhost::gateway::Announced;
use dynhost::gateway::announce::{ALL_HOSTS, parse};
use dynhost::gateway::sock::{setsockopt, shared_multicast};

/// One datagram as received.
#[derive(Clone, Copy, Debug)]
pub struct Heard {
    /// When the kernel received it, on the monotonic clock.
    pub at: Instant,
    /// When our thread read it.
    pub read_at: Instant,
    pub src: SocketAddr,
    pub announced: Announced,
}

pub struct Socket {
    fd: OwnedFd,
}

impl Socket {
    /// Bound to 0.0.0.0:`port`, joined to 224.0.0.1 on interface `ifindex`, reads time
    /// out after `timeout` (so that a thread can stop). Call it in the namespace of the
    /// interface.
    pub fn bind(port: u16, ifindex: u32, timeout: Duration) -> io::Result<Socket> {
        let what = |what: &'static str| {
            move |e: io::Error| io::Error::new(e.kind(), format!("{what}: {e}"))
        };
        // The daemon's own socket setup (SO_REUSEADDR, SO_REUSEPORT, IP_MULTICAST_ALL
        // off, the membership), then blocking reads that time out, kernel stamps on.
        let sock = shared_multicast(
            SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, port),
            ALL_HOSTS,
            ifindex,
            Ipv4Addr::UNSPECIFIED,
        )
        .map_err(what("bind 0.0.0.0 and join 224.0.0.1"))?;
        sock.set_nonblocking(false).map_err(what("blocking mode"))?;
        sock.set_read_timeout(Some(timeout))
            .map_err(what("SO_RCVTIMEO"))?;
        let one: libc::c_int = 1;
        setsockopt(
            sock.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_TIMESTAMPNS,
            &one,
        )
        .map_err(what("SO_TIMESTAMPNS"))?;
        Ok(Socket { fd: sock.into() })
    }

    /// The next well-formed announcement; `Ok(None)` when the read timed out or the
    /// datagram was not an announcement.
    pub fn recv(&self) -> io::Result<Option<Heard>> {
        let mut buf = [0u8; 1500];
        // Room for one SCM_TIMESTAMPNS (a timespec) and its header, 8-byte aligned.
        let mut control = [0u64; 16];
        // SAFETY: all-zero is a valid sockaddr_in and msghdr.
        let mut from: libc::sockaddr_in = unsafe { zeroed() };
        let mut iov = libc::iovec {
            iov_base: buf.as_mut_ptr().cast(),
            iov_len: buf.len(),
        };
        // SAFETY: as above.
        let mut msg: libc::msghdr = unsafe { zeroed() };
        msg.msg_name = (&mut from as *mut libc::sockaddr_in).cast();
        msg.msg_namelen = size_of::<libc::sockaddr_in>() as libc::socklen_t;
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control.as_mut_ptr().cast();
        msg.msg_controllen = size_of::<[u64; 16]>() as _;
        // SAFETY: every pointer in `msg` points to live buffers of the sizes given.
        let n = unsafe { libc::recvmsg(self.fd.as_raw_fd(), &mut msg, 0) };
        let (read_at, read_wall) = (Instant::now(), SystemTime::now());
        if n < 0 {
            let e = io::Error::last_os_error();
            return match e.kind() {
                io::ErrorKind::WouldBlock
                | io::ErrorKind::TimedOut
                | io::ErrorKind::Interrupted => Ok(None),
                _ => Err(e),
            };
        }
        let Ok(announced) = parse(&buf[..n as usize]) else {
            return Ok(None);
        };
        let mut kernel: Option<libc::timespec> = None;
        // SAFETY: the CMSG_* walk stays within `control`, as recvmsg filled it in.
        unsafe {
            let mut c = libc::CMSG_FIRSTHDR(&msg);
            while !c.is_null() {
                if (*c).cmsg_level == libc::SOL_SOCKET && (*c).cmsg_type == libc::SCM_TIMESTAMPNS {
                    kernel = Some(std::ptr::read_unaligned(libc::CMSG_DATA(c).cast()));
                }
                c = libc::CMSG_NXTHDR(&msg, c);
            }
        }
        let ts = kernel.ok_or_else(|| io::Error::other("no SO_TIMESTAMPNS on a datagram"))?;
        // The kernel stamps on the realtime clock: carry the delay it gives over to the
        // monotonic one (both read together just above).
        let arrived = UNIX_EPOCH + Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32);
        let delay = read_wall.duration_since(arrived).unwrap_or(Duration::ZERO);
        let src = SocketAddr::V4(SocketAddrV4::new(
            Ipv4Addr::from(u32::from_be(from.sin_addr.s_addr)),
            u16::from_be(from.sin_port),
        ));
        Ok(Some(Heard {
            at: read_at - delay,
            read_at,
            src,
            announced,
        }))
    }
}
