//! Flume's Avro RPC replies as a hostile upstream might send them: the Netty
//! frame reader, then the reply decoder with and without a handshake. Any
//! input must give a value or an error: never a panic, a hang or a huge allocation.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sluice::sink::flume_avro::{codec, framing};

fuzz_target!(|data: &[u8]| {
    let _ = codec::decode_reply(data, true);
    let _ = codec::decode_reply(data, false);
    let mut reader = data;
    while let Ok((_, reply)) = framing::read_pack(&mut reader) {
        let _ = codec::decode_reply(&reply, true);
        let _ = codec::decode_reply(&reply, false);
    }
});
