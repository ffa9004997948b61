//! The `compression-type = deflate` stream reader: whatever bytes an upstream
//! sends, reading frames from them ends in frames or an error, never a panic
//! or a loop that makes no progress.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sluice::sink::flume_avro::{codec, framing};

fuzz_target!(|data: &[u8]| {
    let mut stream = framing::Zlib::new(data, std::io::sink(), 6);
    for _ in 0..64 {
        match framing::read_pack(&mut stream) {
            Ok((_, reply)) => {
                let _ = codec::decode_reply(&reply, true);
            }
            Err(_) => break,
        }
    }
});
