//! One accepted connection, plain or TLS, and its ways to end: gracefully, with a
//! reset, or held open.

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use super::HOLD_FOR;
use super::http;
use super::server::Shared;

/// How long we wait for the client to close after we are done writing.
const LINGER: Duration = Duration::from_secs(2);

pub(super) enum Conn {
    Plain(TcpStream),
    Tls(Box<rustls::StreamOwned<rustls::ServerConnection, TcpStream>>),
}

impl Conn {
    fn tcp(&self) -> &TcpStream {
        match self {
            Conn::Plain(s) => s,
            Conn::Tls(s) => &s.sock,
        }
    }

    pub(super) fn is_tls(&self) -> bool {
        matches!(self, Conn::Tls(_))
    }

    /// Status, `Content-Type` and body, then a graceful end.
    pub(super) fn answer(mut self, code: u16, content_type: &str, body: &[u8]) {
        let _ = http::write_response(
            &mut self,
            code,
            &[("Content-Type", content_type)],
            body,
            None,
        );
        self.finish();
    }

    /// Graceful end: TLS close_notify, FIN, then wait (bounded) for the
    /// client to close so unread data never turns our close into an RST.
    pub(super) fn finish(mut self) {
        if let Conn::Tls(s) = &mut self {
            s.conn.send_close_notify();
            let _ = s.flush();
        }
        let tcp = self.tcp();
        let _ = tcp.shutdown(Shutdown::Write);
        let _ = tcp.set_read_timeout(Some(LINGER));
        let deadline = Instant::now() + LINGER;
        let mut buf = [0u8; 4096];
        let mut raw = tcp;
        while Instant::now() < deadline {
            match raw.read(&mut buf) {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => break,
            }
        }
    }

    /// Close with RST.
    pub(super) fn reset(self) {
        set_linger_zero(self.tcp());
        // Dropping closes the fd; with SO_LINGER 0 the kernel sends RST.
    }

    /// Keep the socket open, discarding input, until the client closes, the
    /// Provider is dropped (which shuts the socket down), or HOLD_FOR passes.
    pub(super) fn hold(self, shared: &Shared) {
        let deadline = Instant::now() + HOLD_FOR;
        let mut raw = self.tcp();
        let mut buf = [0u8; 4096];
        loop {
            if shared.stopped() {
                return;
            }
            let now = Instant::now();
            if now >= deadline {
                return;
            }
            if raw.set_read_timeout(Some(deadline - now)).is_err() {
                return;
            }
            match raw.read(&mut buf) {
                Ok(0) => return,
                Ok(_) => {}
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::Interrupted
                            | io::ErrorKind::WouldBlock
                            | io::ErrorKind::TimedOut
                    ) => {}
                Err(_) => return,
            }
        }
    }
}

impl Read for Conn {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Conn::Plain(s) => s.read(buf),
            Conn::Tls(s) => s.read(buf),
        }
    }
}

impl Write for Conn {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Conn::Plain(s) => s.write(buf),
            Conn::Tls(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Conn::Plain(s) => s.flush(),
            Conn::Tls(s) => s.flush(),
        }
    }
}

fn set_linger_zero(s: &TcpStream) {
    let linger = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: a live, correctly sized `linger` for SO_LINGER on a socket we own.
    unsafe {
        libc::setsockopt(
            s.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            &linger as *const libc::linger as *const libc::c_void,
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        );
    }
}
