//! The `application/vnd.amazon.eventstream` binary framing of Bedrock's streamed answers:
//! each message is a prelude (total length, headers length, prelude CRC32), headers, the
//! payload and a CRC32 of everything before it. Messages may be split across chunks anywhere;
//! at most one message (up to [`MAX_MESSAGE_BYTES`]) is carried over.

use std::fmt;

/// The longest message accepted (AWS's own limit is 16 MiB).
pub const MAX_MESSAGE_BYTES: usize = 16 << 20;
const PRELUDE: usize = 12;
const MIN_MESSAGE: usize = PRELUDE + 4;

/// A header value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeaderValue {
    /// Boolean.
    Bool(bool),
    /// Any integer type.
    Int(i64),
    /// Bytes.
    Bytes(Vec<u8>),
    /// A string.
    String(String),
    /// Milliseconds since the epoch.
    Timestamp(i64),
    /// A UUID.
    Uuid([u8; 16]),
}

/// One decoded message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// Its headers, in order.
    pub headers: Vec<(String, HeaderValue)>,
    /// Its payload.
    pub payload: Vec<u8>,
}

impl Message {
    /// A string header's value (`:event-type`, `:message-type`, `:exception-type`...).
    pub fn header_str(&self, name: &str) -> Option<&str> {
        self.headers.iter().find_map(|(n, v)| match v {
            HeaderValue::String(s) if n == name => Some(s.as_str()),
            _ => None,
        })
    }
}

/// Why a stream cannot be decoded (it must be abandoned: framing is lost).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FrameError {
    /// A length outside what the format allows.
    Length(usize),
    /// The prelude's CRC does not match.
    PreludeCrc,
    /// The message's CRC does not match.
    MessageCrc,
    /// Headers that cannot be read.
    Header,
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FrameError::Length(n) => write!(f, "event-stream message length {n} is invalid"),
            FrameError::PreludeCrc => f.write_str("event-stream prelude checksum mismatch"),
            FrameError::MessageCrc => f.write_str("event-stream message checksum mismatch"),
            FrameError::Header => f.write_str("event-stream headers are malformed"),
        }
    }
}

impl std::error::Error for FrameError {}

/// Decodes messages from chunks split anywhere.
#[derive(Debug, Default)]
pub struct Decoder {
    buffer: Vec<u8>,
}

fn be_u32(bytes: &[u8]) -> usize {
    let mut word = [0u8; 4];
    word.copy_from_slice(&bytes[..4]);
    u32::from_be_bytes(word) as usize
}

impl Decoder {
    /// A decoder.
    pub fn new() -> Self {
        Decoder::default()
    }

    /// Feeds one chunk; returns the messages it completed.
    pub fn feed(&mut self, chunk: &[u8]) -> Result<Vec<Message>, FrameError> {
        self.buffer.extend_from_slice(chunk);
        let mut messages = Vec::new();
        let mut start = 0;
        loop {
            let rest = &self.buffer[start..];
            if rest.len() < PRELUDE {
                break;
            }
            let total = be_u32(rest);
            if !(MIN_MESSAGE..=MAX_MESSAGE_BYTES).contains(&total) {
                return Err(FrameError::Length(total));
            }
            if crc32fast::hash(&rest[..8]) as usize != be_u32(&rest[8..]) {
                return Err(FrameError::PreludeCrc);
            }
            if rest.len() < total {
                break;
            }
            messages.push(decode_message(&rest[..total])?);
            start += total;
        }
        self.buffer.drain(..start);
        Ok(messages)
    }

    /// Bytes of an incomplete message held.
    pub fn carried(&self) -> usize {
        self.buffer.len()
    }
}

fn decode_message(message: &[u8]) -> Result<Message, FrameError> {
    let total = message.len();
    let headers_len = be_u32(&message[4..]);
    if PRELUDE + headers_len + 4 > total {
        return Err(FrameError::Length(headers_len));
    }
    if crc32fast::hash(&message[..total - 4]) as usize != be_u32(&message[total - 4..]) {
        return Err(FrameError::MessageCrc);
    }
    let headers = decode_headers(&message[PRELUDE..PRELUDE + headers_len])?;
    Ok(Message {
        headers,
        payload: message[PRELUDE + headers_len..total - 4].to_vec(),
    })
}

fn take<'a>(bytes: &mut &'a [u8], n: usize) -> Result<&'a [u8], FrameError> {
    if bytes.len() < n {
        return Err(FrameError::Header);
    }
    let (head, tail) = bytes.split_at(n);
    *bytes = tail;
    Ok(head)
}

fn int(bytes: &[u8]) -> i64 {
    let mut word = [0u8; 8];
    let n = bytes.len().min(8);
    let fill = if bytes.first().is_some_and(|b| b & 0x80 != 0) {
        0xFF
    } else {
        0
    };
    word[..8 - n].fill(fill);
    word[8 - n..].copy_from_slice(&bytes[..n]);
    i64::from_be_bytes(word)
}

fn decode_headers(mut bytes: &[u8]) -> Result<Vec<(String, HeaderValue)>, FrameError> {
    let mut headers = Vec::new();
    while !bytes.is_empty() {
        let name_len = take(&mut bytes, 1)?[0] as usize;
        let name = String::from_utf8(take(&mut bytes, name_len)?.to_vec())
            .map_err(|_| FrameError::Header)?;
        let kind = take(&mut bytes, 1)?[0];
        let value = match kind {
            0 => HeaderValue::Bool(true),
            1 => HeaderValue::Bool(false),
            2 => HeaderValue::Int(int(take(&mut bytes, 1)?)),
            3 => HeaderValue::Int(int(take(&mut bytes, 2)?)),
            4 => HeaderValue::Int(int(take(&mut bytes, 4)?)),
            5 => HeaderValue::Int(int(take(&mut bytes, 8)?)),
            6 | 7 => {
                let len_bytes = take(&mut bytes, 2)?;
                let len = u16::from_be_bytes([len_bytes[0], len_bytes[1]]) as usize;
                let value = take(&mut bytes, len)?.to_vec();
                if kind == 6 {
                    HeaderValue::Bytes(value)
                } else {
                    HeaderValue::String(String::from_utf8(value).map_err(|_| FrameError::Header)?)
                }
            }
            8 => HeaderValue::Timestamp(int(take(&mut bytes, 8)?)),
            9 => {
                let mut uuid = [0u8; 16];
                uuid.copy_from_slice(take(&mut bytes, 16)?);
                HeaderValue::Uuid(uuid)
            }
            _ => return Err(FrameError::Header),
        };
        headers.push((name, value));
    }
    Ok(headers)
}

/// Encodes a message with string headers (tests and mock upstreams).
pub fn encode(headers: &[(&str, &str)], payload: &[u8]) -> Vec<u8> {
    let mut header_bytes = Vec::new();
    for (name, value) in headers {
        header_bytes.push(name.len() as u8);
        header_bytes.extend_from_slice(name.as_bytes());
        header_bytes.push(7);
        header_bytes.extend_from_slice(&(value.len() as u16).to_be_bytes());
        header_bytes.extend_from_slice(value.as_bytes());
    }
    let total = PRELUDE + header_bytes.len() + payload.len() + 4;
    let mut out = Vec::with_capacity(total);
    out.extend_from_slice(&(total as u32).to_be_bytes());
    out.extend_from_slice(&(header_bytes.len() as u32).to_be_bytes());
    let prelude_crc = crc32fast::hash(&out);
    out.extend_from_slice(&prelude_crc.to_be_bytes());
    out.extend_from_slice(&header_bytes);
    out.extend_from_slice(payload);
    let crc = crc32fast::hash(&out);
    out.extend_from_slice(&crc.to_be_bytes());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32_is_the_ieee_one() {
        assert_eq!(crc32fast::hash(b"123456789"), 0xCBF4_3926);
    }

    /// AWS's published `int32_header` test vector (aws-c-event-stream): one header
    /// `event-type` = int32 0x0000A00C, payload `{'foo':'bar'}` (both CRCs also checked with zlib).
    #[test]
    fn aws_published_vector() {
        let encoded: [u8; 45] = [
            0x00, 0x00, 0x00, 0x2D, 0x00, 0x00, 0x00, 0x10, 0x41, 0xC4, 0x24, 0xB8, 0x0A, 0x65,
            0x76, 0x65, 0x6E, 0x74, 0x2D, 0x74, 0x79, 0x70, 0x65, 0x04, 0x00, 0x00, 0xA0, 0x0C,
            0x7B, 0x27, 0x66, 0x6F, 0x6F, 0x27, 0x3A, 0x27, 0x62, 0x61, 0x72, 0x27, 0x7D, 0x36,
            0xF4, 0x80, 0xA0,
        ];
        let messages = Decoder::new().feed(&encoded).unwrap();
        assert_eq!(messages.len(), 1);
        assert_eq!(
            messages[0].headers,
            vec![("event-type".to_owned(), HeaderValue::Int(0xA00C))]
        );
        assert_eq!(messages[0].payload, b"{'foo':'bar'}");
        let mut corrupt = encoded;
        corrupt[30] ^= 1;
        assert_eq!(Decoder::new().feed(&corrupt), Err(FrameError::MessageCrc));
        corrupt = encoded;
        corrupt[2] = 0x01;
        assert_eq!(Decoder::new().feed(&corrupt), Err(FrameError::PreludeCrc));
    }

    #[test]
    fn split_anywhere() {
        let mut stream = encode(
            &[(":event-type", "chunk"), (":message-type", "event")],
            b"{\"bytes\":\"e30=\"}",
        );
        stream.extend(encode(&[(":message-type", "event")], b"second"));
        for piece in [1, 3, 7, 100] {
            let mut decoder = Decoder::new();
            let mut messages = Vec::new();
            for chunk in stream.chunks(piece) {
                messages.extend(decoder.feed(chunk).unwrap());
                assert!(decoder.carried() < stream.len());
            }
            assert_eq!(messages.len(), 2);
            assert_eq!(messages[0].header_str(":event-type"), Some("chunk"));
            assert_eq!(messages[1].payload, b"second");
            assert_eq!(decoder.carried(), 0);
        }
        assert_eq!(
            Decoder::new().feed(&[0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0]),
            Err(FrameError::Length(1))
        );
    }
}
