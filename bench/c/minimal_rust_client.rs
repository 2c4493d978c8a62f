//! Diagnostic for the benchmark (not part of the library): the echo loop over a minimal,
//! std-only HTTP/1.1 client, to show what a Rust transport costs when it writes each request
//! with one `write` and does no per-request connection probing, URI parsing or header maps.
//!
//! Build: `rustc -O --edition 2021 minimal_rust_client.rs` (run.sh --diagnose does it).
//! Usage: `minimal_rust_client N` with SCF_RUNTIME_API_PORT set (host 127.0.0.1).

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::TcpStream;

struct Conn {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
    out: Vec<u8>,
    line: String,
}

impl Conn {
    /// One request; returns the `request_id` header (if any) and the body.
    fn request(
        &mut self,
        method: &str,
        path: &str,
        body: Option<&[u8]>,
    ) -> io::Result<(Option<String>, Vec<u8>)> {
        self.out.clear();
        write!(self.out, "{method} {path} HTTP/1.1\r\nhost: x\r\n")?;
        if let Some(b) = body {
            write!(self.out, "content-length: {}\r\n\r\n", b.len())?;
            self.out.extend_from_slice(b);
        } else {
            self.out.extend_from_slice(b"\r\n");
        }
        self.writer.write_all(&self.out)?;
        self.line.clear();
        self.reader.read_line(&mut self.line)?;
        if !self.line.starts_with("HTTP/1.1 200") {
            return Err(io::Error::other(format!("unexpected status: {}", self.line)));
        }
        let (mut id, mut len) = (None, 0usize);
        loop {
            self.line.clear();
            self.reader.read_line(&mut self.line)?;
            let l = self.line.trim_end();
            if l.is_empty() {
                break;
            }
            if let Some((k, v)) = l.split_once(':') {
                if k.eq_ignore_ascii_case("content-length") {
                    len = v.trim().parse().map_err(io::Error::other)?;
                } else if k.eq_ignore_ascii_case("request_id") {
                    id = Some(v.trim().to_string());
                }
            }
        }
        let mut body = vec![0; len];
        self.reader.read_exact(&mut body)?;
        Ok((id, body))
    }
}

fn main() -> io::Result<()> {
    let n: u64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1000);
    let port: u16 = std::env::var("SCF_RUNTIME_API_PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .ok_or_else(|| io::Error::other("SCF_RUNTIME_API_PORT must be a port"))?;
    let stream = TcpStream::connect(("127.0.0.1", port))?;
    stream.set_nodelay(true)?;
    let mut conn = Conn {
        reader: BufReader::with_capacity(64 * 1024, stream.try_clone()?),
        writer: stream,
        out: Vec::new(),
        line: String::new(),
    };
    conn.request("POST", "/runtime/init/ready", Some(b" "))?;
    for _ in 0..n {
        let (_id, event) = conn.request("GET", "/runtime/invocation/next", None)?;
        conn.request("POST", "/runtime/invocation/response", Some(&event))?;
    }
    Ok(())
}
