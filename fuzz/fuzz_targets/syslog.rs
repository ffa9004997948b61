//! The syslog intake on hostile bytes: RFC 6587 framing (octet counts that lie,
//! endless lines, digits that are not lengths) fed in arbitrary chunks, and each
//! frame through the RFC 3164/5424 parser. Nothing may panic; every frame stays
//! within the limit; the body lies inside the message; a malformed message is
//! marked with status Invalid.

#![no_main]

use libfuzzer_sys::fuzz_target;
use sluice::source::framing::{Framer, Framing};
use sluice::source::syslog::keep::KeepFields;
use sluice::source::syslog::parse::{parse, Body};

const MAX: usize = 300;

fuzz_target!(|data: &[u8]| {
    let Some((&split, rest)) = data.split_first() else { return };
    let mut framer = Framer::new(if split % 2 == 0 { Framing::Syslog } else { Framing::Lines }, MAX);
    let step = usize::from(split / 2).max(1);
    let mut frames = Vec::new();
    for chunk in rest.chunks(step) {
        framer.push(chunk);
        while let Some(frame) = framer.next_frame() {
            frames.push(frame);
        }
    }
    frames.extend(framer.finish());
    for frame in frames {
        assert!(frame.data.len() <= MAX, "a frame of {} bytes passed the {MAX} limit", frame.data.len());
        let parsed = parse(&frame.data, frame.truncated);
        let keep = KeepFields { hostname: split % 3 == 0, priority: split % 5 == 0, ..KeepFields::default() };
        if let Body::Part(body) = parsed.body(&frame.data, keep) {
            assert!(body.start <= body.end && body.end <= frame.data.len(), "body {body:?} outside the message");
        }
        let status = parsed.headers.iter().find(|(k, _)| *k == "flume.syslog.status").map(|(_, v)| v.as_str());
        if parsed.invalid {
            assert_eq!(status, Some("Invalid"));
        }
    }
    // The parser alone, on the raw bytes.
    let _ = parse(rest, false);
});
