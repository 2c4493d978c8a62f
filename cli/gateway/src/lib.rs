//! `scf-gateway`: `scfrt start-api`, a local API Gateway in front of event functions. Each HTTP
//! request becomes API Gateway's event ([`scf_triggers::apigw::event`]), runs on the route's
//! function through a warm [`Pool`] (one per function), and the function's result is mapped back
//! to an HTTP response as API Gateway maps it ([`response`]). The routes and their matching are
//! [`routes`]; docs/triggers.md, "A local API Gateway: scfrt start-api", gives every rule with
//! its source. It must not depend on the command line (no clap).
//!
//! A web function ([`Deployment::Web`]) gets each request passed on as it came, and its answer
//! is returned as it is ([`Pool::forward`]; docs/triggers.md, "Web functions"); its pool runs
//! one instance at a time, since a server built for SCF listens on port 9000 whatever it is
//! told, and two cannot.
//!
//! Limits: a request body over [`MAX_BODY_BYTES`] (the platform's 6 MB for an SCF backend) is
//! answered 413 before it is read; request headers must fit in 64 KiB and arrive within the read
//! timeout, as must the body.

#![warn(missing_docs)]

pub mod response;
pub mod routes;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::header::{ALLOW, CONTENT_LENGTH, HeaderName, HeaderValue};
use hyper::{Request, Response, StatusCode};
use tokio::sync::oneshot;

use scf_emulator::pool::{LogStreamFactory, Pool, PoolOptions};
use scf_emulator::{Deployment, EmulatorError, ForwardRequest, Function, FunctionConfig};
use scf_triggers::apigw::ApigwRequest;

pub use crate::response::Answer;
pub use crate::routes::{DuplicateRoute, Match, Route, RouteTable};

/// Largest request body: API Gateway's limit for one request to an SCF backend (6 MB).
pub const MAX_BODY_BYTES: usize = 6 * 1024 * 1024;
/// Largest read buffer of a connection (request headers must fit in it).
const CONN_BUF_BYTES: usize = 64 * 1024;

/// A function the gateway serves.
#[derive(Debug, Clone)]
pub struct GatewayFunction {
    /// Its name, as the routes table shows it.
    pub name: String,
    /// How it runs.
    pub config: FunctionConfig,
    /// Its timer triggers, which fire while the gateway runs (docs/triggers.md, "Timer
    /// schedules").
    pub timers: Vec<GatewayTimer>,
}

/// A timer trigger of a [`GatewayFunction`].
#[derive(Debug, Clone)]
pub struct GatewayTimer {
    /// The trigger's name (the event's `TriggerName`).
    pub name: String,
    /// When it fires.
    pub schedule: scf_triggers::schedule::Schedule,
    /// The event's `Message`.
    pub message: String,
}

/// How `scfrt start-api` is set up.
#[derive(Clone)]
pub struct GatewayConfig {
    /// Address to listen on (port 0: any free port).
    pub addr: SocketAddr,
    /// The functions; [`Route::function`] indexes this list.
    pub functions: Vec<GatewayFunction>,
    /// The APIs.
    pub routes: Vec<Route>,
    /// Instance limits per function.
    pub pool: PoolOptions,
    /// Where each instance streams its framed log (`None`: nowhere).
    pub log_stream: Option<LogStreamFactory>,
    /// Largest request body in bytes.
    pub max_body_bytes: usize,
    /// Time allowed to receive a request's headers, and again its body.
    pub read_timeout: Duration,
}

impl std::fmt::Debug for GatewayConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GatewayConfig")
            .field("addr", &self.addr)
            .field("functions", &self.functions)
            .field("routes", &self.routes)
            .field("pool", &self.pool)
            .field("max_body_bytes", &self.max_body_bytes)
            .finish_non_exhaustive()
    }
}

impl GatewayConfig {
    /// 127.0.0.1:3000, 4 instances per function, 6 MB bodies, 30 s read timeout, no log stream.
    pub fn new(functions: Vec<GatewayFunction>, routes: Vec<Route>) -> GatewayConfig {
        GatewayConfig {
            addr: SocketAddr::from(([127, 0, 0, 1], 3000)),
            functions,
            routes,
            pool: PoolOptions::default(),
            log_stream: None,
            max_body_bytes: MAX_BODY_BYTES,
            read_timeout: Duration::from_secs(30),
        }
    }
}

/// Why the gateway did not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GatewayError {
    /// No route to serve.
    #[error("no API to serve: no function has an API Gateway trigger with an endpoint")]
    NoRoutes,
    /// A route names a function that is not in the list.
    #[error("route {method} {path} names function #{function}, which does not exist")]
    UnknownFunction {
        /// The route's method.
        method: String,
        /// The route's path.
        path: String,
        /// The index it names.
        function: usize,
    },
    /// A route's path does not start with `/`.
    #[error("route {method} {path}: a path must start with `/`")]
    BadPath {
        /// The route's method.
        method: String,
        /// The route's path.
        path: String,
    },
    /// Two routes with the same method and path.
    #[error(transparent)]
    Duplicate(#[from] DuplicateRoute),
    /// A function's package cannot run (no bootstrap, a reserved variable...).
    #[error("function `{name}`: {source}")]
    Function {
        /// The function.
        name: String,
        /// Why.
        source: EmulatorError,
    },
    /// The address cannot be bound, or the server cannot start.
    #[error("cannot listen on {addr}: {source}")]
    Io {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
}

struct App {
    table: RouteTable,
    functions: Vec<GatewayFunction>,
    pools: Vec<Arc<Pool>>,
    max_body_bytes: usize,
    read_timeout: Duration,
}

/// A running gateway (see [`start`]); dropping it stops the server and its instances.
pub struct Gateway {
    addr: SocketAddr,
    table: RouteTable,
    names: Vec<String>,
    /// Whether each function is a web function.
    web: Vec<bool>,
    /// The functions' timers; dropped (stopped) before the server.
    timers: Option<scf_triggers::timers::Timers>,
    shutdown: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl std::fmt::Debug for Gateway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gateway")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl Gateway {
    /// The address the gateway listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The routes table: one line per API, `METHOD http://ADDR/path -> function (stage, ...)`.
    pub fn routes_table(&self) -> String {
        let mut out = String::new();
        for r in self.table.routes() {
            let name = self.names.get(r.function).map_or("?", String::as_str);
            if self.web.get(r.function).copied().unwrap_or(false) {
                out.push_str(&format!(
                    "  {:<7} http://{}{:<24} -> {name} (web function: every path and method, \
                     passed on as is; one instance at a time, requests wait in line)\n",
                    r.method, self.addr, r.path,
                ));
                continue;
            }
            out.push_str(&format!(
                "  {:<7} http://{}{:<24} -> {name} (stage {}, integrated response {})\n",
                r.method,
                self.addr,
                r.path,
                r.stage,
                if r.integrated_response { "on" } else { "off" }
            ));
        }
        out
    }

    /// Blocks until the server stops (it does not stop on its own).
    pub fn join(mut self) {
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        drop(self.timers.take());
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Checks the routes and the functions' packages, binds `cfg.addr` and serves on a background
/// thread.
///
/// # Errors
/// See [`GatewayError`]; nothing is started then.
pub fn start(cfg: GatewayConfig) -> Result<Gateway, GatewayError> {
    if cfg.routes.is_empty() {
        return Err(GatewayError::NoRoutes);
    }
    for r in &cfg.routes {
        if r.function >= cfg.functions.len() {
            return Err(GatewayError::UnknownFunction {
                method: r.method.clone(),
                path: r.path.clone(),
                function: r.function,
            });
        }
        if !r.path.starts_with('/') {
            return Err(GatewayError::BadPath {
                method: r.method.clone(),
                path: r.path.clone(),
            });
        }
    }
    let table = RouteTable::new(cfg.routes.clone())?;
    let mut pools = Vec::new();
    for f in &cfg.functions {
        // Checks the package (bootstrap, variables) without starting anything.
        Function::new(f.config.clone()).map_err(|source| GatewayError::Function {
            name: f.name.clone(),
            source,
        })?;
        // A web function's server may listen on 9000 itself, which two instances cannot:
        // one at a time, and requests wait in line (docs/triggers.md, "Web functions").
        let opts = if f.config.deployment == Deployment::Web {
            PoolOptions {
                max_instances: 1,
                ..cfg.pool
            }
        } else {
            cfg.pool
        };
        let mut pool = Pool::new(f.config.clone(), opts);
        if let Some(make) = &cfg.log_stream {
            pool = pool.with_log_stream(Arc::clone(make));
        }
        pools.push(Arc::new(pool));
    }
    let io = |source| GatewayError::Io {
        addr: cfg.addr,
        source,
    };
    let listener = std::net::TcpListener::bind(cfg.addr).map_err(io)?;
    listener.set_nonblocking(true).map_err(io)?;
    let addr = listener.local_addr().map_err(io)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("scfrt-gateway")
        .enable_all()
        .build()
        .map_err(io)?;
    let listener = {
        let _guard = rt.enter();
        tokio::net::TcpListener::from_std(listener).map_err(io)?
    };
    let names = cfg.functions.iter().map(|f| f.name.clone()).collect();
    let web = cfg
        .functions
        .iter()
        .map(|f| f.config.deployment == Deployment::Web)
        .collect();
    let timers = start_timers(&cfg.functions, &pools).map_err(io)?;
    let app = Arc::new(App {
        table: table.clone(),
        functions: cfg.functions,
        pools,
        max_body_bytes: cfg.max_body_bytes,
        read_timeout: cfg.read_timeout,
    });
    let idle = cfg.pool.idle_timeout;
    let (shutdown, shutdown_rx) = oneshot::channel();
    let thread = std::thread::Builder::new()
        .name("scfrt-gateway-main".into())
        .spawn(move || {
            rt.block_on(accept_loop(listener, Arc::clone(&app), shutdown_rx, idle));
            // Stop the instances before the runtime's blocking threads are waited for.
            for pool in &app.pools {
                pool.retire(None);
            }
            rt.shutdown_timeout(Duration::from_secs(5));
        })
        .map_err(io)?;
    Ok(Gateway {
        addr,
        table,
        names,
        web,
        timers,
        shutdown: Some(shutdown),
        thread: Some(thread),
    })
}

/// The functions' timers, each firing an asynchronous invocation of its function on a thread of
/// its own (a timer's invocation is asynchronous on the platform); `None` without timers.
fn start_timers(
    functions: &[GatewayFunction],
    pools: &[Arc<Pool>],
) -> std::io::Result<Option<scf_triggers::timers::Timers>> {
    if functions.iter().all(|f| f.timers.is_empty()) {
        return Ok(None);
    }
    let weak: Vec<std::sync::Weak<Pool>> = pools.iter().map(Arc::downgrade).collect();
    let names: Vec<String> = functions.iter().map(|f| f.name.clone()).collect();
    let timers = scf_triggers::timers::Timers::start(move |firing| {
        // The id is `<function index>/<trigger name>`.
        let Some(i) = firing
            .id
            .split_once('/')
            .and_then(|(i, _)| i.parse::<usize>().ok())
        else {
            return;
        };
        let (Some(pool), Some(name)) = (
            weak.get(i).and_then(std::sync::Weak::upgrade),
            names.get(i).cloned(),
        ) else {
            return;
        };
        let event = firing.event.to_string().into_bytes();
        let spawned = std::thread::Builder::new()
            .name("scfrt-timer-fire".into())
            .spawn(move || {
                let id = uuid::Uuid::new_v4().to_string();
                match pool.invoke(&event, id.clone()) {
                    Ok(r) => eprintln!(
                        "scfrt start-api: timer of {name} fired: {id} InvokeResult={} Duration={}ms",
                        r.invoke_result, r.duration_ms
                    ),
                    Err(_) => eprintln!("scfrt start-api: timer of {name}: the gateway is stopping"),
                }
            });
        if let Err(e) = spawned {
            eprintln!("scfrt start-api: a timer could not fire: {e}");
        }
    })?;
    for (i, f) in functions.iter().enumerate() {
        for t in &f.timers {
            timers.add(
                &format!("{i}/{}", t.name),
                &t.name,
                &t.message,
                t.schedule.clone(),
            );
        }
    }
    Ok(Some(timers))
}

async fn accept_loop(
    listener: tokio::net::TcpListener,
    app: Arc<App>,
    mut shutdown: oneshot::Receiver<()>,
    idle: Duration,
) {
    let reaper = tokio::spawn(reap_loop(Arc::clone(&app), idle));
    loop {
        let (stream, peer) = tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(conn) => conn,
                Err(e) => {
                    eprintln!("scfrt start-api: accept failed: {e}");
                    // EMFILE and the like: give the system a moment rather than spin.
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        let app = Arc::clone(&app);
        tokio::spawn(async move {
            let io = hyper_util::rt::TokioIo::new(stream);
            let read_timeout = app.read_timeout;
            let service = hyper::service::service_fn(move |req| {
                let app = Arc::clone(&app);
                async move { Ok::<_, Infallible>(handle(app, req, peer).await) }
            });
            let mut builder = hyper::server::conn::http1::Builder::new();
            builder
                .timer(hyper_util::rt::TokioTimer::new())
                .header_read_timeout(read_timeout)
                .max_buf_size(CONN_BUF_BYTES);
            let _ = builder.serve_connection(io, service).await;
        });
    }
    reaper.abort();
}

/// Stops idle instances; a timer, not a synchronisation: idle expiry has no event to wait on.
async fn reap_loop(app: Arc<App>, idle: Duration) {
    let tick = (idle / 2).clamp(Duration::from_millis(100), Duration::from_secs(5));
    let mut interval = tokio::time::interval(tick);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        interval.tick().await;
        let pools = app.pools.clone();
        let _ = tokio::task::spawn_blocking(move || {
            let now = Instant::now();
            for pool in pools {
                pool.reap_idle(now);
            }
        })
        .await;
    }
}

fn to_response(answer: Answer) -> Response<Full<Bytes>> {
    let mut resp = Response::new(Full::new(Bytes::from(answer.body)));
    *resp.status_mut() = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::BAD_GATEWAY);
    for (name, value) in answer.headers {
        // Checked when the answer was built; a header that still does not parse is dropped.
        if let (Ok(n), Ok(v)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(&value),
        ) {
            resp.headers_mut().append(n, v);
        }
    }
    resp
}

async fn handle(app: Arc<App>, req: Request<Incoming>, peer: SocketAddr) -> Response<Full<Bytes>> {
    let started = Instant::now();
    let request_id = uuid::Uuid::new_v4().to_string();
    let method = req.method().as_str().to_owned();
    let path = req.uri().path().to_owned();
    let (route, path_parameters) = match app.table.find(&method, &path) {
        Match::Route(r, p) => (r.clone(), p),
        Match::NotFound => {
            eprintln!("scfrt start-api: {method} {path} -> 404 (no API matches the path)");
            return to_response(Answer::error(
                404,
                &request_id,
                &format!("There is no api match path[{path}] , method[{method}]"),
            ));
        }
        Match::MethodNotAllowed(allowed) => {
            eprintln!("scfrt start-api: {method} {path} -> 405 (allowed: {allowed:?})");
            let mut resp = to_response(Answer::error(
                405,
                &request_id,
                &format!(
                    "method[{method}] is not allowed for path[{path}]; the APIs of this path allow {}",
                    allowed.join(", ")
                ),
            ));
            if let Ok(v) = HeaderValue::from_str(&allowed.join(", ")) {
                resp.headers_mut().insert(ALLOW, v);
            }
            return resp;
        }
    };
    let query: Vec<(String, String)> = req
        .uri()
        .query()
        .map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
        .unwrap_or_default();
    let target = req
        .uri()
        .path_and_query()
        .map_or_else(|| path.clone(), |pq| pq.as_str().to_owned());
    let raw_headers: Vec<(String, Vec<u8>)> = req
        .headers()
        .iter()
        .map(|(n, v)| (n.as_str().to_owned(), v.as_bytes().to_vec()))
        .collect();
    let headers: Vec<(String, String)> = req
        .headers()
        .iter()
        .map(|(n, v)| {
            (
                n.as_str().to_owned(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    let too_large = || {
        Answer::error(
            413,
            &request_id,
            &format!(
                "the request body is over {} bytes, API Gateway's limit for an SCF backend",
                app.max_body_bytes
            ),
        )
    };
    let declared = req
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > app.max_body_bytes as u64) {
        eprintln!("scfrt start-api: {method} {path} -> 413 (Content-Length {declared:?})");
        let mut resp = to_response(too_large());
        resp.headers_mut()
            .insert(hyper::header::CONNECTION, HeaderValue::from_static("close"));
        return resp;
    }
    let limited = Limited::new(req.into_body(), app.max_body_bytes);
    let body = match tokio::time::timeout(app.read_timeout, limited.collect()).await {
        Ok(Ok(collected)) => collected.to_bytes().to_vec(),
        Ok(Err(e)) if e.is::<http_body_util::LengthLimitError>() => {
            let mut resp = to_response(too_large());
            resp.headers_mut()
                .insert(hyper::header::CONNECTION, HeaderValue::from_static("close"));
            return resp;
        }
        Ok(Err(e)) => {
            return to_response(Answer::error(
                400,
                &request_id,
                &format!("cannot read the request body: {e}"),
            ));
        }
        Err(_) => {
            return to_response(Answer::error(
                408,
                &request_id,
                "the request body did not arrive within the read timeout",
            ));
        }
    };
    let Some(function) = app.functions.get(route.function) else {
        return to_response(Answer::error(502, &request_id, "the route has no function"));
    };
    if function.config.deployment == Deployment::Web {
        let name = function.name.clone();
        let request = ForwardRequest {
            method: method.clone(),
            target,
            headers: raw_headers,
            body,
        };
        return forward(&app, route.function, &name, request, request_id, started).await;
    }
    let apigw = ApigwRequest {
        method: method.clone(),
        path: path.clone(),
        query,
        headers,
        body,
        route: route.path.clone(),
        path_parameters,
        stage: route.stage.clone(),
        source_ip: peer.ip().to_string(),
        request_id: request_id.clone(),
        service_id: route.service_id.clone(),
    };
    let mut event = scf_triggers::apigw::event(&apigw);
    // `requestContext.httpMethod` is the method the API is bound to (`ANY` included), `httpMethod`
    // the request's (docs/triggers.md, "API Gateway").
    if let Some(ctx) = event
        .get_mut("requestContext")
        .and_then(serde_json::Value::as_object_mut)
    {
        ctx.insert(
            "httpMethod".into(),
            serde_json::Value::String(route.method.clone()),
        );
    }
    let event = event.to_string().into_bytes();
    drop(apigw);
    let Some(pool) = app.pools.get(route.function).cloned() else {
        return to_response(Answer::error(502, &request_id, "the route has no function"));
    };
    let id = request_id.clone();
    let result = tokio::task::spawn_blocking(move || pool.invoke(&event, id)).await;
    let answer = match result {
        Ok(Ok(result)) => response::answer(&result, route.integrated_response, &request_id),
        Ok(Err(e)) => Answer::error(502, &request_id, &e.to_string()),
        Err(e) => Answer::error(502, &request_id, &format!("the invocation failed: {e}")),
    };
    let name = app
        .functions
        .get(route.function)
        .map_or("?", |f| f.name.as_str());
    eprintln!(
        "scfrt start-api: {method} {path} -> {name} {} ({:.1} ms, RequestId {request_id})",
        answer.status,
        started.elapsed().as_secs_f64() * 1000.0
    );
    to_response(answer)
}

/// Passes `request` to the web function `index` (`name`) and returns its answer as it is; a
/// failure (no answer, init timeout, crash) is a gateway error: 504 for a timeout, else 502
/// (docs/triggers.md, "Web functions").
async fn forward(
    app: &App,
    index: usize,
    name: &str,
    request: ForwardRequest,
    request_id: String,
    started: Instant,
) -> Response<Full<Bytes>> {
    let Some(pool) = app.pools.get(index).cloned() else {
        return to_response(Answer::error(502, &request_id, "the route has no function"));
    };
    let shown = format!("{} {}", request.method, request.target);
    let id = request_id.clone();
    let result = tokio::task::spawn_blocking(move || pool.forward(&request, id)).await;
    let (resp, failure) = match result {
        Ok(Ok(web)) => match web.response {
            Some(answer) => {
                let mut resp = Response::new(Full::new(Bytes::from(answer.body)));
                *resp.status_mut() =
                    StatusCode::from_u16(answer.status).unwrap_or(StatusCode::BAD_GATEWAY);
                for (name, value) in answer.headers {
                    // hyper parsed them; one that does not convert back is dropped.
                    if let (Ok(n), Ok(v)) = (
                        HeaderName::from_bytes(name.as_bytes()),
                        HeaderValue::from_bytes(&value),
                    ) {
                        resp.headers_mut().append(n, v);
                    }
                }
                (resp, None)
            }
            None => {
                let answer = response::answer(&web.result, false, &request_id);
                let why = failure_message(&web.result.err_msg);
                (to_response(answer), Some(why))
            }
        },
        Ok(Err(e)) => (
            to_response(Answer::error(502, &request_id, &e.to_string())),
            Some(e.to_string()),
        ),
        Err(e) => {
            let why = format!("the request failed: {e}");
            (
                to_response(Answer::error(502, &request_id, &why)),
                Some(why),
            )
        }
    };
    let failure = failure.map(|f| format!(": {f}")).unwrap_or_default();
    eprintln!(
        "scfrt start-api: {shown} -> {name} {} ({:.1} ms, RequestId {request_id}){failure}",
        resp.status().as_u16(),
        started.elapsed().as_secs_f64() * 1000.0
    );
    resp
}

/// The `errorMessage` of a platform error JSON, else the text as it is.
fn failure_message(err_msg: &str) -> String {
    serde_json::from_str::<serde_json::Value>(err_msg)
        .ok()
        .and_then(|v| {
            v.get("errorMessage")
                .and_then(|m| m.as_str())
                .map(str::to_owned)
        })
        .unwrap_or_else(|| err_msg.to_owned())
}
