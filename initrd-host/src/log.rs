//! Log lines to stderr and, when it can be opened, to the kernel log
//! (`/dev/kmsg`): late in a shutdown the console and the kernel's ring buffer
//! (kept by pstore or a serial console) are all that is left to read.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::sync::{Arc, Mutex};

use tracing::{Level, Metadata};
use tracing_subscriber::fmt::MakeWriter;

/// The kernel log device.
const KMSG: &str = "/dev/kmsg";

/// Where log lines go.
#[derive(Clone)]
pub struct LogSink {
    kmsg: Option<Arc<Mutex<File>>>,
}

impl LogSink {
    /// stderr, plus `/dev/kmsg` if it is writable here.
    pub fn open() -> LogSink {
        let kmsg = OpenOptions::new().write(true).open(KMSG).ok().map(|f| Arc::new(Mutex::new(f)));
        LogSink { kmsg }
    }
}

/// Install the subscriber: one line per event, no colours, no time (the
/// kernel stamps its own).
pub fn init() {
    tracing_subscriber::fmt()
        .with_writer(LogSink::open())
        .with_ansi(false)
        .without_time()
        .with_target(false)
        .with_max_level(Level::INFO)
        .init();
}

/// One event's writer: the formatter writes the whole line in one call.
pub struct EventWriter {
    kmsg: Option<Arc<Mutex<File>>>,
    /// syslog priority for the kernel log.
    priority: u8,
}

impl Write for EventWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let _ = io::stderr().write_all(buf);
        if let Some(kmsg) = &self.kmsg {
            // One write() is one kernel log record; "<N>" sets its priority.
            let mut record = format!("<{}>hazel-initrd: ", self.priority).into_bytes();
            record.extend_from_slice(buf);
            if let Ok(mut file) = kmsg.lock() {
                let _ = file.write(&record);
            }
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        io::stderr().flush()
    }
}

impl<'a> MakeWriter<'a> for LogSink {
    type Writer = EventWriter;

    fn make_writer(&'a self) -> EventWriter {
        EventWriter { kmsg: self.kmsg.clone(), priority: 6 }
    }

    fn make_writer_for(&'a self, meta: &Metadata<'_>) -> EventWriter {
        let priority = match *meta.level() {
            Level::ERROR => 3,
            Level::WARN => 4,
            Level::INFO => 6,
            _ => 7,
        };
        EventWriter { kmsg: self.kmsg.clone(), priority }
    }
}
