//! Just enough `multipart/form-data` parsing to answer audio uploads and to record what was
//! sent: each part's name, file name, content type and size (small text fields verbatim).

/// Text fields up to this size are kept verbatim in the record.
const MAX_TEXT_VALUE: usize = 4096;

/// One part of a `multipart/form-data` body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormField {
    /// The `name` of the part's `Content-Disposition`.
    pub name: String,
    /// The `filename`, for file parts.
    pub filename: Option<String>,
    /// The part's own `Content-Type`, if any.
    pub content_type: Option<String>,
    /// Size of the part's content in bytes.
    pub len: usize,
    /// The content as text, for non-file parts up to 4 KiB of UTF-8.
    pub value: Option<String>,
}

/// Parses `body` sent with this `Content-Type`; `None` when it is not well-formed multipart.
pub(crate) fn parse(content_type: &str, body: &[u8]) -> Option<Vec<FormField>> {
    let boundary = boundary(content_type)?;
    let delimiter = [b"--", boundary.as_bytes()].concat();
    let next_delimiter = [b"\r\n--", boundary.as_bytes()].concat();
    let mut pos = find(body, &delimiter, 0)? + delimiter.len();
    let mut fields = Vec::new();
    loop {
        if body.get(pos..pos + 2)? == b"--" {
            return Some(fields);
        }
        pos = find(body, b"\r\n", pos)? + 2;
        let head_end = find(body, b"\r\n\r\n", pos - 2)?;
        let head = String::from_utf8_lossy(body.get(pos..head_end.max(pos))?).into_owned();
        let content_start = head_end + 4;
        let content_end = find(body, &next_delimiter, content_start)?;
        fields.push(field(&head, body.get(content_start..content_end)?)?);
        pos = content_end + next_delimiter.len();
    }
}

fn boundary(content_type: &str) -> Option<String> {
    let (kind, params) = content_type.split_once(';')?;
    if !kind.trim().eq_ignore_ascii_case("multipart/form-data") {
        return None;
    }
    params.split(';').find_map(|p| {
        let (k, v) = p.split_once('=')?;
        k.trim()
            .eq_ignore_ascii_case("boundary")
            .then(|| v.trim().trim_matches('"').to_string())
    })
}

fn field(head: &str, content: &[u8]) -> Option<FormField> {
    let mut name = None;
    let mut filename = None;
    let mut content_type = None;
    for line in head.split("\r\n") {
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        if key.trim().eq_ignore_ascii_case("content-disposition") {
            name = param(value, "name");
            filename = param(value, "filename");
        } else if key.trim().eq_ignore_ascii_case("content-type") {
            content_type = Some(value.trim().to_string());
        }
    }
    let value = if filename.is_none() && content.len() <= MAX_TEXT_VALUE {
        std::str::from_utf8(content).ok().map(str::to_string)
    } else {
        None
    };
    Some(FormField {
        name: name?,
        filename,
        content_type,
        len: content.len(),
        value,
    })
}

fn param(disposition: &str, key: &str) -> Option<String> {
    disposition.split(';').find_map(|p| {
        let (k, v) = p.split_once('=')?;
        (k.trim() == key).then(|| v.trim().trim_matches('"').to_string())
    })
}

fn find(hay: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    let first = *needle.first()?;
    let mut at = from;
    while at + needle.len() <= hay.len() {
        let offset = hay.get(at..)?.iter().position(|&b| b == first)?;
        at += offset;
        if hay.get(at..at + needle.len())? == needle {
            return Some(at);
        }
        at += 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_fields_and_files() {
        let body = b"--XyZ\r\nContent-Disposition: form-data; name=\"model\"\r\n\r\nwhisper-1\r\n\
--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.mp3\"\r\n\
Content-Type: audio/mpeg\r\n\r\n\x00\x01\r\n\x02\r\n--XyZ--\r\n";
        let fields = parse("multipart/form-data; boundary=XyZ", body).unwrap();
        assert_eq!(fields.len(), 2);
        assert_eq!(fields[0].name, "model");
        assert_eq!(fields[0].value.as_deref(), Some("whisper-1"));
        assert_eq!(fields[1].filename.as_deref(), Some("a.mp3"));
        assert_eq!(fields[1].content_type.as_deref(), Some("audio/mpeg"));
        assert_eq!(fields[1].len, 5);
        assert_eq!(fields[1].value, None);
    }

    #[test]
    fn rejects_other_bodies() {
        assert!(parse("application/json", b"{}").is_none());
        assert!(parse("multipart/form-data; boundary=a", b"garbage").is_none());
    }
}
