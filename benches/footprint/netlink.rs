//! The benchmark's own rtnetlink sockets: one that adds and deletes addresses, one
//! request and ack at a time, and a monitor that stamps each IPv4 address notification
//! on arrival. Messages are built and read with dynhost's `netlink::wire`.

use std::net::{IpAddr, Ipv4Addr};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use dynhost::netlink::wire::{
    self, Header, Message, NLMSG_ERROR, RTM_DELADDR, RTM_NEWADDR, RTNLGRP_IPV4_IFADDR,
};
use netlink_sys::protocols::NETLINK_ROUTE;
use netlink_sys::{Socket, SocketAddr};

/// An IPv4 address as `ip addr add LOCAL/PREFIX [peer PEER]` gives it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct V4 {
    pub local: Ipv4Addr,
    pub prefix: u8,
    pub peer: Option<Ipv4Addr>,
}

/// A socket that adds and deletes addresses, one acknowledged request at a time.
pub struct Rtnl {
    socket: Socket,
    seq: u32,
    buf: Vec<u8>,
}

impl Rtnl {
    /// In the calling thread's network namespace.
    pub fn new() -> Rtnl {
        let mut socket = Socket::new(NETLINK_ROUTE).expect("netlink socket");
        socket.bind_auto().expect("netlink bind");
        Rtnl {
            socket,
            seq: 0,
            buf: Vec::with_capacity(64 * 1024),
        }
    }

    /// Adds (or deletes) `a` on `ifindex`; returns when the kernel's ack arrived.
    /// Panics if the kernel refuses.
    pub fn addr(&mut self, add: bool, ifindex: u32, a: V4) -> Instant {
        self.seq += 1;
        let kind = if add { RTM_NEWADDR } else { RTM_DELADDR };
        let request = wire::addr_request(
            kind,
            ifindex,
            IpAddr::V4(a.local),
            a.prefix,
            a.peer.map(IpAddr::V4),
            self.seq,
        );
        self.socket
            .send_to(&request, &SocketAddr::new(0, 0), 0)
            .expect("netlink send");
        loop {
            self.buf.clear();
            self.socket.recv(&mut self.buf, 0).expect("netlink ack");
            let at = Instant::now();
            for (h, p) in wire::messages(&self.buf).map_while(Result::ok) {
                if h.kind != NLMSG_ERROR || h.seq != self.seq {
                    continue;
                }
                match wire::parse(h, p) {
                    // errno 0: the ack.
                    Ok(Message::Other) => return at,
                    Ok(Message::Error(errno)) => panic!(
                        "netlink {} {a:?} on ifindex {ifindex}: {}",
                        if add { "add" } else { "delete" },
                        std::io::Error::from_raw_os_error(errno)
                    ),
                    // Too short to carry an errno: not an answer.
                    _ => {}
                }
            }
        }
    }
}

/// `setsockopt(fd, SOL_SOCKET, opt, value)`, or a panic naming `what`.
fn set_sockopt<T>(fd: std::os::fd::RawFd, opt: libc::c_int, value: &T, what: &str) {
    // SAFETY: `value` is a live, correctly sized option value for `opt`; `fd` is ours.
    let rc = unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            opt,
            (value as *const T).cast(),
            size_of::<T>() as libc::socklen_t,
        )
    };
    assert_eq!(rc, 0, "{what}: {}", std::io::Error::last_os_error());
}

/// One IPv4 address notification, as received.
#[derive(Clone, Copy, Debug)]
pub struct Event {
    pub at: Instant,
    pub new: bool,
    pub ifindex: u32,
    /// IFA_LOCAL (our end on a point-to-point link), else IFA_ADDRESS.
    pub local: Ipv4Addr,
}

#[derive(Default)]
struct Log {
    events: Mutex<Vec<Event>>,
    grew: Condvar,
    overrun: AtomicBool,
}

/// A thread receiving RTNLGRP_IPV4_IFADDR notifications and stamping each on arrival.
pub struct Monitor {
    log: Arc<Log>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Monitor {
    /// Subscribes in the calling thread's network namespace.
    pub fn start() -> Monitor {
        let mut socket = Socket::new(NETLINK_ROUTE).expect("netlink socket");
        socket.bind_auto().expect("netlink bind");
        socket
            .add_membership(RTNLGRP_IPV4_IFADDR)
            .expect("netlink membership");
        let fd = socket.as_raw_fd();
        // Room for a whole storm (root may exceed rmem_max), and a timeout to stop.
        let size: libc::c_int = 64 << 20;
        let tv = libc::timeval {
            tv_sec: 0,
            tv_usec: 200_000,
        };
        set_sockopt(fd, libc::SO_RCVBUFFORCE, &size, "SO_RCVBUFFORCE");
        set_sockopt(fd, libc::SO_RCVTIMEO, &tv, "SO_RCVTIMEO");
        let log = Arc::new(Log::default());
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (log, stop) = (log.clone(), stop.clone());
            std::thread::spawn(move || receive(&socket, &log, &stop))
        };
        Monitor {
            log,
            stop,
            thread: Some(thread),
        }
    }

    /// The position of the next event.
    pub fn mark(&self) -> usize {
        self.log.events.lock().unwrap().len()
    }

    /// The first event from position `from` on that satisfies `pred`.
    pub fn wait(
        &self,
        from: usize,
        timeout: Duration,
        pred: impl Fn(&Event) -> bool,
    ) -> Option<Event> {
        let deadline = Instant::now() + timeout;
        let mut events = self.log.events.lock().unwrap();
        loop {
            if let Some(e) = events.iter().skip(from).find(|e| pred(e)) {
                return Some(*e);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return None;
            }
            events = self.log.grew.wait_timeout(events, left).unwrap().0;
        }
    }

    /// Waits until `n` events from `from` on satisfy `pred`; returns how many did.
    pub fn wait_count(
        &self,
        from: usize,
        n: usize,
        timeout: Duration,
        pred: impl Fn(&Event) -> bool,
    ) -> usize {
        let deadline = Instant::now() + timeout;
        let mut events = self.log.events.lock().unwrap();
        loop {
            let count = events.iter().skip(from).filter(|e| pred(e)).count();
            let left = deadline.saturating_duration_since(Instant::now());
            if count >= n || left.is_zero() {
                return count;
            }
            events = self.log.grew.wait_timeout(events, left).unwrap().0;
        }
    }

    /// Whether the kernel dropped notifications for us (counts are then low).
    pub fn overrun(&self) -> bool {
        self.log.overrun.load(Ordering::SeqCst)
    }
}

impl Drop for Monitor {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn receive(socket: &Socket, log: &Log, stop: &AtomicBool) {
    let mut buf = Vec::with_capacity(256 * 1024);
    while !stop.load(Ordering::SeqCst) {
        buf.clear();
        match socket.recv(&mut buf, 0) {
            Ok(_) => {
                let at = Instant::now();
                let mut events = log.events.lock().unwrap();
                for (h, p) in wire::messages(&buf).map_while(Result::ok) {
                    events.extend(event(h, p, at));
                }
                log.grew.notify_all();
            }
            Err(e) if e.raw_os_error() == Some(libc::ENOBUFS) => {
                log.overrun.store(true, Ordering::SeqCst);
            }
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock
                        | std::io::ErrorKind::TimedOut
                        | std::io::ErrorKind::Interrupted
                ) => {}
            Err(e) => panic!("netlink monitor: {e}"),
        }
    }
}

/// An IPv4 RTM_NEWADDR or RTM_DELADDR with an address; anything else is not ours.
fn event(h: Header, p: &[u8], at: Instant) -> Option<Event> {
    let Ok(Message::Addr {
        info: Some(info),
        index,
        removed,
        ..
    }) = wire::parse(h, p)
    else {
        return None;
    };
    match info.addr {
        IpAddr::V4(local) => Some(Event {
            at,
            new: !removed,
            ifindex: index,
            local,
        }),
        IpAddr::V6(_) => None,
    }
}
