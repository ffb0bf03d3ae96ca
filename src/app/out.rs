//! Standard output for every command that prints. A reader that stops early
//! (`dynhost status | head`) closes the pipe: that is a normal end, not an error, so the
//! rest of the output is dropped quietly. `println!` would panic there (and the panic
//! hook aborts, exit 134).

use std::fmt;
use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, Ordering};

/// Set once the reader is gone: nothing more is written.
static CLOSED: AtomicBool = AtomicBool::new(false);

/// Writes `args` to stdout and flushes. A closed pipe ends the output silently; any
/// other failure (a full disk behind a redirection) is said once on stderr.
pub fn write(args: fmt::Arguments<'_>) {
    if CLOSED.load(Ordering::Relaxed) {
        return;
    }
    let mut out = io::stdout().lock();
    let result = out.write_fmt(args).and_then(|()| out.flush());
    if let Err(e) = result {
        CLOSED.store(true, Ordering::Relaxed);
        if e.kind() != io::ErrorKind::BrokenPipe {
            let _ = writeln!(io::stderr(), "dynhost: cannot write the output: {e}");
        }
    }
}

/// `print!` that ends quietly on a closed pipe.
#[macro_export]
macro_rules! out {
    ($($arg:tt)*) => { $crate::app::out::write(format_args!($($arg)*)) };
}

/// `println!` that ends quietly on a closed pipe.
#[macro_export]
macro_rules! outln {
    () => { $crate::app::out::write(format_args!("\n")) };
    ($($arg:tt)*) => {
        $crate::app::out::write(format_args!("{}\n", format_args!($($arg)*)))
    };
}
