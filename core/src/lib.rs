//! Sluice: a lean, durable event collector for gateways and phones.
//!
//! An [`Event`] enters through a source, passes interceptors, is put into a
//! durable [`channel`] in one transaction, and a sink takes it out in batches,
//! ships them upstream and commits only when the upstream acknowledged.
//! Nothing acknowledged is lost; nothing is dropped silently.

#![forbid(unsafe_code)]
#![warn(missing_docs, rust_2018_idioms)]

pub mod agent;
pub mod calendar;
pub mod channel;
pub mod config;
pub mod convert;
pub mod decode;
pub mod error;
pub mod event;
pub mod http_server;
pub mod interceptor;
pub mod metrics;
pub mod mobile;
pub mod otlp;
pub mod registry;
pub mod reload;
pub mod runner;
pub mod selector;
pub mod sink;
pub mod source;
pub mod stop;
pub mod units;
pub mod workers;

pub use channel::{Channel, PutError, Taken};
pub use error::{Error, ErrorKind, Result};
pub use event::{Event, EventId, Priority};
