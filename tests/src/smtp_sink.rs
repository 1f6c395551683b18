//! A tiny SMTP server for tests: listens on 127.0.0.1:0, speaks just enough SMTP for lettre
//! (EHLO/HELO, AUTH PLAIN/LOGIN accepted, MAIL FROM, RCPT TO, DATA, RSET, NOOP, QUIT; no TLS)
//! and records every mail, so that a test can read the code a mail carries.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// One received mail.
#[derive(Debug, Clone, Default)]
pub struct Mail {
    /// The envelope sender (`MAIL FROM`).
    pub from: String,
    /// The envelope recipients (`RCPT TO`).
    pub to: Vec<String>,
    /// The user name the client authenticated as, if it did.
    pub auth_user: Option<String>,
    /// The decoded `Subject` header.
    pub subject: String,
    /// The body, decoded from its transfer encoding.
    pub body: String,
    /// The message as received (after dot-unstuffing).
    pub raw: String,
}

impl Mail {
    /// The text between the first `<strong>` and `</strong>` of the body (where Pylon's mails
    /// put the code or token).
    pub fn strong(&self) -> Option<String> {
        let start = self.body.find("<strong>")? + "<strong>".len();
        let end = self.body[start..].find("</strong>")? + start;
        Some(self.body[start..end].trim().to_string())
    }
}

/// A running sink; stops when dropped.
pub struct SmtpSink {
    /// The port it listens on (host 127.0.0.1).
    pub port: u16,
    mails: Arc<Mutex<Vec<Mail>>>,
    task: JoinHandle<()>,
}

impl SmtpSink {
    /// Starts a sink on a free port.
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind sink");
        let port = listener.local_addr().expect("sink address").port();
        let mails = Arc::new(Mutex::new(Vec::new()));
        let store = Arc::clone(&mails);
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let store = Arc::clone(&store);
                tokio::spawn(async move {
                    let _ = serve(stream, store).await;
                });
            }
        });
        Self { port, mails, task }
    }

    /// Every mail received so far.
    pub fn mails(&self) -> Vec<Mail> {
        self.mails.lock().expect("sink lock").clone()
    }

    /// The mails received so far for `address` (case-insensitive).
    pub fn mails_to(&self, address: &str) -> Vec<Mail> {
        self.mails()
            .into_iter()
            .filter(|m| m.to.iter().any(|t| t.eq_ignore_ascii_case(address)))
            .collect()
    }

    /// Waits (up to 10 s) until `address` has received `count` mails, and returns the last one.
    pub async fn wait_for(&self, address: &str, count: usize) -> Mail {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let mails = self.mails_to(address);
            if mails.len() >= count {
                return mails[count - 1].clone();
            }
            assert!(
                Instant::now() < deadline,
                "{address} received {} mails, expected {count}",
                mails.len()
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn serve(stream: TcpStream, store: Arc<Mutex<Vec<Mail>>>) -> std::io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read);
    write.write_all(b"220 pylon-test-sink ESMTP\r\n").await?;
    let mut mail = Mail::default();
    let mut auth_user = None;
    loop {
        let Some(line) = read_line(&mut lines).await? else {
            return Ok(());
        };
        let upper = line.to_ascii_uppercase();
        let reply: &[u8] = if upper.starts_with("EHLO") {
            b"250-pylon-test-sink\r\n250-AUTH PLAIN LOGIN\r\n250 8BITMIME\r\n"
        } else if upper.starts_with("HELO") {
            b"250 pylon-test-sink\r\n"
        } else if upper.starts_with("AUTH PLAIN") {
            let initial = line
                .get("AUTH PLAIN".len()..)
                .unwrap_or("")
                .trim()
                .to_string();
            let response = if initial.is_empty() {
                write.write_all(b"334 \r\n").await?;
                read_line(&mut lines).await?.unwrap_or_default()
            } else {
                initial
            };
            // "\0user\0password"
            let decoded = BASE64.decode(response.trim()).unwrap_or_default();
            let parts: Vec<&[u8]> = decoded.split(|b| *b == 0).collect();
            auth_user = parts
                .get(1)
                .map(|u| String::from_utf8_lossy(u).into_owned());
            b"235 2.7.0 Authentication successful\r\n"
        } else if upper.starts_with("AUTH LOGIN") {
            write.write_all(b"334 VXNlcm5hbWU6\r\n").await?;
            let user = read_line(&mut lines).await?.unwrap_or_default();
            write.write_all(b"334 UGFzc3dvcmQ6\r\n").await?;
            let _password = read_line(&mut lines).await?;
            auth_user = Some(
                String::from_utf8_lossy(&BASE64.decode(user.trim()).unwrap_or_default())
                    .into_owned(),
            );
            b"235 2.7.0 Authentication successful\r\n"
        } else if upper.starts_with("MAIL FROM:") {
            mail = Mail {
                from: angle_address(&line["MAIL FROM:".len()..]),
                auth_user: auth_user.clone(),
                ..Mail::default()
            };
            b"250 2.1.0 Ok\r\n"
        } else if upper.starts_with("RCPT TO:") {
            mail.to.push(angle_address(&line["RCPT TO:".len()..]));
            b"250 2.1.5 Ok\r\n"
        } else if upper.starts_with("DATA") {
            write
                .write_all(b"354 End data with <CR><LF>.<CR><LF>\r\n")
                .await?;
            let mut raw = String::new();
            loop {
                let Some(data) = read_line(&mut lines).await? else {
                    return Ok(());
                };
                if data == "." {
                    break;
                }
                // Dot-stuffing: a leading '.' was doubled by the client.
                let data = data.strip_prefix('.').unwrap_or(&data);
                raw.push_str(data);
                raw.push_str("\r\n");
            }
            let (subject, body) = parse_message(&raw);
            mail.subject = subject;
            mail.body = body;
            mail.raw = raw;
            store
                .lock()
                .expect("sink lock")
                .push(std::mem::take(&mut mail));
            b"250 2.0.0 Ok: queued\r\n"
        } else if upper.starts_with("RSET") {
            mail = Mail::default();
            b"250 2.0.0 Ok\r\n"
        } else if upper.starts_with("NOOP") {
            b"250 2.0.0 Ok\r\n"
        } else if upper.starts_with("QUIT") {
            write.write_all(b"221 2.0.0 Bye\r\n").await?;
            return Ok(());
        } else {
            b"502 5.5.2 Command not recognized\r\n"
        };
        write.write_all(reply).await?;
    }
}

/// One line without its line ending; `None` at the end of the stream.
async fn read_line(
    lines: &mut BufReader<tokio::net::tcp::OwnedReadHalf>,
) -> std::io::Result<Option<String>> {
    let mut line = String::new();
    if lines.read_line(&mut line).await? == 0 {
        return Ok(None);
    }
    Ok(Some(line.trim_end_matches(['\r', '\n']).to_string()))
}

/// The address in `<...>` (parameters after it ignored), lower-cased.
fn angle_address(text: &str) -> String {
    let text = text.trim();
    let inner = match (text.find('<'), text.find('>')) {
        (Some(start), Some(end)) if start < end => &text[start + 1..end],
        _ => text.split_whitespace().next().unwrap_or(""),
    };
    inner.to_lowercase()
}

/// The decoded subject and body of a single-part message.
fn parse_message(raw: &str) -> (String, String) {
    let (head, body) = raw.split_once("\r\n\r\n").unwrap_or((raw, ""));
    // Unfold continued header lines.
    let head = head.replace("\r\n ", " ").replace("\r\n\t", " ");
    let header = |name: &str| {
        head.split("\r\n")
            .find_map(|line| {
                let (key, value) = line.split_once(':')?;
                key.trim()
                    .eq_ignore_ascii_case(name)
                    .then(|| value.trim().to_string())
            })
            .unwrap_or_default()
    };
    let subject = decode_words(&header("Subject"));
    let body = match header("Content-Transfer-Encoding")
        .to_ascii_lowercase()
        .as_str()
    {
        "base64" => String::from_utf8_lossy(
            &BASE64
                .decode(body.split_whitespace().collect::<String>())
                .unwrap_or_default(),
        )
        .into_owned(),
        "quoted-printable" => decode_quoted_printable(body),
        _ => body.to_string(),
    };
    (subject, body)
}

/// Decodes RFC 2047 encoded words (`=?utf-8?b?...?=` and `=?utf-8?q?...?=`).
fn decode_words(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("=?") {
        let mut parts = rest[start + 2..].splitn(3, '?');
        let (Some(_charset), Some(encoding), Some(tail)) =
            (parts.next(), parts.next(), parts.next())
        else {
            break;
        };
        let Some(end) = tail.find("?=") else {
            break;
        };
        let before = &rest[..start];
        // Whitespace between two encoded words is not part of the text.
        if out.is_empty() || !before.trim().is_empty() {
            out.push_str(before);
        }
        let encoded = &tail[..end];
        let bytes = if encoding.eq_ignore_ascii_case("b") {
            BASE64.decode(encoded).unwrap_or_default()
        } else {
            decode_quoted_printable(&encoded.replace('_', " ")).into_bytes()
        };
        out.push_str(&String::from_utf8_lossy(&bytes));
        rest = &tail[end + 2..];
    }
    out.push_str(rest);
    out
}

fn decode_quoted_printable(text: &str) -> String {
    let mut bytes = Vec::with_capacity(text.len());
    let raw = text.as_bytes();
    let mut i = 0;
    while i < raw.len() {
        match raw[i] {
            b'=' if raw.get(i + 1) == Some(&b'\r') && raw.get(i + 2) == Some(&b'\n') => i += 3,
            b'=' if raw.get(i + 1) == Some(&b'\n') => i += 2,
            b'=' if i + 2 < raw.len() => {
                match u8::from_str_radix(&text[i + 1..i + 3], 16) {
                    Ok(byte) => bytes.push(byte),
                    Err(_) => bytes.extend_from_slice(&raw[i..i + 3]),
                }
                i += 3;
            }
            byte => {
                bytes.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_decoded() {
        let raw = "Subject: =?utf-8?b?SGVsbG8gd29ybGQ=?=\r\nContent-Transfer-Encoding: \
                   quoted-printable\r\n\r\ncode: <strong>12=3D34</strong>=\r\n!\r\n";
        let (subject, body) = parse_message(raw);
        assert_eq!(subject, "Hello world");
        assert_eq!(body, "code: <strong>12=34</strong>!\r\n");
        assert_eq!(angle_address(" <A@B.com> SIZE=10"), "a@b.com");
    }
}
