//! Reply bodies of an OTLP/HTTP receiver, in the encoding of the request:
//! `ExportLogsServiceResponse` on success, `google.rpc.Status` on failure.

use super::wire::{put_bytes, put_varint_field};
use super::Encoding;
use crate::sink::format::write_str;

/// The body of a 200: empty on full success, with `partialSuccess` when
/// `rejected` records were refused.
pub fn export_response(encoding: Encoding, rejected: u64, message: &str) -> Vec<u8> {
    match encoding {
        Encoding::Protobuf => {
            if rejected == 0 {
                return Vec::new();
            }
            let mut partial = Vec::new();
            put_varint_field(&mut partial, 1, rejected);
            put_bytes(&mut partial, 2, message.as_bytes());
            let mut out = Vec::new();
            put_bytes(&mut out, 1, &partial);
            out
        }
        Encoding::Json if rejected == 0 => b"{}".to_vec(),
        Encoding::Json => {
            let mut out =
                format!("{{\"partialSuccess\":{{\"rejectedLogRecords\":\"{rejected}\",\"errorMessage\":").into_bytes();
            write_str(&mut out, message);
            out.extend_from_slice(b"}}");
            out
        }
    }
}

/// The body of a refusal: a `google.rpc.Status` with the code matching `http_status`.
pub fn status(encoding: Encoding, http_status: u16, message: &str) -> Vec<u8> {
    let code = grpc_code(http_status);
    match encoding {
        Encoding::Protobuf => {
            let mut out = Vec::new();
            put_varint_field(&mut out, 1, u64::from(code));
            put_bytes(&mut out, 2, message.as_bytes());
            out
        }
        Encoding::Json => {
            let mut out = format!("{{\"code\":{code},\"message\":").into_bytes();
            write_str(&mut out, message);
            out.push(b'}');
            out
        }
    }
}

/// The gRPC status code an HTTP status maps to (the mapping of the gRPC-HTTP spec, inverted).
pub fn grpc_code(http_status: u16) -> u32 {
    match http_status {
        400 | 413 | 415 => 3, // INVALID_ARGUMENT
        401 => 16,            // UNAUTHENTICATED
        403 => 7,             // PERMISSION_DENIED
        404 => 5,             // NOT_FOUND
        405 | 501 => 12,      // UNIMPLEMENTED
        429 => 8,             // RESOURCE_EXHAUSTED
        503 => 14,            // UNAVAILABLE
        _ => 13,              // INTERNAL
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_follow_the_http_status() {
        let table =
            [(400, 3), (401, 16), (403, 7), (404, 5), (405, 12), (413, 3), (415, 3), (429, 8), (500, 13), (503, 14)];
        for (http, grpc) in table {
            assert_eq!(grpc_code(http), grpc, "{http}");
        }
    }

    #[test]
    fn replies_in_both_encodings() {
        assert_eq!(export_response(Encoding::Protobuf, 0, ""), b"");
        assert_eq!(export_response(Encoding::Json, 0, ""), b"{}");
        assert_eq!(export_response(Encoding::Protobuf, 2, "x"), [0x0a, 0x05, 0x08, 0x02, 0x12, 0x01, b'x']);
        assert_eq!(
            String::from_utf8(export_response(Encoding::Json, 2, "a \"b\"")).unwrap(),
            r#"{"partialSuccess":{"rejectedLogRecords":"2","errorMessage":"a \"b\""}}"#
        );
        assert_eq!(status(Encoding::Protobuf, 400, "no"), [0x08, 0x03, 0x12, 0x02, b'n', b'o']);
        assert_eq!(String::from_utf8(status(Encoding::Json, 503, "full")).unwrap(), r#"{"code":14,"message":"full"}"#);
    }
}
