//! Typed SCF trigger events, JSON handlers and async handlers for Rust functions, on
//! [`scf_core`]'s invocation loop (docs/events.md).
//!
//! - Serde types for the events SCF's triggers send: [`ApiGatewayRequest`] (and the integrated
//!   response, [`ApiGatewayResponse`]), [`TimerEvent`], [`CosEvent`], [`CmqEvent`],
//!   [`CkafkaEvent`]. Reading is lenient where the platform is: a missing or `null` field has
//!   its default, numbers written as strings are read.
//! - [`serve_json`]: a handler of any deserializable event type returning any serializable
//!   result.
//! - Feature `http`: API Gateway requests as `http::Request<Vec<u8>>`, `http::Response` as
//!   integrated responses (the `http_conv` items).
//! - Feature `async`: `serve_async` and `serve_json_async`, async handlers on one
//!   current-thread tokio runtime kept across invocations. Without it there is no tokio in
//!   the dependency tree.
//! - Feature `image`: scf-core's image mode (`SCFRUNTIME_MODE=image`), for image-deployed
//!   functions; it brings tokio and hyper.
//!
//! ```no_run
//! use scf_events::{ApiGatewayRequest, ApiGatewayResponse, Invocation};
//!
//! fn main() -> std::process::ExitCode {
//!     scf_events::serve_json(|req: ApiGatewayRequest, _: &Invocation| {
//!         let name = req.query("name").unwrap_or("world").to_owned();
//!         ApiGatewayResponse::json(200, &serde_json::json!({ "hello": name }))
//!     })
//! }
//! ```
#![warn(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod apigw;
#[cfg(feature = "async")]
mod async_handler;
mod ckafka;
mod cmq;
mod cos;
#[cfg(feature = "http")]
mod http_conv;
mod json;
mod lenient;
mod timer;

pub use apigw::{ApiGatewayRequest, ApiGatewayResponse, Identity, MultiValue, RequestContext};
#[cfg(feature = "async")]
pub use async_handler::{async_handler, json_async_handler, serve_async, serve_json_async};
pub use ckafka::{CkafkaEvent, CkafkaMessage, CkafkaRecord};
pub use cmq::{CmqEvent, CmqMessage, CmqRecord};
pub use cos::{
    CosBucket, CosEntity, CosEvent, CosEventInfo, CosObject, CosRecord, CosRequestParameters,
};
#[cfg(feature = "http")]
pub use http_conv::{Body, HttpConversionError, PathParameters};
pub use json::{
    DESERIALIZE_ERROR, HANDLER_ERROR, SERIALIZE_ERROR, error_report, json_handler, serve_json,
};
pub use timer::TimerEvent;

pub use scf_core;
pub use scf_core::{ErrorReport, Invocation};
