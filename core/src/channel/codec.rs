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

    #[test]
    fn the_stored_layout_is_tag_then_size_prepended_lz4_of_postcard() -> Result<()> {
        // Rows written by earlier versions must keep decoding: pin the layout.
        let events: Vec<Event> = (0..50).map(|i| Event::new(format!("line {i}"))).collect();
        let bytes = encode(&events)?;
        assert_eq!(bytes[0], TAG_POSTCARD_LZ4);
        let plain = lz4_flex::decompress_size_prepended(&bytes[1..]).unwrap();
        assert_eq!(plain, postcard::to_allocvec(&events).unwrap());
        let mut legacy = vec![TAG_POSTCARD_LZ4];
        legacy.extend_from_slice(&lz4_flex::compress_prepend_size(&plain));
        assert_eq!(decode(&legacy)?, events);
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
