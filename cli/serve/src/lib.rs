//! `scf-serve`: `scfrt serve`, the SCF Invoke API (TencentCloud API 3.0, service `scf`, version
//! `2018-04-16`) on one machine, so scripts written for the TencentCloud SDKs and tccli run
//! against it unchanged but for the endpoint. It stands on `scf-cloud` (the API's envelope and
//! signatures), `scf-emulator` (the warm pool that runs functions) and `scf-store` (functions,
//! code, versions, namespaces and the invocation log on disk, re-exported as [`store`]), and must
//! not depend on the command line (no clap). Modules: [`tls`] (`--tls`: the local CA and
//! certificate).
//!
//! Actions: `CreateFunction`, `UpdateFunctionCode`, `UpdateFunctionConfiguration`, `GetFunction`,
//! `ListFunctions`, `DeleteFunction`, `Invoke`, `InvokeFunction`, `CreateNamespace`,
//! `ListNamespaces`, `DeleteNamespace`, `GetFunctionLogs` ([`logs`]), and versions and aliases
//! (module `versions`: `PublishVersion`, `ListVersionByFunction`, `CreateAlias`, `GetAlias`,
//! `ListAliases`, `UpdateAlias`, `DeleteAlias`, and `Qualifier`). A request's region must be one
//! of SCF's ([`scf_cloud::api::SCF_REGIONS`]). Every request must be signed the ways the SDKs sign:
//! TC3-HMAC-SHA256 ([`tc3`]) over POST with a JSON (or form) body or over GET with the parameters
//! in the query string; or signature method v1 ([`v1`], HmacSHA1/HmacSHA256) over GET or POST
//! form. Errors travel as HTTP 200 with
//! `Content-Type: application/json` and the `{"Response":{"Error":..}}` envelope, which is the
//! only form the SDK parses. Functions live in a [`Store`]; each has a [`Pool`] of instances.
//!
//! Hostile clients: a request's headers are checked ([`tc3::verify_headers`], the action, the
//! version, the action's body limit; a v1 request, whose signature is in its body, is held to the
//! platform's 1 MB for v1) before its body is read, and a refusal closes the
//! connection; request bodies held at once and connections served at once are capped
//! ([`ServeConfig::max_buffered_bytes`], [`ServeConfig::max_connections`]), over which the answer
//! is `RequestLimitExceeded`; methods other than GET and POST get `405` with `Allow`.

#![warn(missing_docs)]

pub mod logs;
pub use scf_store as store;
pub mod tls;
mod triggers;
mod versions;

use std::collections::{BTreeMap, HashMap};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use http_body_util::{BodyExt, Full};
use hyper::body::{Body, Bytes, Incoming};
use hyper::header::{ALLOW, CONNECTION, CONTENT_TYPE, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use serde_json::{Map, Value, json};
use tokio::sync::oneshot;

use crate::store::{FunctionMeta, NamespaceMeta, Published, Store};
use crate::versions::Target;
use scf_cloud::api::{ApiError, Params, success_envelope};
use scf_cloud::{api, tc3, v1};
use scf_emulator::InvokeResult;
use scf_emulator::pool::{Pool, PoolError, PoolOptions};

/// The API version this server implements.
pub const API_VERSION: &str = "2018-04-16";
/// Largest sync event (`ClientContext`), as the platform.
pub const MAX_SYNC_EVENT_BYTES: usize = 6 * 1024 * 1024;
/// Largest async (`Event`) event, as the platform.
pub const MAX_ASYNC_EVENT_BYTES: usize = 128 * 1024;
/// Most `Event` invocations accepted but not finished; beyond, `RequestLimitExceeded`.
pub const MAX_PENDING_EVENTS: usize = 1024;
/// Namespace used when a request names none.
pub use crate::store::DEFAULT_NAMESPACE;
/// Largest body of an `Invoke` or `InvokeFunction` request: a sync event at its limit written as
/// a JSON string (at most 3 bytes per byte: a 4-byte character escaped as two `\uXXXX`), plus
/// 64 KiB for the other parameters.
pub const MAX_INVOKE_BODY_BYTES: usize = 3 * MAX_SYNC_EVENT_BYTES + 64 * 1024;
/// Largest body of the actions that carry neither code nor an event (`GetFunction`,
/// `ListFunctions`, `DeleteFunction`, `UpdateFunctionConfiguration`).
pub const MAX_SMALL_BODY_BYTES: usize = 1024 * 1024;
/// The methods the API answers (`Allow` of a 405).
pub const ALLOWED_METHODS: &str = "GET, POST";
/// The content type of form-encoded parameters.
const FORM_CONTENT_TYPE: &str = "application/x-www-form-urlencoded";
/// Largest read buffer of a connection (request headers must fit in it).
const CONN_BUF_BYTES: usize = 64 * 1024;
/// Bodies from this size on are hashed (to check their signature) off the async workers.
const BLOCKING_VERIFY_BYTES: usize = 1024 * 1024;
/// Most time a refused request's unread body is read and discarded before the connection is
/// closed (see [`linger`]).
const LINGER_TIME: Duration = Duration::from_secs(5);
/// Most time an over-limit connection is given to send its request's headers.
const REFUSAL_HEADER_TIMEOUT: Duration = Duration::from_secs(5);

/// How `scfrt serve` is set up.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    /// Address to listen on (port 0: any free port).
    pub addr: SocketAddr,
    /// The state directory (functions, invocation log).
    pub state_dir: PathBuf,
    /// Accepted credentials: SecretId -> SecretKey.
    pub credentials: HashMap<String, String>,
    /// Instance limits per function.
    pub pool: PoolOptions,
    /// Largest request body in bytes.
    pub max_body_bytes: usize,
    /// Time allowed to receive a request's headers, and again its body.
    pub read_timeout: Duration,
    /// Most connections served at once; up to as many more are answered
    /// `RequestLimitExceeded` and closed, and beyond that they are closed at once.
    pub max_connections: usize,
    /// Most request-body bytes held in memory at once, across connections; a request whose
    /// body would go over gets `RequestLimitExceeded`. Should be at least `max_body_bytes`.
    pub max_buffered_bytes: usize,
    /// Serve HTTPS with this certificate and key ([`crate::tls`]); `None`: plain HTTP.
    pub tls: Option<crate::tls::TlsFiles>,
}

impl ServeConfig {
    /// Defaults: 127.0.0.1:9000, 64 MiB bodies (a 50 MB zip in base64), 30 s read timeout,
    /// 256 connections, 256 MiB of request bodies buffered at once.
    pub fn new(state_dir: PathBuf, credentials: HashMap<String, String>) -> ServeConfig {
        ServeConfig {
            addr: SocketAddr::from(([127, 0, 0, 1], 9000)),
            state_dir,
            credentials,
            pool: PoolOptions::default(),
            max_body_bytes: 64 * 1024 * 1024,
            read_timeout: Duration::from_secs(30),
            max_connections: 256,
            max_buffered_bytes: 256 * 1024 * 1024,
            tls: None,
        }
    }
}

struct Entry {
    /// `$LATEST`.
    meta: FunctionMeta,
    /// `$LATEST`'s instances.
    pool: Arc<Pool>,
    /// The published versions and the aliases.
    published: Published,
    /// Each published version's instances, by number.
    version_pools: BTreeMap<u32, Arc<Pool>>,
    /// Invocations through each weighted alias, which decide its split ([`versions`]).
    routed: HashMap<String, u64>,
    /// Its triggers ([`triggers`]).
    triggers: Vec<store::TriggerMeta>,
}

impl Entry {
    /// A function with its `$LATEST` pool and the pools of `published`'s versions.
    fn new(
        meta: FunctionMeta,
        pool: Arc<Pool>,
        published: Published,
        app: (&Store, PoolOptions),
    ) -> Entry {
        let (store, opts) = app;
        let version_pools = published
            .versions
            .iter()
            .map(|v| {
                let cfg = v.config.version_config(store, &v.version.to_string());
                (v.version, Arc::new(Pool::new(cfg, opts)))
            })
            .collect();
        Entry {
            triggers: store.load_triggers(&meta.namespace, &meta.name),
            meta,
            pool,
            published,
            version_pools,
            routed: HashMap::new(),
        }
    }
}

/// The server's state, shared by the connection tasks.
struct App {
    store: Store,
    functions: Mutex<BTreeMap<(String, String), Entry>>,
    /// The namespaces, by name. Taken before `functions` when both are held.
    namespaces: Mutex<BTreeMap<String, NamespaceMeta>>,
    credentials: HashMap<String, String>,
    pool_opts: PoolOptions,
    max_body_bytes: usize,
    read_timeout: Duration,
    pending_events: AtomicUsize,
    max_connections: usize,
    /// Connections being served.
    connections: Arc<AtomicUsize>,
    /// Over-limit connections being answered `RequestLimitExceeded`.
    refusing: Arc<AtomicUsize>,
    max_buffered_bytes: usize,
    /// Request-body bytes reserved by the connections (see [`Reservation`]).
    buffered: AtomicUsize,
    /// The signature forms accepted: the Node SDK's local-endpoint forms only on loopback.
    rules: tc3::Rules,
    /// `Some` when serving HTTPS.
    tls: Option<tokio_rustls::TlsAcceptor>,
    /// Held while a function's versions, aliases or `$LATEST` change ([`versions`]); taken
    /// before `functions`.
    publishing: Mutex<()>,
    /// The timer triggers that fire ([`triggers`]), started once the app exists.
    timers: std::sync::OnceLock<scf_triggers::timers::Timers>,
}

/// A running server (see [`start`]); dropping it stops the server and its instances.
pub struct ServerHandle {
    addr: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl std::fmt::Debug for ServerHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerHandle")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl ServerHandle {
    /// The address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Blocks until the server stops (it does not stop on its own).
    pub fn join(mut self) {
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for ServerHandle {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

impl App {
    fn namespaces(&self) -> MutexGuard<'_, BTreeMap<String, NamespaceMeta>> {
        self.namespaces
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn lock(&self) -> MutexGuard<'_, BTreeMap<(String, String), Entry>> {
        self.functions
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn publishing(&self) -> MutexGuard<'_, ()> {
        self.publishing
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn new_pool(&self, meta: &FunctionMeta) -> Arc<Pool> {
        Arc::new(Pool::new(meta.function_config(&self.store), self.pool_opts))
    }
}

/// Opens the state directory, binds `cfg.addr` and serves on a background thread.
///
/// # Errors
/// When the state directory cannot be opened or the address cannot be bound.
pub fn start(cfg: ServeConfig) -> std::io::Result<ServerHandle> {
    let tls = match &cfg.tls {
        Some(files) => Some(tokio_rustls::TlsAcceptor::from(
            crate::tls::server_config(files).map_err(std::io::Error::other)?,
        )),
        None => None,
    };
    let store = Store::open(&cfg.state_dir)?;
    let mut functions = BTreeMap::new();
    let app_pool_opts = cfg.pool;
    let metas = store.load_all();
    let namespaces: BTreeMap<String, NamespaceMeta> = store
        .load_namespaces(&metas, unix_now())
        .map_err(|e| std::io::Error::other(e.message))?
        .into_iter()
        .map(|ns| (ns.name.clone(), ns))
        .collect();
    for meta in metas {
        let pool = Arc::new(Pool::new(meta.function_config(&store), app_pool_opts));
        let published = store.load_published(&meta.namespace, &meta.name);
        functions.insert(
            (meta.namespace.clone(), meta.name.clone()),
            Entry::new(meta, pool, published, (&store, app_pool_opts)),
        );
    }
    let app = Arc::new(App {
        store,
        functions: Mutex::new(functions),
        namespaces: Mutex::new(namespaces),
        credentials: cfg.credentials,
        pool_opts: cfg.pool,
        max_body_bytes: cfg.max_body_bytes,
        read_timeout: cfg.read_timeout,
        pending_events: AtomicUsize::new(0),
        max_connections: cfg.max_connections.max(1),
        connections: Arc::new(AtomicUsize::new(0)),
        refusing: Arc::new(AtomicUsize::new(0)),
        max_buffered_bytes: cfg.max_buffered_bytes,
        buffered: AtomicUsize::new(0),
        rules: if cfg.addr.ip().is_loopback() {
            tc3::Rules::Loopback
        } else {
            tc3::Rules::Platform
        },
        tls,
        publishing: Mutex::new(()),
        timers: std::sync::OnceLock::new(),
    });
    let _ = app.timers.set(triggers::start_timers(&app)?);
    let listener = std::net::TcpListener::bind(cfg.addr)?;
    listener.set_nonblocking(true)?;
    let addr = listener.local_addr()?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("scfrt-serve")
        .enable_all()
        .build()?;
    let listener = {
        let _guard = rt.enter();
        tokio::net::TcpListener::from_std(listener)?
    };
    let (shutdown, shutdown_rx) = oneshot::channel();
    let thread = std::thread::Builder::new()
        .name("scfrt-serve-main".into())
        .spawn(move || {
            rt.block_on(accept_loop(listener, Arc::clone(&app), shutdown_rx));
            // Stop the instances before the runtime's blocking threads are waited for.
            let pools: Vec<Arc<Pool>> = app.lock().values().flat_map(Entry::pools).collect();
            for pool in pools {
                pool.retire(None);
            }
            rt.shutdown_timeout(Duration::from_secs(5));
        })?;
    Ok(ServerHandle {
        addr,
        shutdown: Some(shutdown),
        thread: Some(thread),
    })
}

async fn accept_loop(
    listener: tokio::net::TcpListener,
    app: Arc<App>,
    mut shutdown: oneshot::Receiver<()>,
) {
    let reaper = tokio::spawn(reap_loop(Arc::clone(&app)));
    loop {
        let stream = tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    eprintln!("scfrt serve: accept failed: {e}");
                    // EMFILE and the like: give the system a moment rather than spin.
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        // Counted before any TLS handshake: connections over both limits cost nothing.
        let Some(admission) = Admission::take(&app) else {
            drop(stream);
            continue;
        };
        let app = Arc::clone(&app);
        tokio::spawn(async move {
            match app.tls.clone() {
                None => admission.serve(stream, app).await,
                Some(acceptor) => {
                    // The handshake too must end within the read timeout (slowloris).
                    let handshake = tokio::time::timeout(app.read_timeout, acceptor.accept(stream));
                    if let Ok(Ok(tls)) = handshake.await {
                        admission.serve(tls, app).await;
                    }
                }
            }
        });
    }
    reaper.abort();
}

/// One of a bounded number of places, given back when dropped.
struct Slot(Arc<AtomicUsize>);

impl Slot {
    /// A place in `counter` if fewer than `max` are taken.
    fn take(counter: &Arc<AtomicUsize>, max: usize) -> Option<Slot> {
        counter
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
                (n < max).then_some(n + 1)
            })
            .ok()
            .map(|_| Slot(Arc::clone(counter)))
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// The HTTP/1 settings of every connection.
fn conn_builder(header_timeout: Duration) -> hyper::server::conn::http1::Builder {
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(header_timeout)
        .max_buf_size(CONN_BUF_BYTES);
    builder
}

/// Answers each request of a connection over `--max-connections` with `RequestLimitExceeded`
/// (without reading its body) and closes it.
/// A connection's place: served, or answered `RequestLimitExceeded` when the server is at its
/// limit of connections (itself bounded: beyond both, connections are closed at once).
enum Admission {
    Serve(Slot),
    Refuse(Slot),
}

impl Admission {
    fn take(app: &App) -> Option<Admission> {
        Slot::take(&app.connections, app.max_connections)
            .map(Admission::Serve)
            .or_else(|| Slot::take(&app.refusing, app.max_connections).map(Admission::Refuse))
    }

    /// Serves the connection (TCP or TLS) as admitted.
    async fn serve<S>(self, stream: S, app: Arc<App>)
    where
        S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    {
        let slot = match self {
            Admission::Serve(slot) => slot,
            Admission::Refuse(slot) => {
                refuse_connection(stream, slot, app.max_connections, app.max_body_bytes).await;
                return;
            }
        };
        let _slot = slot;
        let drain_limit = app.max_body_bytes;
        let io = hyper_util::rt::TokioIo::new(stream);
        let read_timeout = app.read_timeout;
        let service = hyper::service::service_fn(move |req| {
            let app = Arc::clone(&app);
            async move { Ok::<_, Infallible>(handle(app, req).await) }
        });
        // Slowloris: headers must arrive within the read timeout (and the body, in `handle`).
        let conn = conn_builder(read_timeout).serve_connection(io, service);
        if let Ok(parts) = conn.without_shutdown().await {
            linger(parts.io.into_inner(), drain_limit).await;
        }
    }
}

async fn refuse_connection<S>(stream: S, slot: Slot, max_connections: usize, drain_limit: usize)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let _slot = slot;
    let io = hyper_util::rt::TokioIo::new(stream);
    let service = hyper::service::service_fn(move |_req| async move {
        let err = ApiError::new(
            "RequestLimitExceeded",
            format!(
                "The server is serving its limit of {max_connections} connections; retry later."
            ),
        );
        let rid = uuid::Uuid::new_v4().to_string();
        Ok::<_, Infallible>(json_response(err.envelope(&rid), true))
    });
    let conn = conn_builder(REFUSAL_HEADER_TIMEOUT)
        .keep_alive(false)
        .serve_connection(io, service);
    if let Ok(parts) = conn.without_shutdown().await {
        linger(parts.io.into_inner(), drain_limit).await;
    }
}

/// Closes a connection whose last answer may have left a request body unread: sends FIN, then
/// reads and discards up to `limit` bytes for at most [`LINGER_TIME`]. Closing with unread data
/// would send a reset instead, and a client still writing its body would see that rather than
/// the answer.
async fn linger<S>(mut stream: S, limit: usize)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    if stream.shutdown().await.is_err() {
        return;
    }
    let mut buf = vec![0u8; 16 * 1024];
    let mut left = limit;
    let _ = tokio::time::timeout(LINGER_TIME, async {
        while left > 0 {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => left = left.saturating_sub(n),
            }
        }
    })
    .await;
}

/// Stops idle instances; a timer, not a synchronisation: idle expiry has no event to wait on.
async fn reap_loop(app: Arc<App>) {
    let tick =
        (app.pool_opts.idle_timeout / 2).clamp(Duration::from_millis(100), Duration::from_secs(5));
    let mut interval = tokio::time::interval(tick);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        interval.tick().await;
        let pools: Vec<Arc<Pool>> = app.lock().values().flat_map(Entry::pools).collect();
        let _ = tokio::task::spawn_blocking(move || {
            let now = Instant::now();
            for pool in pools {
                pool.reap_idle(now);
            }
        })
        .await;
    }
}

fn json_response(body: String, close: bool) -> Response<Full<Bytes>> {
    let mut resp = Response::new(Full::new(Bytes::from(body)));
    resp.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    if close {
        resp.headers_mut()
            .insert(CONNECTION, HeaderValue::from_static("close"));
    }
    resp
}

/// The API error envelope of a request refused before (or while) its body is read; the
/// connection is closed after it, so the unread rest of the body is never taken for a request.
fn refusal(err: &ApiError, request_id: &str) -> Response<Full<Bytes>> {
    json_response(err.envelope(request_id), true)
}

/// `405 Method Not Allowed` with `Allow` (and, but for HEAD, the error envelope).
fn method_not_allowed(method: &Method, request_id: &str) -> Response<Full<Bytes>> {
    let body = if method == Method::HEAD {
        String::new()
    } else {
        ApiError::new(
            "UnsupportedOperation",
            format!("The method {method} is not allowed: the API answers {ALLOWED_METHODS}."),
        )
        .envelope(request_id)
    };
    let mut resp = json_response(body, true);
    *resp.status_mut() = StatusCode::METHOD_NOT_ALLOWED;
    resp.headers_mut()
        .insert(ALLOW, HeaderValue::from_static(ALLOWED_METHODS));
    resp
}

/// The largest body accepted for `action`, or `None` when the server has no such action.
fn action_body_limit(action: &str, max_body_bytes: usize) -> Option<usize> {
    let limit = match action {
        "CreateFunction" | "UpdateFunctionCode" => max_body_bytes,
        "Invoke" | "InvokeFunction" => MAX_INVOKE_BODY_BYTES,
        "GetFunctionLogs" => MAX_SMALL_BODY_BYTES,
        "UpdateFunctionConfiguration"
        | "GetFunction"
        | "ListFunctions"
        | "DeleteFunction"
        | "CreateNamespace"
        | "ListNamespaces"
        | "DeleteNamespace" => MAX_SMALL_BODY_BYTES,
        a if versions::ACTIONS.contains(&a) || triggers::ACTIONS.contains(&a) => {
            MAX_SMALL_BODY_BYTES
        }
        _ => return None,
    };
    Some(limit.min(max_body_bytes))
}

fn unknown_action(action: &str) -> ApiError {
    ApiError::new(
        "InvalidAction",
        format!("The action `{action}` is not supported by scf {API_VERSION} (scfrt serve)."),
    )
}

/// How a request carries its signature and parameters, decided from its headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Signing {
    /// TC3-HMAC-SHA256 in `Authorization`; the action and version in `X-TC-*` headers, the
    /// parameters in a JSON body (POST), a form body (POST) or the query string (GET).
    Tc3,
    /// Signature method v1 (HmacSHA1/HmacSHA256): every parameter, signature included, in the
    /// query string (GET) or a form body (POST).
    V1,
}

/// `Content-Type: application/x-www-form-urlencoded` (parameters for v1, or TC3 POST form).
fn is_form(content_type: Option<&str>) -> bool {
    content_type.is_some_and(|ct| {
        ct.split(';')
            .next()
            .is_some_and(|t| t.trim().eq_ignore_ascii_case(FORM_CONTENT_TYPE))
    })
}

/// The checks made on the headers alone, before any of the body is read. TC3: the signature's
/// headers ([`tc3::verify_headers`]), then the action and the version. v1 (no `Authorization`):
/// only a form body can carry it, so the body is bounded by the platform's 1 MB for v1. A GET
/// has no body at all. Returns how the request is signed and its body limit.
fn check_headers<'a>(
    app: &App,
    method: &Method,
    header: &dyn Fn(&str) -> Option<&'a str>,
    query: &str,
) -> Result<(Signing, usize), ApiError> {
    if *method == Method::GET {
        if query.len() > v1::MAX_GET_BYTES {
            return Err(ApiError::new(
                "InvalidParameter.RequestTooLarge",
                format!(
                    "The query string exceeds {} bytes; send large requests with POST.",
                    v1::MAX_GET_BYTES
                ),
            ));
        }
        if header("content-length").is_some_and(|n| n.trim() != "0") {
            return Err(ApiError::new(
                "InvalidParameter",
                "A GET request carries its parameters in the query string; it has no body.",
            ));
        }
    }
    let get_body = |limit: usize| if *method == Method::GET { 0 } else { limit };
    if header("authorization").is_none() {
        if *method == Method::POST && !is_form(header("content-type")) {
            // Neither signature: the TC3 message says what a JSON request lacks.
            let creds = |id: &str| app.credentials.get(id).cloned();
            tc3::verify_headers(header, &creds, unix_now(), app.rules)?;
        }
        return Ok((
            Signing::V1,
            get_body(v1::MAX_POST_BYTES.min(app.max_body_bytes)),
        ));
    }
    let creds = |id: &str| app.credentials.get(id).cloned();
    tc3::verify_headers(header, &creds, unix_now(), app.rules)?;
    let Some(action) = header("x-tc-action") else {
        return Err(ApiError::missing("X-TC-Action"));
    };
    check_version(header("x-tc-version"))?;
    let limit =
        action_body_limit(action, app.max_body_bytes).ok_or_else(|| unknown_action(action))?;
    Ok((Signing::Tc3, get_body(limit)))
}

fn check_version(version: Option<&str>) -> Result<(), ApiError> {
    match version {
        Some(API_VERSION) => Ok(()),
        Some(v) => Err(ApiError::new(
            "NoSuchVersion",
            format!("The API version `{v}` does not exist; scf has {API_VERSION}."),
        )),
        None => Err(ApiError::missing("X-TC-Version")),
    }
}

/// Request-body bytes counted against [`App::buffered`]; given back when dropped.
struct Reservation<'a> {
    app: &'a App,
    bytes: usize,
}

impl<'a> Reservation<'a> {
    fn new(app: &'a App) -> Reservation<'a> {
        Reservation { app, bytes: 0 }
    }

    /// Reserves `n` more bytes, unless that would take the server over its budget.
    fn grow(&mut self, n: usize) -> Result<(), ApiError> {
        let max = self.app.max_buffered_bytes;
        self.app
            .buffered
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |used| {
                used.checked_add(n).filter(|&total| total <= max)
            })
            .map_err(|_| {
                ApiError::new(
                    "RequestLimitExceeded",
                    format!(
                        "The server is holding its limit of {max} bytes of request bodies; retry later."
                    ),
                )
            })?;
        self.bytes += n;
        Ok(())
    }
}

impl Drop for Reservation<'_> {
    fn drop(&mut self) {
        self.app.buffered.fetch_sub(self.bytes, Ordering::SeqCst);
    }
}

/// Reads a body of at most `limit` bytes and stops reading at the first byte over it. A declared
/// length is reserved before anything is read; a chunked body reserves its buffer as it grows.
async fn read_body(
    body: &mut Incoming,
    limit: usize,
    reservation: &mut Reservation<'_>,
) -> Result<Vec<u8>, ApiError> {
    let too_large = || {
        ApiError::new(
            "InvalidParameter.RequestTooLarge",
            format!("The request body exceeds {limit} bytes."),
        )
    };
    let declared = body.size_hint().exact();
    let mut buf = Vec::new();
    if let Some(len) = declared {
        let len = usize::try_from(len).map_err(|_| too_large())?;
        if len > limit {
            return Err(too_large());
        }
        reservation.grow(len)?;
        buf.reserve_exact(len);
    }
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| {
            ApiError::new(
                "InvalidParameter",
                format!("Cannot read the request body: {e}"),
            )
        })?;
        let Ok(data) = frame.into_data() else {
            continue; // trailers
        };
        if buf.len() + data.len() > limit {
            return Err(too_large());
        }
        if declared.is_none() && buf.len() + data.len() > buf.capacity() {
            // Chunked: grow the buffer (and what it counts for) by doubling, up to the limit.
            let want = (buf.len() + data.len())
                .max(buf.capacity().saturating_mul(2))
                .min(limit);
            reservation.grow(want.saturating_sub(reservation.bytes))?;
            buf.reserve_exact(want - buf.len());
        }
        buf.extend_from_slice(&data);
    }
    Ok(buf)
}

async fn handle(app: Arc<App>, req: Request<Incoming>) -> Response<Full<Bytes>> {
    let request_id = uuid::Uuid::new_v4().to_string();
    let (parts, mut body) = req.into_parts();
    if parts.method != Method::POST && parts.method != Method::GET {
        return method_not_allowed(&parts.method, &request_id);
    }
    let header = |name: &str| parts.headers.get(name).and_then(|v| v.to_str().ok());
    let host_owned;
    let host = match header("host") {
        Some(h) => Some(h),
        None => {
            // HTTP/1.1 always has Host; fall back to the URI authority for absolute-form requests.
            host_owned = parts.uri.authority().map(|a| a.to_string());
            host_owned.as_deref()
        }
    };
    let lookup = |name: &str| if name == "host" { host } else { header(name) };
    let query = parts.uri.query().unwrap_or("");
    let (signing, limit) = match check_headers(&app, &parts.method, &lookup, query) {
        Ok(checked) => checked,
        Err(e) => return refusal(&e, &request_id),
    };
    let mut reservation = Reservation::new(&app);
    let body = match tokio::time::timeout(
        app.read_timeout,
        read_body(&mut body, limit, &mut reservation),
    )
    .await
    {
        Ok(Ok(bytes)) => bytes,
        Ok(Err(e)) => return refusal(&e, &request_id),
        Err(_) => {
            let err = ApiError::new(
                "RequestTimeout",
                "The request body was not received in time.",
            );
            return refusal(&err, &request_id);
        }
    };
    let signed = tc3::SignedRequest {
        method: parts.method.as_str(),
        path: parts.uri.path(),
        query,
        header: &lookup,
        body: &body,
    };
    let result = dispatch(&app, signing, &signed, &request_id).await;
    drop(reservation);
    match result {
        Ok(body) => json_response(body, false),
        Err(e) => json_response(e.envelope(&request_id), false),
    }
}

async fn dispatch(
    app: &Arc<App>,
    signing: Signing,
    req: &tc3::SignedRequest<'_>,
    request_id: &str,
) -> Result<String, ApiError> {
    let (action, params) = match signing {
        Signing::Tc3 => verified_tc3(app, req)?,
        Signing::V1 => verified_v1(app, req)?,
    };
    let action = action.as_str();
    let app2 = Arc::clone(app);
    let rid = request_id.to_owned();
    match action {
        "CreateFunction" => blocking(move || create_function(&app2, &params, &rid)).await,
        "UpdateFunctionCode" => blocking(move || update_code(&app2, &params, &rid)).await,
        "UpdateFunctionConfiguration" => {
            blocking(move || update_configuration(&app2, &params, &rid)).await
        }
        "DeleteFunction" => blocking(move || delete_function(&app2, &params, &rid)).await,
        "GetFunction" => get_function(app, &params, request_id),
        "ListFunctions" => list_functions(app, &params, request_id),
        "Invoke" => invoke(app, &params, false).await,
        "InvokeFunction" => invoke(app, &params, true).await,
        "CreateNamespace" => blocking(move || create_namespace(&app2, &params, &rid)).await,
        "ListNamespaces" => list_namespaces(app, &params, request_id),
        "DeleteNamespace" => blocking(move || delete_namespace(&app2, &params, &rid)).await,
        "GetFunctionLogs" => blocking(move || logs::get_function_logs(&app2, &params, &rid)).await,
        a if versions::ACTIONS.contains(&a) => {
            let a = a.to_owned();
            blocking(move || versions::handle(&app2, &a, &params, &rid)).await
        }
        a if triggers::ACTIONS.contains(&a) => {
            let a = a.to_owned();
            blocking(move || triggers::handle(&app2, &a, &params, &rid)).await
        }
        other => Err(unknown_action(other)),
    }
}

/// A TC3 request verified ([`tc3::verify`]): its action and parameters (JSON body, form body,
/// or the query string of a GET).
fn verified_tc3(app: &App, req: &tc3::SignedRequest<'_>) -> Result<(String, Params), ApiError> {
    let creds = |id: &str| app.credentials.get(id).cloned();
    let verify = || tc3::verify(req, &creds, unix_now(), app.rules);
    if req.body.len() >= BLOCKING_VERIFY_BYTES {
        // Hashing a large body takes a while: let the runtime move its other tasks off
        // this worker meanwhile.
        tokio::task::block_in_place(verify)?;
    } else {
        verify()?;
    }
    let Some(action) = (req.header)("x-tc-action") else {
        return Err(ApiError::missing("X-TC-Action"));
    };
    check_version((req.header)("x-tc-version"))?;
    api::check_region((req.header)("x-tc-region"))?;
    let params = if req.method == "GET" {
        Params::from_pairs(&v1::decode_form(req.query.as_bytes())?)?
    } else if is_form((req.header)("content-type")) {
        Params::from_pairs(&v1::decode_form(req.body)?)?
    } else {
        Params::parse(req.body)?
    };
    Ok((action.to_owned(), params))
}

/// A v1 request verified ([`v1::verify`]): its action, and its parameters without the common
/// ones.
fn verified_v1(app: &App, req: &tc3::SignedRequest<'_>) -> Result<(String, Params), ApiError> {
    let form = if req.method == "GET" {
        req.query.as_bytes()
    } else {
        req.body
    };
    let pairs = v1::decode_form(form)?;
    let creds = |id: &str| app.credentials.get(id).cloned();
    let signed = v1::SignedRequest {
        method: req.method,
        host: (req.header)("host").unwrap_or(""),
        path: req.path,
        params: &pairs,
    };
    v1::verify(&signed, &creds, unix_now())?;
    let Some(action) = v1::param(&pairs, "Action").filter(|a| !a.is_empty()) else {
        return Err(ApiError::missing("Action"));
    };
    check_version(v1::param(&pairs, "Version"))?;
    api::check_region(v1::param(&pairs, "Region"))?;
    if action_body_limit(action, app.max_body_bytes).is_none() {
        return Err(unknown_action(action));
    }
    let own: Vec<(String, String)> = pairs
        .iter()
        .filter(|(k, _)| !v1::COMMON_PARAMS.contains(&k.as_str()))
        .cloned()
        .collect();
    Ok((action.to_owned(), Params::from_pairs(&own)?))
}

async fn blocking<F>(f: F) -> Result<String, ApiError>
where
    F: FnOnce() -> Result<String, ApiError> + Send + 'static,
{
    tokio::task::spawn_blocking(f).await.unwrap_or_else(|e| {
        Err(ApiError::new(
            "InternalError",
            format!("worker failed: {e}"),
        ))
    })
}

/// The `Namespace` parameter (default `default`), checked for form only.
fn namespace_name(params: &Params) -> Result<String, ApiError> {
    let ns = params
        .opt_str("Namespace", "Namespace")?
        .filter(|s| !s.is_empty())
        .unwrap_or(DEFAULT_NAMESPACE);
    if !valid_name(ns, 1, 30) {
        return Err(ApiError::invalid(
            "Namespace",
            "Namespace must be 1-30 letters, digits, `-` or `_`, starting with a letter.",
        ));
    }
    Ok(ns.to_owned())
}

/// The `Namespace` parameter, which must exist.
fn namespace(app: &App, params: &Params) -> Result<String, ApiError> {
    let ns = namespace_name(params)?;
    if !app.namespaces().contains_key(&ns) {
        return Err(namespace_not_found(&ns));
    }
    Ok(ns)
}

fn namespace_not_found(ns: &str) -> ApiError {
    ApiError::new(
        "ResourceNotFound.Namespace",
        format!("The namespace `{ns}` does not exist."),
    )
}

fn function_name(params: &Params) -> Result<String, ApiError> {
    let name = params.req_str("FunctionName", "FunctionName")?;
    if !valid_name(name, 2, 60) || name.ends_with(['-', '_']) {
        return Err(ApiError::invalid(
            "FunctionName",
            "FunctionName must be 2-60 letters, digits, `-` or `_`, starting with a letter and not ending with `-` or `_`.",
        ));
    }
    Ok(name.to_owned())
}

/// Also keeps names safe as path components.
fn valid_name(s: &str, min: usize, max: usize) -> bool {
    (min..=max).contains(&s.len())
        && s.starts_with(|c: char| c.is_ascii_alphabetic())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The `Qualifier` parameter, when given and not empty: `$LATEST`, a version number or an
/// alias ([`versions`]).
fn qualifier(params: &Params) -> Result<Option<String>, ApiError> {
    Ok(params
        .opt_str("Qualifier", "Qualifier")?
        .filter(|q| !q.is_empty())
        .map(str::to_owned))
}

/// The error for a `Qualifier` that names nothing: `code` as the action documents it.
fn unknown_qualifier(code: &str, q: &str) -> ApiError {
    ApiError::new(
        code,
        format!(
            "The function has no version or alias `{q}` (versions: $LATEST and those PublishVersion made; aliases: $DEFAULT and those CreateAlias made)."
        ),
    )
}

fn not_found(ns: &str, name: &str) -> ApiError {
    ApiError::new(
        "ResourceNotFound.Function",
        format!("The function `{name}` does not exist in namespace `{ns}`."),
    )
}

/// The configurable fields shared by CreateFunction and UpdateFunctionConfiguration; applies those
/// present in `params` to `meta`.
fn apply_config(meta: &mut FunctionMeta, params: &Params) -> Result<(), ApiError> {
    if let Some(h) = params.opt_str("Handler", "Handler")? {
        if h.is_empty() || h.len() > 60 || h.contains(['\0', '\n']) {
            return Err(ApiError::invalid(
                "Handler",
                "Handler must be 1-60 characters.",
            ));
        }
        meta.handler = h.to_owned();
    }
    if let Some(d) = params.opt_str("Description", "Description")? {
        if d.chars().count() > 1000 {
            return Err(ApiError::invalid(
                "Description",
                "Description is at most 1000 characters.",
            ));
        }
        meta.description = d.to_owned();
    }
    if let Some(r) = params.opt_str("Runtime", "Runtime")? {
        if r != "CustomRuntime" {
            return Err(ApiError::invalid(
                "Runtime",
                format!(
                    "Runtime `{r}` is not supported: scfrt serve runs CustomRuntime functions (a `bootstrap` at the package root)."
                ),
            ));
        }
        meta.runtime = r.to_owned();
    }
    if let Some(t) = params.opt_int("Timeout", "LimitExceeded.Timeout")? {
        meta.timeout_s = u32::try_from(t)
            .ok()
            .filter(|t| (1..=900).contains(t))
            .ok_or_else(|| {
                ApiError::new("LimitExceeded.Timeout", "Timeout must be 1 to 900 seconds.")
            })?;
    }
    if let Some(t) = params.opt_int("InitTimeout", "LimitExceeded.InitTimeout")? {
        meta.init_timeout_s = u32::try_from(t)
            .ok()
            .filter(|t| (1..=300).contains(t))
            .ok_or_else(|| {
                ApiError::new(
                    "LimitExceeded.InitTimeout",
                    "InitTimeout must be 1 to 300 seconds.",
                )
            })?;
    }
    if let Some(m) = params.opt_int("MemorySize", "MemorySize")? {
        meta.memory_mb = u32::try_from(m)
            .ok()
            .filter(|m| (64..=3072).contains(m) && m % 64 == 0)
            .ok_or_else(|| {
                ApiError::invalid(
                    "MemorySize",
                    "MemorySize must be a multiple of 64 from 64 to 3072 MB.",
                )
            })?;
    }
    if let Some(env) = params.get("Environment") {
        meta.env = environment(env)?;
    }
    Ok(())
}

fn environment(env: &Value) -> Result<Vec<(String, String)>, ApiError> {
    let bad = |m: &str| ApiError::invalid("Environment", m.to_owned());
    let vars = match env.get("Variables") {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(v)) => v,
        Some(_) => return Err(bad("Environment.Variables must be a list of {Key, Value}.")),
    };
    let mut out: Vec<(String, String)> = Vec::new();
    let mut total = 0;
    for var in vars {
        let (Some(Value::String(k)), v) = (var.get("Key"), var.get("Value")) else {
            return Err(bad("each variable needs a string Key"));
        };
        let v = match v {
            None | Some(Value::Null) => "",
            Some(Value::String(s)) => s.as_str(),
            Some(_) => return Err(bad("a variable's Value must be a string")),
        };
        let valid = k.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
            && k.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
        if !valid {
            return Err(bad(&format!("`{k}` is not a valid variable name")));
        }
        // The same rule and words as `scfrt invoke --env` (emulator.rs).
        if let Some(message) = scf_emulator::reserved_env_error(k) {
            return Err(ApiError::new(
                "InvalidParameterValue.EnvironmentSystemProtect",
                message,
            ));
        }
        total += k.len() + v.len();
        out.retain(|(old, _)| old != k);
        out.push((k.clone(), v.to_owned()));
    }
    if total > 4096 {
        return Err(ApiError::new(
            "InvalidParameterValue.EnvironmentExceededLimit",
            "The environment variables exceed 4 KB.",
        ));
    }
    Ok(out)
}

/// The decoded `ZipFile` (from `Code.ZipFile`, or a top-level `ZipFile` as UpdateFunctionCode
/// also accepts).
fn zip_file(params: &Params) -> Result<Option<Vec<u8>>, ApiError> {
    let code_zip = match params.get("Code") {
        None => None,
        Some(Value::Object(code)) => match code.get("ZipFile") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s.as_str()),
            Some(_) => {
                return Err(ApiError::invalid(
                    "ZipFile",
                    "Code.ZipFile must be a base64 string.",
                ));
            }
        },
        Some(_) => return Err(ApiError::invalid("Code", "Code must be an object.")),
    };
    let Some(b64) = code_zip.or(params.opt_str("ZipFile", "ZipFile")?) else {
        return Ok(None);
    };
    let cleaned: String = b64.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    base64::engine::general_purpose::STANDARD
        .decode(cleaned.as_bytes())
        .map(Some)
        .map_err(|e| {
            ApiError::new(
                "InvalidParameterValue.ZipFileBase64BinasciiError",
                format!("ZipFile is not valid base64: {e}"),
            )
        })
}

fn create_function(app: &App, params: &Params, request_id: &str) -> Result<String, ApiError> {
    let name = function_name(params)?;
    let ns = namespace(app, params)?;
    let now = unix_now();
    let mut meta = FunctionMeta {
        name: name.clone(),
        namespace: ns.clone(),
        function_id: format!("lam-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]),
        handler: "index.main_handler".into(),
        runtime: "CustomRuntime".into(),
        description: String::new(),
        timeout_s: 3,
        init_timeout_s: 65,
        memory_mb: 128,
        env: Vec::new(),
        code_dir: String::new(),
        code_size: 0,
        add_time: now,
        mod_time: now,
    };
    apply_config(&mut meta, params)?;
    if params.get("Runtime").is_none() {
        return Err(ApiError::new(
            "MissingParameter.Runtime",
            "Runtime is required: CustomRuntime.",
        ));
    }
    let Some(zip) = zip_file(params)? else {
        return Err(ApiError::new(
            "MissingParameter.Code",
            "Code.ZipFile (a base64 zip with `bootstrap` at its root) is required.",
        ));
    };
    meta.code_size = zip.len() as u64;
    // Held until the function is in: DeleteNamespace cannot empty the namespace meanwhile.
    let namespaces = app.namespaces();
    if !namespaces.contains_key(&ns) {
        return Err(namespace_not_found(&ns));
    }
    if app.lock().contains_key(&(ns.clone(), name.clone())) {
        return Err(ApiError::new(
            "ResourceInUse.Function",
            format!("The function `{name}` already exists."),
        ));
    }
    app.store.create(&mut meta, &zip)?;
    let pool = app.new_pool(&meta);
    let entry = Entry::new(
        meta,
        pool,
        Published::default(),
        (&app.store, app.pool_opts),
    );
    app.lock().insert((ns, name), entry);
    drop(namespaces);
    Ok(success_envelope(Map::new(), request_id))
}

fn lookup(app: &App, params: &Params) -> Result<(String, String, FunctionMeta), ApiError> {
    let name = function_name(params)?;
    let ns = namespace(app, params)?;
    let meta = app
        .lock()
        .get(&(ns.clone(), name.clone()))
        .map(|e| e.meta.clone())
        .ok_or_else(|| not_found(&ns, &name))?;
    Ok((ns, name, meta))
}

/// Gives the function's `$LATEST` `meta` and a fresh pool; retires the old pool (which deletes
/// `remove` once its instances are gone). Versions and aliases are left as they are.
fn replace(app: &App, ns: String, name: String, meta: FunctionMeta, remove: Option<PathBuf>) {
    let pool = app.new_pool(&meta);
    let old = match app.lock().get_mut(&(ns, name)) {
        Some(entry) => {
            entry.meta = meta;
            Some(std::mem::replace(&mut entry.pool, pool))
        }
        None => None,
    };
    if let Some(old) = old {
        old.retire(remove);
    }
}

fn update_code(app: &App, params: &Params, request_id: &str) -> Result<String, ApiError> {
    // A published version may run the code being replaced.
    let _publishing = app.publishing();
    let (ns, name, mut meta) = lookup(app, params)?;
    let Some(zip) = zip_file(params)? else {
        return Err(ApiError::new(
            "MissingParameter.Code",
            "ZipFile (base64) is required.",
        ));
    };
    if let Some(h) = params.opt_str("Handler", "Handler")? {
        if h.is_empty() || h.len() > 60 {
            return Err(ApiError::invalid(
                "Handler",
                "Handler must be 1-60 characters.",
            ));
        }
        meta.handler = h.to_owned();
    }
    meta.code_size = zip.len() as u64;
    meta.mod_time = unix_now();
    let old_dir = meta.code_dir.clone();
    let old = app.store.update_code(&mut meta, &zip)?;
    let shared = app
        .lock()
        .get(&(ns.clone(), name.clone()))
        .is_some_and(|e| e.published.uses_code(&meta.code_dir, &old_dir));
    replace(app, ns, name, meta, (!shared).then_some(old));
    Ok(success_envelope(Map::new(), request_id))
}

fn update_configuration(app: &App, params: &Params, request_id: &str) -> Result<String, ApiError> {
    let _publishing = app.publishing();
    let (ns, name, mut meta) = lookup(app, params)?;
    apply_config(&mut meta, params)?;
    meta.mod_time = unix_now();
    app.store.save(&meta)?;
    replace(app, ns, name, meta, None);
    Ok(success_envelope(Map::new(), request_id))
}

/// Deletes the function, every version and alias with it; with a version's number as
/// `Qualifier`, that version only.
fn delete_function(app: &App, params: &Params, request_id: &str) -> Result<String, ApiError> {
    let qualifier = qualifier(params)?;
    let _publishing = app.publishing();
    let (ns, name, meta) = lookup(app, params)?;
    if let Some(q) = qualifier.as_deref().filter(|q| *q != versions::LATEST) {
        versions::delete_version(app, &(ns, name), q)?;
        return Ok(success_envelope(Map::new(), request_id));
    }
    let trash = app.store.delete(&meta)?;
    if let Some(timers) = app.timers.get() {
        timers.remove_prefix(&triggers::timer_prefix(&ns, &name));
    }
    if let Some(old) = app.lock().remove(&(ns, name)) {
        for pool in old.version_pools.values() {
            pool.retire(None);
        }
        old.pool.retire(Some(trash));
    }
    Ok(success_envelope(Map::new(), request_id))
}

fn env_json(meta: &FunctionMeta) -> Value {
    json!({"Variables": meta.env.iter().map(|(k, v)| json!({"Key": k, "Value": v})).collect::<Vec<_>>()})
}

fn get_function(app: &App, params: &Params, request_id: &str) -> Result<String, ApiError> {
    let qualifier = qualifier(params)?;
    let name = function_name(params)?;
    let ns = namespace(app, params)?;
    let (m, version, trigger_list) = {
        let functions = app.lock();
        let entry = functions
            .get(&(ns.clone(), name.clone()))
            .ok_or_else(|| not_found(&ns, &name))?;
        let trigger_list = triggers::function_triggers(&entry.triggers);
        // An alias shows its main version.
        let target = match qualifier.as_deref() {
            None => Target::Latest,
            Some(q) => entry
                .resolve(q)
                .ok_or_else(|| unknown_qualifier("ResourceNotFound.Version", q))?,
        };
        let (m, version) = entry
            .config_of(target)
            .ok_or_else(|| unknown_qualifier("ResourceNotFound.Version", &target.label()))?;
        (m, version, trigger_list)
    };
    let fields = json!({
        "ModTime": tc3::utc_datetime(m.mod_time),
        "CodeInfo": "",
        "Description": m.description,
        "Triggers": trigger_list,
        "Handler": m.handler,
        "CodeSize": m.code_size,
        "Timeout": m.timeout_s,
        "FunctionVersion": version,
        "MemorySize": m.memory_mb,
        "Runtime": m.runtime,
        "FunctionName": m.name,
        "VpcConfig": {"VpcId": "", "SubnetId": ""},
        "UseGpu": "FALSE",
        "Environment": env_json(&m),
        "CodeResult": "success",
        "CodeError": "",
        "ErrNo": 0,
        "Namespace": m.namespace,
        "Role": "",
        "InstallDependency": "FALSE",
        "Status": "Active",
        "StatusDesc": "",
        "ClsLogsetId": "",
        "ClsTopicId": "",
        "FunctionId": m.function_id,
        "Tags": [],
        "Type": "Event",
        "Layers": [],
        "AddTime": tc3::utc_datetime(m.add_time),
        "OnsEnable": "FALSE",
        "AvailableStatus": "Available",
        "Qualifier": version,
        "InitTimeout": m.init_timeout_s,
        "StatusReasons": [],
        "AsyncRunEnable": "FALSE",
        "TraceEnable": "FALSE",
        "ProtocolType": "",
    });
    // What an event function without VPC, CFS, dead-letter queue or EIP shows; the fields only
    // web or image functions fill are null, as the API documents they may be.
    let more = json!({
        "EipConfig": {"EipFixed": "FALSE", "Eips": []},
        "AccessInfo": {"Host": "", "Vip": ""},
        "L5Enable": "FALSE",
        "DeadLetterConfig": {"Type": "", "Name": "", "FilterType": ""},
        "PublicNetConfig": {
            "PublicNetStatus": "ENABLE",
            "EipConfig": {"EipStatus": "DISABLE", "EipAddress": []},
        },
        "CfsConfig": {"CfsInsList": []},
        "ImageConfig": null,
        "ProtocolParams": null,
        "InstanceConcurrencyConfig": null,
        "DnsCache": "FALSE",
        "IntranetConfig": {"IpFixed": "DISABLE", "IpAddress": []},
    });
    let (Value::Object(mut fields), Value::Object(more)) = (fields, more) else {
        unreachable!("json! of an object literal");
    };
    fields.extend(more);
    Ok(success_envelope(fields, request_id))
}

/// `Offset` (from 0) and `Limit` (1 to 100, default 20) as the list actions take them.
pub(crate) fn page(params: &Params) -> Result<(usize, usize), ApiError> {
    let offset = params.opt_int("Offset", "Offset")?.unwrap_or(0);
    let limit = params.opt_int("Limit", "Limit")?.unwrap_or(20);
    if offset < 0 {
        return Err(ApiError::invalid("Offset", "Offset must be at least 0."));
    }
    if !(1..=100).contains(&limit) {
        return Err(ApiError::invalid("Limit", "Limit must be 1 to 100."));
    }
    Ok((
        usize::try_from(offset).unwrap_or(usize::MAX),
        usize::try_from(limit).unwrap_or(100),
    ))
}

/// Whether a list action's `Order` (`ASC` or `DESC`, any case; `default` when absent) asks for
/// descending order.
pub(crate) fn descending(params: &Params, default: &str) -> Result<bool, ApiError> {
    match params.opt_str("Order", "Order")?.unwrap_or(default) {
        o if o.eq_ignore_ascii_case("DESC") => Ok(true),
        o if o.eq_ignore_ascii_case("ASC") => Ok(false),
        other => Err(ApiError::invalid(
            "Order",
            format!("Order `{other}` is not ASC or DESC."),
        )),
    }
}

fn list_functions(app: &App, params: &Params, request_id: &str) -> Result<String, ApiError> {
    let ns = namespace(app, params)?;
    let (offset, limit) = page(params)?;
    let search = params.opt_str("SearchKey", "SearchKey")?.unwrap_or("");
    let desc = params.opt_str("Description", "Description")?.unwrap_or("");
    let mut metas: Vec<FunctionMeta> = app
        .lock()
        .values()
        .map(|e| &e.meta)
        .filter(|m| m.namespace == ns && m.name.contains(search) && m.description.contains(desc))
        .cloned()
        .collect();
    match params.opt_str("Orderby", "Orderby")?.unwrap_or("AddTime") {
        "FunctionName" => metas.sort_by(|a, b| a.name.cmp(&b.name)),
        "ModTime" => metas.sort_by_key(|m| (m.mod_time, m.name.clone())),
        "AddTime" => metas.sort_by_key(|m| (m.add_time, m.name.clone())),
        other => {
            return Err(ApiError::invalid(
                "Orderby",
                format!("Orderby `{other}` is not one of AddTime, ModTime, FunctionName."),
            ));
        }
    }
    if descending(params, "DESC")? {
        metas.reverse();
    }
    let total = metas.len();
    let functions: Vec<Value> = metas
        .iter()
        .skip(offset)
        .take(limit)
        .map(|m| {
            json!({
                "ModTime": tc3::utc_datetime(m.mod_time),
                "AddTime": tc3::utc_datetime(m.add_time),
                "Runtime": m.runtime,
                "FunctionName": m.name,
                "FunctionId": m.function_id,
                "Namespace": m.namespace,
                "Status": "Active",
                "StatusDesc": "",
                "Description": m.description,
                "Tags": [],
                "Type": "Event",
                "StatusReasons": [],
                "TotalProvisionedConcurrencyMem": 0,
                "ReservedConcurrencyMem": 0,
                "AsyncRunEnable": "FALSE",
                "TraceEnable": "FALSE",
            })
        })
        .collect();
    let mut fields = Map::new();
    fields.insert("Functions".into(), Value::Array(functions));
    fields.insert("TotalCount".into(), Value::from(total));
    Ok(success_envelope(fields, request_id))
}

/// Runs `event` on the function's current pool, moving to the new pool if it is replaced
/// while the invocation waits in line.
fn create_namespace(app: &App, params: &Params, request_id: &str) -> Result<String, ApiError> {
    if params
        .opt_str("Namespace", "Namespace")?
        .is_none_or(str::is_empty)
    {
        return Err(ApiError::missing("Namespace"));
    }
    let name = namespace_name(params)?;
    if name == DEFAULT_NAMESPACE {
        return Err(ApiError::new(
            "InvalidParameterValue.DefaultNamespace",
            "The namespace `default` always exists; it cannot be created.",
        ));
    }
    let description = params.opt_str("Description", "Description")?.unwrap_or("");
    if description.chars().count() > 50 {
        return Err(ApiError::invalid(
            "Description",
            "Description must be at most 50 characters.",
        ));
    }
    let mut namespaces = app.namespaces();
    if namespaces.contains_key(&name) {
        return Err(ApiError::new(
            "ResourceInUse.Namespace",
            format!("The namespace `{name}` already exists."),
        ));
    }
    let now = unix_now();
    let ns = NamespaceMeta {
        name: name.clone(),
        description: description.to_owned(),
        add_time: now,
        mod_time: now,
    };
    app.store.save_namespace(&ns)?;
    namespaces.insert(name, ns);
    Ok(success_envelope(Map::new(), request_id))
}

fn delete_namespace(app: &App, params: &Params, request_id: &str) -> Result<String, ApiError> {
    if params
        .opt_str("Namespace", "Namespace")?
        .is_none_or(str::is_empty)
    {
        return Err(ApiError::missing("Namespace"));
    }
    let name = namespace_name(params)?;
    if name == DEFAULT_NAMESPACE {
        return Err(ApiError::new(
            "FailedOperation.DeleteNamespace",
            "The namespace `default` cannot be deleted.",
        ));
    }
    let mut namespaces = app.namespaces();
    if !namespaces.contains_key(&name) {
        return Err(namespace_not_found(&name));
    }
    let held = app.lock().keys().filter(|(ns, _)| *ns == name).count();
    if held > 0 {
        return Err(ApiError::new(
            "FailedOperation.DeleteNamespace",
            format!("The namespace `{name}` still holds {held} function(s); delete them first."),
        ));
    }
    app.store.delete_namespace(&name)?;
    namespaces.remove(&name);
    Ok(success_envelope(Map::new(), request_id))
}

fn list_namespaces(app: &App, params: &Params, request_id: &str) -> Result<String, ApiError> {
    let (offset, limit) = page(params)?;
    let search = params.opt_str("SearchKey", "SearchKey")?.unwrap_or("");
    let mut list: Vec<NamespaceMeta> = app
        .namespaces()
        .values()
        .filter(|ns| ns.name.contains(search) || ns.description.contains(search))
        .cloned()
        .collect();
    match params.opt_str("Orderby", "Orderby")?.unwrap_or("AddTime") {
        "Name" => list.sort_by(|a, b| a.name.cmp(&b.name)),
        "ModTime" => list.sort_by_key(|n| (n.mod_time, n.name.clone())),
        "AddTime" => list.sort_by_key(|n| (n.add_time, n.name.clone())),
        other => {
            return Err(ApiError::invalid(
                "Orderby",
                format!("Orderby `{other}` is not one of AddTime, ModTime, Name."),
            ));
        }
    }
    if descending(params, "ASC")? {
        list.reverse();
    }
    let total = list.len();
    let namespaces: Vec<Value> = list
        .iter()
        .skip(offset)
        .take(limit)
        .map(|ns| {
            json!({
                "ModTime": tc3::utc_datetime(ns.mod_time),
                "AddTime": tc3::utc_datetime(ns.add_time),
                "Description": ns.description,
                "Name": ns.name,
                // `default` for the account's own namespace, `custom` for those created.
                "Type": if ns.name == DEFAULT_NAMESPACE { "default" } else { "custom" },
            })
        })
        .collect();
    let mut fields = Map::new();
    fields.insert("Namespaces".into(), Value::Array(namespaces));
    fields.insert("TotalCount".into(), Value::from(total));
    Ok(success_envelope(fields, request_id))
}

/// Runs `event` on the pool of `target` (`$LATEST` or a version), moving to `$LATEST`'s new pool
/// if it is replaced while the invocation waits in line.
fn run_on_pool(
    app: &App,
    key: &(String, String),
    target: Target,
    event: &[u8],
    request_id: &str,
) -> Option<InvokeResult> {
    // Each retry follows an update of the function; a few in a row end with `None`.
    for _ in 0..8 {
        let pool = app.lock().get(key).and_then(|e| e.pool_of(target))?;
        match pool.invoke(event, request_id.to_owned()) {
            Ok(result) => return Some(result),
            Err(PoolError::Retired) => continue,
            // A refusal added to the pool later: the event was not run.
            Err(_) => return None,
        }
    }
    None
}

/// Runs an asynchronous invocation (`Event`, or a trigger's: `kind`) to its end and logs it.
fn run_event(
    app: &App,
    key: (String, String),
    target: Target,
    event: &[u8],
    request_id: &str,
    kind: &str,
) {
    match run_on_pool(app, &key, target, event, request_id) {
        Some(r) => log_invocation(app, &key, target, kind, &r),
        None => eprintln!(
            "scfrt serve: {kind} {}/{} {request_id}: the function was deleted before it ran",
            key.0, key.1
        ),
    }
}

fn log_invocation(app: &App, key: &(String, String), target: Target, kind: &str, r: &InvokeResult) {
    let line = logs::record(
        &key.0,
        &key.1,
        &target.label(),
        kind,
        r,
        logs::unix_now_ms(),
    );
    app.store.append_log(&line.to_string());
    let version = match target {
        Target::Latest => String::new(),
        Target::Version(n) => format!(" (version {n})"),
    };
    eprintln!(
        "scfrt serve: {kind} {}/{}{version} {} InvokeResult={} Duration={}ms{}",
        key.0,
        key.1,
        r.function_request_id,
        r.invoke_result,
        r.duration_ms,
        if r.cold_start { " (cold start)" } else { "" }
    );
}

async fn invoke(
    app: &Arc<App>,
    params: &Params,
    invoke_function: bool,
) -> Result<String, ApiError> {
    let name = function_name(params)?;
    let ns = namespace(app, params)?;
    let qualifier = qualifier(params)?;
    let is_async = if invoke_function {
        false
    } else {
        match params
            .opt_str("InvocationType", "InvokeType")?
            .unwrap_or("RequestResponse")
        {
            "RequestResponse" => false,
            "Event" => true,
            other => {
                return Err(ApiError::invalid(
                    "InvokeType",
                    format!("InvocationType `{other}` is not RequestResponse or Event."),
                ));
            }
        }
    };
    // The API's default is `None`: the log comes back only when asked for with `Tail`.
    let tail = match params.opt_str("LogType", "LogType")?.unwrap_or("None") {
        "Tail" => true,
        "None" => false,
        other => {
            return Err(ApiError::new(
                "InvalidParameterValue",
                format!("LogType `{other}` is not Tail or None."),
            ));
        }
    };
    let event_param = if invoke_function {
        "Event"
    } else {
        "ClientContext"
    };
    let event = params
        .opt_str(event_param, "ClientContext")?
        .filter(|s| !s.is_empty())
        .unwrap_or("{}");
    let limit = if is_async {
        MAX_ASYNC_EVENT_BYTES
    } else {
        MAX_SYNC_EVENT_BYTES
    };
    if event.len() > limit {
        return Err(ApiError::new(
            "InvalidParameter.RequestTooLarge",
            format!(
                "{event_param} is {} bytes; the limit is {limit} bytes.",
                event.len()
            ),
        ));
    }
    if serde_json::from_str::<serde::de::IgnoredAny>(event).is_err() {
        return Err(ApiError::invalid(
            "ClientContext",
            format!("{event_param} must be a JSON document."),
        ));
    }
    let key = (ns.clone(), name.clone());
    // The documented defaults: `$LATEST` for Invoke, `$DEFAULT` for InvokeFunction; an alias
    // routes by its weights (and counts this invocation).
    let (q, unknown) = if invoke_function {
        ("$DEFAULT", "ResourceNotFound.Qualifier")
    } else {
        ("$LATEST", "ResourceNotFound.Version")
    };
    let q = qualifier.as_deref().unwrap_or(q);
    let target = app
        .lock()
        .get_mut(&key)
        .ok_or_else(|| not_found(&ns, &name))?
        .route(q)
        .ok_or_else(|| unknown_qualifier(unknown, q))?;
    let function_request_id = uuid::Uuid::new_v4().to_string();
    let event = event.as_bytes().to_vec();
    if is_async {
        if app.pending_events.fetch_add(1, Ordering::SeqCst) >= MAX_PENDING_EVENTS {
            app.pending_events.fetch_sub(1, Ordering::SeqCst);
            return Err(ApiError::new(
                "RequestLimitExceeded",
                format!("More than {MAX_PENDING_EVENTS} Event invocations are pending."),
            ));
        }
        let app2 = Arc::clone(app);
        let id = function_request_id.clone();
        tokio::task::spawn_blocking(move || {
            run_event(&app2, key, target, &event, &id, "Event");
            app2.pending_events.fetch_sub(1, Ordering::SeqCst);
        });
        let result = InvokeResult {
            function_request_id: function_request_id.clone(),
            ret_msg: String::new(),
            err_msg: String::new(),
            log: String::new(),
            duration_ms: 0.0,
            bill_duration_ms: 0,
            mem_usage_bytes: 0,
            invoke_result: 0,
            status_code: 200,
            cold_start: false,
        };
        return Ok(invoke_response(&result));
    }
    let app2 = Arc::clone(app);
    let kind = if invoke_function {
        "InvokeFunction"
    } else {
        "RequestResponse"
    };
    let outcome = tokio::task::spawn_blocking(move || {
        let r = run_on_pool(&app2, &key, target, &event, &function_request_id);
        if let Some(r) = &r {
            log_invocation(&app2, &key, target, kind, r);
        }
        r
    })
    .await
    .map_err(|e| ApiError::new("InternalError", format!("worker failed: {e}")))?;
    let Some(mut result) = outcome else {
        return Err(not_found(&ns, &name));
    };
    if !tail {
        result.log.clear();
    }
    result.err_msg = hide_state_dir(&app.store, &result.err_msg);
    Ok(invoke_response(&result))
}

/// `text` with the state directory's absolute path taken out of the paths it names (relative
/// to the state directory), as in the platform's error for a bootstrap that cannot be started:
/// an `ErrMsg` goes to API clients.
fn hide_state_dir(store: &Store, text: &str) -> String {
    let root = store.root();
    if !root.is_absolute() {
        return text.to_owned();
    }
    // Without a trailing `/` as given, the way the code paths are joined.
    let root: PathBuf = root.components().collect();
    let prefix = format!("{}/", root.display());
    let mut out = text.replace(&prefix, "");
    // ErrMsg is often JSON text, where the path is escaped.
    if let Ok(quoted) = serde_json::to_string(&prefix) {
        let escaped = &quoted[1..quoted.len() - 1];
        if escaped != prefix {
            out = out.replace(escaped, "");
        }
    }
    out
}

/// The Invoke envelope in the platform's key order (the result's id is also the RequestId,
/// as the platform answers).
fn invoke_response(r: &InvokeResult) -> String {
    r.to_invoke_json_string()
}
