//! The small std-only HTTP/1.1 client the storage helpers ([`crate::s3`],
//! [`crate::azurite`]) seed and inspect their servers with: one request per
//! connection (`Connection: close`), the response read to the end (chunked bodies
//! decoded), plus the percent-encoding and the XML scraping their listings need.

use std::io::{self, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

/// Connect and read limits of [`send`]: generous for a loaded CI machine, but a
/// hung server still fails the test instead of hanging it.
const CONNECT_LIMIT: Duration = Duration::from_secs(10);
const READ_LIMIT: Duration = Duration::from_secs(30);

/// An HTTP response, read whole (as [`crate::s3::request`] returns it).
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    /// In the order received, names as sent.
    pub headers: Vec<(String, String)>,
    /// Decoded when it came chunked.
    pub body: Vec<u8>,
}

impl Response {
    /// The first header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body as text (lossy).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// One HTTP/1.1 request to `endpoint` (`http://host:port`, any path after it
/// ignored): `path` is sent as is, so percent-encode it first, after `Host`,
/// `headers`, `Connection: close` and the [`content_length`]. An error is a
/// connection that failed or closed without a response.
pub(crate) fn send(
    endpoint: &str,
    method: &str,
    path: &str,
    headers: &[(String, String)],
    body: &[u8],
) -> io::Result<Response> {
    let host = host_port(endpoint)?;
    let mut stream = connect(host)?;
    stream.set_read_timeout(Some(READ_LIMIT))?;
    stream.set_write_timeout(Some(READ_LIMIT))?;
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {host}\r\n");
    for (n, v) in headers {
        head.push_str(&format!("{n}: {v}\r\n"));
    }
    head.push_str("Connection: close\r\n");
    if let Some(len) = content_length(method, body) {
        head.push_str(&format!("Content-Length: {len}\r\n"));
    }
    head.push_str("\r\n");
    let mut raw = head.into_bytes();
    raw.extend_from_slice(body);
    stream.write_all(&raw)?;
    let mut received = Vec::new();
    stream.read_to_end(&mut received)?;
    parse_response(&received, method == "HEAD")
}

/// The `Content-Length` [`send`] sends: the body's, also when empty, except for a
/// GET, HEAD or DELETE without one. (Azure signs it, so its helper asks too.)
pub(crate) fn content_length(method: &str, body: &[u8]) -> Option<usize> {
    (!body.is_empty() || !matches!(method, "GET" | "HEAD" | "DELETE")).then_some(body.len())
}

/// `host:port` out of `http://host:port/...` (or a bare `host:port`).
pub(crate) fn host_port(endpoint: &str) -> io::Result<&str> {
    if endpoint.starts_with("https://") {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{endpoint}: only http:// is supported"),
        ));
    }
    let rest = endpoint.strip_prefix("http://").unwrap_or(endpoint);
    Ok(rest.split('/').next().unwrap_or(rest))
}

/// A connection to `host` (`host:port`), trying each of its addresses.
pub(crate) fn connect(host: &str) -> io::Result<TcpStream> {
    let mut last = io::Error::new(io::ErrorKind::NotFound, format!("{host}: no address"));
    for addr in host.to_socket_addrs()? {
        match TcpStream::connect_timeout(&addr, CONNECT_LIMIT) {
            Ok(s) => return Ok(s),
            Err(e) => last = e,
        }
    }
    Err(last)
}

fn invalid(what: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.into())
}

/// Where `needle` first stands in `haystack`.
pub(crate) fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn parse_response(mut raw: &[u8], head_request: bool) -> io::Result<Response> {
    if raw.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "the server closed the connection without a response",
        ));
    }
    loop {
        let end = find(raw, b"\r\n\r\n").ok_or_else(|| {
            invalid(format!(
                "truncated response head: {:?}",
                String::from_utf8_lossy(raw)
            ))
        })?;
        let head = String::from_utf8_lossy(&raw[..end]).into_owned();
        raw = &raw[end + 4..];
        let mut lines = head.split("\r\n");
        let status_line = lines.next().unwrap_or_default();
        let status: u16 = status_line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| invalid(format!("bad status line {status_line:?}")))?;
        // An interim response (100 Continue) precedes the real one.
        if (100..200).contains(&status) {
            continue;
        }
        let headers: Vec<(String, String)> = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(n, v)| (n.trim().to_string(), v.trim().to_string()))
            .collect();
        let mut r = Response {
            status,
            headers,
            body: Vec::new(),
        };
        if head_request || status == 204 || status == 304 {
            return Ok(r);
        }
        r.body = if r
            .header("transfer-encoding")
            .is_some_and(|te| te.to_ascii_lowercase().contains("chunked"))
        {
            dechunk(raw)?
        } else if let Some(len) = r
            .header("content-length")
            .and_then(|l| l.parse::<usize>().ok())
        {
            if raw.len() < len {
                return Err(invalid(format!(
                    "body cut short: {} of {len} bytes",
                    raw.len()
                )));
            }
            raw[..len].to_vec()
        } else {
            raw.to_vec()
        };
        return Ok(r);
    }
}

/// Decode a `Transfer-Encoding: chunked` body (extensions and trailers ignored).
fn dechunk(mut raw: &[u8]) -> io::Result<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let eol = find(raw, b"\r\n").ok_or_else(|| invalid("chunked body: no chunk size line"))?;
        let line = String::from_utf8_lossy(&raw[..eol]);
        let hex = line.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(hex, 16)
            .map_err(|_| invalid(format!("chunked body: bad chunk size {hex:?}")))?;
        raw = &raw[eol + 2..];
        if size == 0 {
            return Ok(out);
        }
        if raw.len() < size + 2 || &raw[size..size + 2] != b"\r\n" {
            return Err(invalid("chunked body: chunk cut short"));
        }
        out.extend_from_slice(&raw[..size]);
        raw = &raw[size + 2..];
    }
}

/// Percent-encode all but `A-Za-z0-9-._~/`: safe in a path and in a query value.
pub(crate) fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The text of every `<tag>…</tag>` in `xml`, unescaped. Enough for the flat
/// listings of S3 and Azure Blob Storage, not a general XML parser.
pub(crate) fn xml_values(xml: &str, tag: &str) -> Vec<String> {
    let (open, close) = (format!("<{tag}>"), format!("</{tag}>"));
    let mut out = Vec::new();
    let mut rest = xml;
    while let Some(start) = rest.find(&open) {
        rest = &rest[start + open.len()..];
        let Some(end) = rest.find(&close) else { break };
        out.push(xml_unescape(&rest[..end]));
        rest = &rest[end + close.len()..];
    }
    out
}

fn xml_unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        rest = &rest[amp..];
        let entity = rest.find(';').map(|semi| &rest[1..semi]);
        let ch = match entity {
            Some("amp") => Some('&'),
            Some("lt") => Some('<'),
            Some("gt") => Some('>'),
            Some("quot") => Some('"'),
            Some("apos") => Some('\''),
            Some(e) if e.starts_with("#x") => u32::from_str_radix(&e[2..], 16)
                .ok()
                .and_then(char::from_u32),
            Some(e) if e.starts_with('#') => e[1..].parse().ok().and_then(char::from_u32),
            _ => None,
        };
        match (ch, entity) {
            (Some(c), Some(e)) => {
                out.push(c);
                rest = &rest[e.len() + 2..];
            }
            _ => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// What the storage helpers' own tests check alike, given `put`, `get` and `list`
/// on a fresh bucket or container: a missing key is None, keys that need encoding
/// (space, `=`, `&`, `+`, non-ASCII) and an empty body round-trip, and a listing by
/// prefix comes in byte order.
#[cfg(test)]
pub(crate) fn assert_store_round_trips(
    put: impl Fn(&str, &[u8]),
    get: impl Fn(&str) -> Option<Vec<u8>>,
    list: impl Fn(&str) -> Vec<String>,
) {
    assert_eq!(get("runs/missing.ipynb"), None);
    assert_eq!(list(""), Vec::<String>::new());
    let odd = "runs/date=2024-01-01/a b&c+é.ipynb";
    put("runs/one.ipynb", b"{\"cells\": []}");
    put(odd, b"odd");
    put("other/two.ipynb", b"2");
    put("runs/empty.ipynb", b"");
    assert_eq!(
        get("runs/one.ipynb").as_deref(),
        Some(&b"{\"cells\": []}"[..])
    );
    assert_eq!(get(odd).as_deref(), Some(&b"odd"[..]));
    assert_eq!(get("runs/empty.ipynb").as_deref(), Some(&b""[..]));
    assert_eq!(list("runs/"), [odd, "runs/empty.ipynb", "runs/one.ipynb"]);
    assert_eq!(list("runs/date=2024-01-01/a b"), [odd]);
    assert_eq!(list("").len(), 4);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_keys_and_reads_listings_and_chunked_bodies() {
        assert_eq!(
            encode("runs/2024-01-01/out_1.ipynb"),
            "runs/2024-01-01/out_1.ipynb"
        );
        assert_eq!(encode("a b=c&d+é"), "a%20b%3Dc%26d%2B%C3%A9");
        let xml = "<ListBucketResult><Contents><Key>a/1</Key></Contents><Contents><Key>a/x &amp; y&#x3C;&#62;&amp;lt;</Key></Contents></ListBucketResult>";
        assert_eq!(
            xml_values(xml, "Key"),
            vec!["a/1".to_string(), "a/x & y<>&lt;".to_string()]
        );
        assert_eq!(
            dechunk(b"5;ext=1\r\nhello\r\n7\r\n, world\r\n0\r\nTrailer: x\r\n\r\n").unwrap(),
            b"hello, world"
        );
        assert!(dechunk(b"5\r\nhel").is_err(), "a cut chunk is an error");
        let r = parse_response(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n", false).unwrap();
        assert_eq!((r.status, r.body.as_slice()), (200, &b"abc"[..]));
        let r = parse_response(
            b"HTTP/1.1 404 Not Found\r\ncontent-length: 2\r\n\r\nnoEXTRA",
            false,
        )
        .unwrap();
        assert_eq!(
            (r.status, r.body.as_slice(), r.header("Content-Length")),
            (404, &b"no"[..], Some("2"))
        );
        assert!(
            parse_response(b"", false).is_err(),
            "no bytes is no response"
        );
        assert_eq!(content_length("GET", b""), None);
        assert_eq!(
            content_length("PUT", b""),
            Some(0),
            "a PUT says it is empty"
        );
        assert_eq!(content_length("DELETE", b"x"), Some(1));
    }
}
