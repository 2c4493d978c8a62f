//! An SCF function in Rust behind API Gateway (an API whose backend is this function, with
//! integrated responses on): typed events in, integrated responses out (docs/events.md).
//!
//! - `GET /hello?name=Ada` answers 200 with `{"message":"hello, Ada"}` (`name` defaults to
//!   `world`);
//! - `POST /echo` answers 200 with the request's body and Content-Type (a base64-encoded
//!   request body comes back base64-encoded);
//! - anything else answers 404 with `{"error":"no route for <METHOD> <path>"}`.
//!
//! Build it, copy `target/release/apigw-rust` into a folder as `bootstrap` (the binary has its
//! own name so that it does not overwrite examples/rust-echo's in the workspace's target), and run
//! `scfrt invoke <folder> --event '{"httpMethod":"GET","path":"/hello","queryString":{"name":"Ada"}}'`.

use scf_events::{ApiGatewayRequest, ApiGatewayResponse, Invocation};
use serde::Serialize;

#[derive(Serialize)]
struct Greeting {
    message: String,
}

#[derive(Serialize)]
struct NotFound {
    error: String,
}

/// The API: one integrated response per request.
fn route(req: &ApiGatewayRequest) -> serde_json::Result<ApiGatewayResponse> {
    let path = match req.path.trim_end_matches('/') {
        "" => "/",
        p => p,
    };
    match (req.http_method.to_ascii_uppercase().as_str(), path) {
        ("GET", "/hello") => {
            let name = req
                .query("name")
                .filter(|n| !n.is_empty())
                .unwrap_or("world");
            ApiGatewayResponse::json(
                200,
                &Greeting {
                    message: format!("hello, {name}"),
                },
            )
        }
        ("POST", "/echo") => {
            let content_type = req
                .header("content-type")
                .unwrap_or("application/octet-stream")
                .to_owned();
            let mut resp = ApiGatewayResponse::new(200).with_header("Content-Type", content_type);
            resp.is_base64_encoded = req.is_base64_encoded;
            resp.body = req.body.clone().unwrap_or_default();
            Ok(resp)
        }
        (method, _) => ApiGatewayResponse::json(
            404,
            &NotFound {
                error: format!("no route for {method} {}", req.path),
            },
        ),
    }
}

fn main() -> std::process::ExitCode {
    scf_events::serve_json(|req: ApiGatewayRequest, inv: &Invocation| {
        eprintln!(
            "apigw-rust: {} {} (request {})",
            req.http_method, req.path, inv.request_id
        );
        route(&req)
    })
}
