//! The storage encoding of a batch of events: postcard, then LZ4.
//!
//! Log-like events compress 3–6× with LZ4 at several hundred MB/s, which is what
//! keeps the bytes written to flash per byte ingested low. A one-byte tag in front
//! lets later versions change the encoding without a migration.

use crate::error::{Error, Result};
use crate::event::Event;

/// postcard-encoded `Vec<Event>`, LZ4 block-compressed with the length prepended.
const TAG_POSTCARD_LZ4: u8 = 1;

/// Encodes `events` for storage.
///
/// # Errors
/// Only if serialization fails, which postcard does not do for these types.
pub fn encode<E: serde::Serialize>(events: &[E]) -> Result<Vec<u8>> {
    let plain = postcard::to_allocvec(events).map_err(|e| Error::storage(format!("encode events: {e}")))?;
    let mut out = Vec::with_capacity(plain.len() / 2 + 8);
    out.push(TAG_POSTCARD_LZ4);
    out.extend_from_slice(&lz4_flex::compress_prepend_size(&plain));
    Ok(out)
}

/// Upper bound on the decompressed size of one stored batch, so a corrupt length
/// cannot make us allocate without limit. Far above any batch a sink takes.
const MAX_PLAIN_BYTES: usize = 1 << 30;

/// Decodes what [`encode`] wrote.
///
/// # Errors
/// [`crate::ErrorKind::Storage`] naming what is wrong; the caller quarantines the row.
pub fn decode(bytes: &[u8]) -> Result<Vec<Event>> {
    let (&tag, rest) = bytes.split_first().ok_or_else(|| Error::storage("corrupt row: empty"))?;
    if tag != TAG_POSTCARD_LZ4 {
        return Err(Error::storage(format!("corrupt row: unknown encoding tag {tag}")));
    }
    let declared = rest.get(..4).map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize);
    // LZ4 inflates at most 255x: a larger declared size is corrupt, and must not be allocated.
    let plausible = |n: usize| n <= MAX_PLAIN_BYTES && n <= rest.len().saturating_mul(255).saturating_add(16);
    if !declared.is_some_and(plausible) {
        return Err(Error::storage("corrupt row: bad length"));
    }
    let plain = lz4_flex::decompress_size_prepended(rest).map_err(|e| Error::storage(format!("corrupt row: {e}")))?;
    postcard::from_bytes(&plain).map_err(|e| Error::storage(format!("corrupt row: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip() -> Result<()> {
        let events: Vec<Event> =
            (0..100).map(|i| Event::new(format!("GET /item/{i} 200")).with_header("host", "a")).collect();
        let bytes = encode(&events)?;
        assert_eq!(decode(&bytes)?, events);
        Ok(())
    }

    /// Two copies of one event (id 0x0123…6677, 1,700,000,000,123 ms, `high`,
    /// header host=gw-1, body "GET /a 200") as this version stores them.
    const STORED_ROW: [u8; 65] = [
        1, 95, 0, 0, 0, 255, 33, 2, 247, 204, 213, 162, 180, 198, 200, 136, 128, 222, 183, 222, 154, 241, 217, 162,
        163, 2, 251, 208, 149, 255, 188, 49, 2, 1, 4, 104, 111, 115, 116, 4, 103, 119, 45, 49, 10, 71, 69, 84, 32, 47,
        97, 32, 50, 48, 48, 47, 0, 22, 96, 47, 97, 32, 50, 48, 48,
    ];

    #[test]
    fn rows_stored_by_this_version_keep_decoding() -> Result<()> {
        // A change to the tag, the framing or the event's serde layout breaks
        // every buffer on every device: this fixture must keep decoding as is.
        let event = Event {
            id: crate::event::EventId(0x0123_4567_89ab_cdef_0011_2233_4455_6677),
            timestamp_ms: 1_700_000_000_123,
            priority: crate::event::Priority::High,
            headers: vec![("host".into(), "gw-1".into())],
            body: b"GET /a 200".to_vec(),
        };
        assert_eq!(decode(&STORED_ROW)?, vec![event.clone(), event.clone()]);
        // Encoding may pick other LZ4 matches in a later lz4_flex; the tag, the
        // declared plain size and what it decodes to must stay.
        let bytes = encode(&[event.clone(), event.clone()])?;
        assert_eq!(bytes[..5], STORED_ROW[..5]);
        assert_eq!(decode(&bytes)?, vec![event.clone(), event]);
        Ok(())
    }

    #[test]
    fn a_truncated_row_is_an_error_not_a_short_batch() -> Result<()> {
        let events: Vec<Event> = (0..200).map(|i| Event::new(format!("GET /item/{i} 200"))).collect();
        let bytes = encode(&events)?;
        assert!(decode(&bytes[..bytes.len() - 3]).is_err());
        assert_eq!(decode(&bytes)?, events);
        Ok(())
    }

    #[test]
    fn corrupt_input_is_an_error_not_a_panic() {
        assert!(decode(&[]).is_err());
        assert!(decode(&[9, 1, 2]).is_err());
        assert!(decode(&[1, 255, 255, 255, 255, 0]).is_err());
        assert!(decode(&[1, 4, 0, 0, 0, 1, 2]).is_err());
        assert!(decode(&[1, 0xff, 0xff, 0xff, 0x3f, 0]).is_err(), "1 GiB declared by 6 bytes is not allocated");
    }
}
