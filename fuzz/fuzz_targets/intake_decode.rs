//! The intakes' decoders on arbitrary bodies: OTLP logs in protobuf and in
//! JSON (`otlp_http` source), and plain JSON objects (`format = "json"`).
//!
//! The first byte chooses the decoder, the rest is the body:
//!
//! | byte % 4 | decoder |
//! |---|---|
//! | 0 | OTLP protobuf |
//! | 1 | OTLP JSON |
//! | 2 | plain JSON, each object whole |
//! | 3 | plain JSON with `body_field`, `header_fields` and `timestamp_field` |
//!
//! Beyond not panicking, a success must respect `max_events`.

#![no_main]

use libfuzzer_sys::fuzz_target;
use sluice::decode::plain_json::PlainJson;
use sluice::decode::DecodeLimits;
use sluice::otlp::{decode_logs, Encoding, Mapping};

fuzz_target!(|data: &[u8]| {
    let Some((&selector, body)) = data.split_first() else {
        return;
    };
    let limits = DecodeLimits { max_inflated: 1 << 20, max_events: 1000 };
    match selector % 4 {
        choice @ (0 | 1) => {
            let encoding = if choice == 0 { Encoding::Protobuf } else { Encoding::Json };
            if let Ok(decoded) = decode_logs(encoding, body, &limits, &Mapping::default()) {
                let records = decoded.events.len() as u64 + decoded.rejected;
                assert!(records <= limits.max_events as u64, "{records} records over the limit");
            }
        }
        choice => {
            let plain = if choice == 2 {
                PlainJson::default()
            } else {
                PlainJson {
                    body_field: Some("log".into()),
                    header_fields: vec!["host".into(), "level".into()],
                    timestamp_field: Some("date".into()),
                }
            };
            if let Ok(events) = plain.decode_request(None, None, body, &limits) {
                assert!(events.len() <= limits.max_events, "{} events over the limit", events.len());
            }
        }
    }
});
