//! The runtime-API answer parsing path (core's HTTP client) through the public `Transport`:
//! a loopback server answers `next` and then `response` with the fuzz input split in two, and
//! the transport must return (Ok or a clean error), never panic, never hang.
#![no_main]

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use scf_core::{Config, RetryPolicy, Transport};

fn read_request(r: &mut BufReader<std::net::TcpStream>) -> bool {
    let mut len = 0usize;
    loop {
        let mut line = String::new();
        match r.read_line(&mut line) {
            Ok(0) | Err(_) => return false,
            Ok(_) => {}
        }
        if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
            len = v.trim().parse().unwrap_or(0);
        }
        if line == "\r\n" {
            break;
        }
    }
    let mut body = vec![0; len];
    std::io::Read::read_exact(r, &mut body).is_ok()
}

fuzz_target!(|data: &[u8]| {
    let split = data.iter().position(|&b| b == 0xff).unwrap_or(data.len());
    let (first, second) = (
        data[..split].to_vec(),
        data.get(split + 1..).unwrap_or(&[]).to_vec(),
    );
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let server = std::thread::spawn(move || {
        for answer in [first, second] {
            let Ok((conn, _)) = listener.accept() else {
                return;
            };
            let _ = conn.set_read_timeout(Some(Duration::from_secs(5)));
            let mut w = conn.try_clone().expect("clone");
            let mut r = BufReader::new(conn);
            if !read_request(&mut r) {
                return;
            }
            let _ = w.write_all(&answer);
            // Close after each answer: it ends a body that runs to the end of the connection,
            // and the client then reconnects for the post instead of waiting on this one.
            let _ = w.shutdown(std::net::Shutdown::Both);
        }
    });
    let t = Transport::new(&Config::for_endpoint("127.0.0.1", port)).with_retry(RetryPolicy {
        initial_delay: Duration::ZERO,
        max_delay: Duration::ZERO,
        give_up_after: Duration::ZERO,
    });
    let _ = t.next();
    let _ = t.respond(b"result");
    drop(t);
    // The post may have gone out on the first connection before its close was seen (then it
    // failed, as it should): wake the server's second accept so that it can end.
    drop(std::net::TcpStream::connect(("127.0.0.1", port)));
    let _ = server.join();
});
