//! `codec::decode` on arbitrary stored rows, and `encode` ∘ `decode` on what decodes.
//!
//! A row that decodes must re-encode, and that encoding must decode to the same
//! events (byte equality with the input is not expected: LZ4 and postcard admit
//! several encodings of one value). Encoding twice must give the same bytes.

#![no_main]

use libfuzzer_sys::fuzz_target;
use sluice::channel::codec;

fuzz_target!(|data: &[u8]| {
    let Ok(events) = codec::decode(data) else {
        return;
    };
    let encoded = codec::encode(&events).expect("decoded events re-encode");
    let again = codec::decode(&encoded).expect("a fresh encoding decodes");
    assert_eq!(again, events, "roundtrip changed the events");
    assert_eq!(codec::encode(&again).expect("re-encode"), encoded, "encoding is not deterministic");
});
