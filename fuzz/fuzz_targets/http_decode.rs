//! `decode_request` on arbitrary bodies, under every content type and encoding.
//!
//! The first byte chooses the request's headers, the rest is the body:
//!
//! | bits | meaning |
//! |---|---|
//! | 0–1 | content type: `application/json`, `application/x-ndjson`, `text/plain`, none |
//! | 2 | `Content-Encoding: gzip` |
//! | 3 | with gzip: compress the body here, so the JSON decoders see fuzzed text; without, the raw bytes are the gzip stream |
//! | 4 | append `; charset=utf-8` to the content type |
//!
//! Beyond not panicking, a success must respect `max_events`.

#![no_main]

use flate2::write::GzEncoder;
use flate2::Compression;
use libfuzzer_sys::fuzz_target;
use sluice::decode::{decode_request, DecodeLimits};
use std::io::Write as _;

const CONTENT_TYPES: [Option<&str>; 4] =
    [Some("application/json"), Some("application/x-ndjson"), Some("text/plain"), None];

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let limits = DecodeLimits { max_inflated: 1 << 20, max_events: 10_000 };
    let gzip = selector & 0b100 != 0;
    let body = if gzip && selector & 0b1000 != 0 { compress(rest) } else { rest.to_vec() };
    let content_type = CONTENT_TYPES[usize::from(selector & 0b11)].map(|media| {
        if selector & 0b1_0000 != 0 {
            format!("{media}; charset=utf-8")
        } else {
            media.to_owned()
        }
    });
    let encoding = gzip.then_some("gzip");
    if let Ok(events) = decode_request(content_type.as_deref(), encoding, &body, &limits) {
        assert!(events.len() <= limits.max_events, "{} events over the limit", events.len());
    }
});

/// `plain` as one gzip member.
fn compress(plain: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::fast());
    encoder.write_all(plain).expect("writing to a Vec cannot fail");
    encoder.finish().expect("writing to a Vec cannot fail")
}
