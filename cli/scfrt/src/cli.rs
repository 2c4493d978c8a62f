//! The `scfrt` command line.

use std::ffi::OsString;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::{ArgMatches, Args, CommandFactory, FromArgMatches, Parser, Subcommand, ValueEnum};

use scf_emulator::{
    Deployment, Function, FunctionConfig, IMAGE_INIT_TIMEOUT, kill_all_process_groups,
    reserved_env_error,
};

/// `--lang`: a [`Lang`](scf_package::pack::Lang) by name; `--help` lists them, as does the error
/// for any other value.
fn lang_parser() -> impl clap::builder::TypedValueParser<Value = scf_package::pack::Lang> {
    use clap::builder::TypedValueParser;
    use scf_package::pack::Lang;
    clap::builder::PossibleValuesParser::new(Lang::ALL.map(Lang::name))
        .try_map(|s: String| s.parse::<Lang>())
}

/// Every invocation succeeded.
pub const EXIT_OK: u8 = 0;
/// At least one invocation failed (non-zero `InvokeResult`).
pub const EXIT_FUNCTION_FAILED: u8 = 1;
/// Bad usage or an unusable package / event; nothing (more) was invoked.
pub const EXIT_USAGE: u8 = 2;

/// `scfrt`: Tencent Cloud SCF on one machine.
#[derive(Debug, Parser)]
#[command(
    name = "scfrt",
    version,
    about = "Tencent Cloud SCF on one machine: run custom-runtime function packages locally",
    long_about = "Tencent Cloud SCF on one machine.\n\n\
        scfrt runs a custom-runtime function package (a directory or zip with an executable \
        `bootstrap` at its root) the way the platform does: it serves the SCF runtime API on \
        127.0.0.1, starts the bootstrap with the platform's environment, enforces the init and \
        invocation timeouts, the memory size and the 6 MB limits, captures stdout/stderr into START/END/Report \
        framed logs, and prints the Invoke API result."
)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Commands,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Commands {
    /// Invoke a function package locally and print the Invoke API result JSON.
    #[command(
        long_about = "Invoke a function package locally.\n\n\
        Starts <PACKAGE>'s bootstrap (cold start) with the environment SCF documents (mapped to \
        the package's directory; see docs/environment.md), delivers each event through \
        GET /runtime/invocation/next, and prints one Invoke API result per invocation on stdout:\n  \
        {\"Response\":{\"Result\":{\"MemUsage\":..,\"Log\":..,\"RetMsg\":..,\"BillDuration\":..,\
        \"FunctionRequestId\":..,\"Duration\":..,\"ErrMsg\":..,\"InvokeResult\":0},\"RequestId\":..}}\n\
        The framed function log streams to stderr as it happens. Later invocations reuse the warm \
        instance unless the previous one timed out, crashed or returned an oversized response.\n\n\
        --image runs the package as an image-deployed function instead: the bootstrap is started \
        with SCFRUNTIME_MODE=image and SCFRUNTIME_LISTEN=127.0.0.1:<free port> (no \
        SCF_RUNTIME_API), init ends when that port accepts connections (30 s unless \
        --init-timeout) or, for a server that listens on SCF's 0.0.0.0:9000 itself, when port \
        9000 does (watched when nothing else listened there as the instance started; scfrt \
        checks that the listener is the function's), and each event is sent as POST /event-invoke with the X-Scf-* headers \
        (request id, memory, timeout, function name, version, namespace, region, appid, uin, \
        placeholder role credentials, --trigger-src). A 2xx answer is the result, 413 is reported \
        as the platform's 406 (events are passed on whatever their size, so the server's 6 MB \
        refusal is what shows), any other status as a function error (430) with the answer's \
        body as ErrMsg. The result JSON has the same shape as without --image.\n\n\
        A web function (a package with `scf_bootstrap` and no `bootstrap`, or Type HTTP in \
        --template) takes HTTP requests, not events: invoke refuses it (exit 2) and names the \
        `scfrt start-api` command that serves it.\n\n\
        Exit status: 0 when every invocation succeeded, 1 when one failed, 2 for usage, package \
        or event errors.",
        after_help = "Examples:\n  \
        scfrt invoke examples/bash-echo --event '{\"key1\": \"test value 1\"}'\n  \
        scfrt invoke demo.zip --event-file event.json --timeout 10 --env STAGE=dev\n  \
        scfrt invoke ./fn --event '{}' --repeat 3 --log-type None\n  \
        scfrt invoke --image ./fn --event '{}' --init-timeout 5"
    )]
    Invoke(InvokeArgs),
    /// Serve the SCF Invoke API (TencentCloud API 3.0) for the TencentCloud SDK.
    #[command(
        long_about = "Serve the SCF Invoke API (TencentCloud API 3.0, service scf, version 2018-04-16) \
        on one machine: CreateFunction, UpdateFunctionCode, UpdateFunctionConfiguration, GetFunction, \
        ListFunctions, DeleteFunction, Invoke (RequestResponse and Event), InvokeFunction and \
        GetFunctionLogs, with \
        TC3-HMAC-SHA256 signature checks. Functions are kept in the state directory and survive a \
        restart; each function runs a pool of warm instances.\n\n\
        The first line on stdout is `listening on http://HOST:PORT` (https with --tls). Event invocations and every \
        finished invocation are logged to stderr and, as JSON lines, to STATE_DIR/invocations.log \
        (renamed to invocations.log.1 when it would pass 8 MiB; GetFunctionLogs and `scfrt logs` \
        read both).\n\n\
        Point the TencentCloud SDK at it by changing only the endpoint:\n  \
        from tencentcloud.common.profile.http_profile import HttpProfile\n  \
        httpProfile = HttpProfile(protocol=\"http\", endpoint=\"127.0.0.1:9000\")\n  \
        clientProfile = ClientProfile(); clientProfile.httpProfile = httpProfile\n  \
        client = scf_client.ScfClient(credential.Credential(ID, KEY), \"ap-guangzhou\", clientProfile)\n\
        and sign with the credentials given here (or in TENCENTCLOUD_SECRET_ID / TENCENTCLOUD_SECRET_KEY).",
        after_help = "Examples:\n  \
        TENCENTCLOUD_SECRET_ID=AKIDlocal TENCENTCLOUD_SECRET_KEY=localkey scfrt serve\n  \
        scfrt serve --port 0 --state-dir /tmp/scf --secret-id AKIDlocal --secret-key localkey --max-instances 8"
    )]
    Serve(ServeArgs),
    /// Serve functions behind a local API Gateway: HTTP requests become apigw events (web
    /// functions get them as they are).
    #[command(
        name = "start-api",
        long_about = "Serve event functions behind a local API Gateway.\n\n\
        With --template FILE, or a project file in DIR (serverless.yml, serverless.yaml, \
        template.yaml, template.yml), the routes are the endpoints of the functions' API Gateway \
        triggers (path with {param} segments, method or ANY, stage, integrated response); \
        --function NAME serves only that function. Without a project file, DIR is a function \
        package (a directory with `bootstrap`) and every method and path goes to it, with \
        integrated response on and stage release.\n\n\
        A web function (Type: HTTP / type: web, or a DIR with `scf_bootstrap` and no \
        `bootstrap`) gets every path and method: each request is passed to its HTTP server \
        (port 9000, or the free port in $PORT) as it came, with the X-Scf-* headers added, and \
        its answer is returned as it is; one instance at a time, requests wait in line; 502 \
        when it does not answer (not listening within its init timeout, crashed), 504 after its \
        timeout (docs/triggers.md, \"Web functions\").\n\n\
        Each request becomes API Gateway's event (see `scfrt event apigw`) and runs on the \
        route's function through a pool of warm instances (concurrent requests start more, up \
        to --max-instances, then wait in line); the function log streams to stderr with its \
        START/END/Report lines, and the result is mapped back as API Gateway maps it \
        (docs/triggers.md, \"A local API Gateway\"): an integrated response's statusCode, \
        headers and body; a plain result as a 200 JSON body; 403 for a malformed integrated \
        response, 502 for a failed function, 504 for a timeout, 404 and 405 for requests no API \
        takes.\n\n\
        The first line on stdout is `listening on http://HOST:PORT`; the routes follow on \
        stderr. Ctrl-C or SIGTERM stops it and its instances.\n\n\
        Exit status: 2 for a project file that does not load, two web functions, two APIs with \
        the same method and path, a DIR with neither bootstrap, scf_bootstrap nor project file, \
        or an address that cannot be bound.",
        after_help = "Examples:\n  \
        scfrt start-api ./my-fn --port 3000\n  \
        scfrt start-api --template serverless.yml --max-instances 8\n  \
        curl -s 'http://127.0.0.1:3000/users/42?q=1'"
    )]
    StartApi(StartApiArgs),
    /// Build the code zip SCF accepts from a function directory.
    #[command(
        long_about = "Build the code zip SCF accepts from a function directory.\n\n\
        Puts the executable `bootstrap` at the zip root with mode 0755 (the `chmod 755` + `zip` steps \
        of Tencent's custom-runtime guide) and keeps every other file's mode. Refuses a directory \
        without an executable `bootstrap`, a script bootstrap without an interpreter line or with \
        CRLF line endings in it, symlinks leading outside the directory, and zips over SCF's 50 MB \
        limit, and ELF files that are not x86-64 or need a glibc newer than 2.17 (SCF runs CentOS \
        7.6), each named with the fix (--allow-newer-glibc packs them with a warning instead). The \
        zip is written to a temporary file and renamed into place.\n\n\
        --lang supplies a ready-made bootstrap when the directory has none: c -> scf-c-bootstrap \
        (dlopens ./<file>.so, built first by --build or the directory's Makefile), bash -> \
        scf-shell-bootstrap (sources ./<file>.sh), python -> a script running `python3 -m \
        scfruntime`, with scfruntime and requirements.txt installed into the zip by pip for \
        manylinux2014 and --python-version (binary wheels only); rust builds the Cargo project's \
        `bootstrap` binary (cargo build --release, or cargo zigbuild for glibc 2.17 with \
        --portable) and packs only it. Prebuilt bootstraps (and the scfruntime wheel) are taken \
        from --bootstrap-bin, then $SCFRT_BOOTSTRAP_DIR, then <scfrt's dir>/../share/scfrt/bootstrap \
        (the scfrt wheel's), <scfrt's dir>/../portable/bin (scripts/portable-build.sh), then \
        scfrt's own directory.",
        after_help = "Examples:\n  \
        scfrt package examples/bash-echo -o fn.zip\n  \
        scfrt package ./my-fn -o fn.zip --lang bash\n  \
        scfrt package ./my-py-fn -o fn.zip --lang python --python-version 3.10\n  \
        scfrt package ./my-rust-fn -o fn.zip --lang rust --portable"
    )]
    Package(PackageArgs),
    /// Write a starter function (c, python, bash or rust) into a new directory.
    #[command(
        long_about = "Write a starter function into DIR (created if missing; refused if not empty). \
        Each answers to the handler index.main_handler; its README says how to build, package \
        (`scfrt package DIR -o fn.zip --lang LANG`), run (`scfrt invoke fn.zip`) and deploy it.",
        after_help = "Examples:\n  scfrt init --lang bash my-fn\n  scfrt init --lang rust my-rust-fn"
    )]
    Init(InitArgs),
    /// Package a function and create or update it on SCF (or on `scfrt serve`).
    #[command(
        long_about = "Package a function and create or update it on SCF.\n\n\
        <PACKAGE> is a function directory (packed exactly as `scfrt package` packs it, --lang \
        supplying a ready-made bootstrap) or a code zip (checked as `scfrt invoke` checks one). A zip \
        over SCF's 50 MB direct-upload limit is refused before anything is sent. GetFunction decides: \
        a missing function (ResourceNotFound.Function) is created with CreateFunction (Runtime \
        CustomRuntime); an existing one gets UpdateFunctionCode, then UpdateFunctionConfiguration \
        with the options given (options not given are left as they are). Then GetFunction is polled \
        until the function is Active, with progress on stderr. --publish then publishes $LATEST \
        as a new version (PublishVersion) and prints its number on stdout; --alias NAME points \
        that alias at it (CreateAlias, or UpdateAlias when it exists).\n\n\
        Credentials: --secret-id/--secret-key, else TENCENTCLOUD_SECRET_ID and \
        TENCENTCLOUD_SECRET_KEY (+ TENCENTCLOUD_SESSION_TOKEN). They are never printed or stored.\n\n\
        Exit status: 0 when the function is Active, 1 for API and network errors (Tencent's code \
        and message are shown), 2 for usage and package errors (nothing was sent).",
        after_help = "Examples:\n  \
        scfrt deploy ./my-fn --lang python --name my-fn --region ap-guangzhou\n  \
        scfrt deploy fn.zip --name my-fn --timeout 10 --memory 256 --env STAGE=prod\n  \
        scfrt deploy ./my-fn --lang c --name my-fn --endpoint 127.0.0.1:9000   # a local scfrt serve\n  \
        scfrt deploy ./my-fn --name my-fn --publish --alias live   # prints the new version"
    )]
    Deploy(DeployArgs),
    /// Invoke a deployed function (the Invoke API) and print the result JSON.
    #[command(
        name = "remote-invoke",
        long_about = "Invoke a function deployed on SCF (or on `scfrt serve`) synchronously and \
        print the Invoke API result on stdout, as one line in the shape and key order `scfrt invoke` \
        prints. --log asks for LogType=Tail (the last 4 KB of the log, also shown on stderr).\n\n\
        Exit status: 0 when InvokeResult is 0, 1 when the function failed or the API refused the \
        call, 2 for usage errors.",
        after_help = "Examples:\n  \
        scfrt remote-invoke --name my-fn --event '{\"key1\": \"test value 1\"}' --log\n  \
        scfrt remote-invoke --name my-fn --event @event.json --endpoint 127.0.0.1:9000"
    )]
    RemoteInvoke(RemoteInvokeArgs),
    /// Show a deployed function's recent invocations and their logs (GetFunctionLogs).
    #[command(
        long_about = "Show the recent invocations of a function deployed on SCF (or on `scfrt \
        serve`), newest first, through the GetFunctionLogs API: for each, a line with its start \
        time (UTC+8, as the API gives it), request id, RetCode (0 on success, else the status \
        code), duration and memory, the error message of a failure, then its log. --json prints \
        the API's answer (the Response object) as one line instead.\n\n\
        Exit status: 0 when the API answered (whatever the invocations' RetCode), 1 for API and \
        network errors, 2 for usage errors.",
        after_help = "Examples:\n  \
        scfrt logs --name my-fn --limit 5\n  \
        scfrt logs --name my-fn --failed --json\n  \
        scfrt logs --name my-fn --request-id 3f2a6c1e-... --endpoint 127.0.0.1:9000"
    )]
    Logs(LogsArgs),
    /// Print the event a trigger sends a function (apigw, timer, cos, cmq, ckafka, cls).
    #[command(
        long_about = "Print, as pretty JSON on stdout, the event a trigger sends an event function, \
        in the platform's documented format (docs/triggers.md has each shape and its sources). \
        Feed it to `scfrt invoke --event @FILE` or `scfrt remote-invoke --event @FILE`.\n\n\
        Exit status: 0 when the event was printed, 2 for bad input (an unknown trigger, a \
        malformed option).",
        after_help = "Examples:\n  \
        scfrt event apigw --method POST --path /users/42 --route '/users/{id}' --query q=1 \\\n      \
        --header 'Content-Type: application/json' --body '{\"a\":1}' > event.json\n  \
        scfrt event cos --bucket photos-1250000000 --key cat.jpg --size 2048\n  \
        scfrt event timer --name nightly --message backup\n  \
        scfrt event ckafka --topic orders --message a --message b --count 4\n  \
        scfrt event cls --topic app-log --message 'line one'",
        subcommand_value_name = "TRIGGER",
        subcommand_help_heading = "Triggers",
        arg_required_else_help = true
    )]
    Event {
        /// The trigger whose event to print.
        #[command(subcommand)]
        trigger: EventTrigger,
    },
}

/// The triggers `scfrt event` knows (`scf_triggers::TRIGGERS`), each with its options.
#[derive(Debug, Subcommand)]
pub enum EventTrigger {
    /// API Gateway's integration request for one HTTP request.
    Apigw(ApigwEventArgs),
    /// A timer trigger firing.
    Timer(TimerEventArgs),
    /// A COS object created or removed.
    Cos(CosEventArgs),
    /// Messages from a CMQ topic subscription.
    Cmq(CmqEventArgs),
    /// Messages consumed from a CKafka topic.
    Ckafka(CkafkaEventArgs),
    /// Log records from a CLS log topic (base64 of gzip of JSON, as the platform sends them).
    Cls(ClsEventArgs),
}

/// Options of `scfrt event apigw`.
#[derive(Debug, Args)]
pub struct ApigwEventArgs {
    /// The request method.
    #[arg(long, value_name = "METHOD", default_value = "GET", value_parser = parse_method)]
    pub method: String,
    /// The request path, without the query (give that with --query).
    #[arg(long, value_name = "PATH", default_value = "/", value_parser = parse_url_path)]
    pub path: String,
    /// The API's path template, e.g. `/users/{id}` (requestContext.path); its `{name}`
    /// segments give pathParameters. Default: --path.
    #[arg(long, value_name = "TEMPLATE", value_parser = parse_url_path)]
    pub route: Option<String>,
    /// A query parameter (repeatable; a repeated key keeps every value, in order).
    #[arg(long = "query", value_name = "KEY=VALUE", value_parser = parse_query)]
    pub query: Vec<(String, String)>,
    /// A request header (repeatable).
    #[arg(long = "header", value_name = "NAME: VALUE", value_parser = parse_header)]
    pub headers: Vec<(String, String)>,
    /// The request body.
    #[arg(long, value_name = "TEXT", conflicts_with = "body_file")]
    pub body: Option<String>,
    /// Read the request body from FILE (not UTF-8: sent base64 with isBase64Encoded true).
    #[arg(long = "body-file", value_name = "FILE")]
    pub body_file: Option<PathBuf>,
    /// The environment the API is published in.
    #[arg(long, value_name = "STAGE", default_value = "release",
        value_parser = clap::builder::PossibleValuesParser::new(["release", "prepub", "test"]))]
    pub stage: String,
}

/// Options of `scfrt event timer`.
#[derive(Debug, Args)]
pub struct TimerEventArgs {
    /// The trigger's name (TriggerName).
    #[arg(long, value_name = "NAME", default_value = "scfrt-timer")]
    pub name: String,
    /// The trigger's message (Message).
    #[arg(long, value_name = "TEXT", default_value = "")]
    pub message: String,
    /// When it fired, YYYY-MM-DDTHH:MM:SSZ in UTC (Time). Default: now.
    #[arg(long, value_name = "TIME", value_parser = parse_utc_time)]
    pub time: Option<String>,
}

/// Options of `scfrt event cos`.
#[derive(Debug, Args)]
pub struct CosEventArgs {
    /// The bucket, NAME-APPID.
    #[arg(long, value_name = "NAME-APPID", default_value = "examplebucket-1250000000", value_parser = parse_bucket)]
    pub bucket: String,
    /// The object's key.
    #[arg(long, value_name = "KEY", default_value = "example.txt")]
    pub key: String,
    /// The object's size in bytes.
    #[arg(long, value_name = "BYTES", default_value_t = 1024)]
    pub size: u64,
    /// The COS event (cos:ObjectCreated:Put, cos:ObjectCreated:Post, cos:ObjectRemove:Delete, ...).
    #[arg(long = "event-name", value_name = "EVENT", default_value = "cos:ObjectCreated:Put", value_parser = parse_cos_event)]
    pub event_name: String,
    /// The bucket's region.
    #[arg(long, value_name = "REGION", default_value = "ap-guangzhou")]
    pub region: String,
}

/// `--message` and `--count`, shared by the message-queue triggers.
#[derive(Debug, Args)]
pub struct MessagesArgs {
    /// A message's body (repeatable: one record each, in order).
    #[arg(long = "message", value_name = "TEXT")]
    pub messages: Vec<String>,
    /// Send N records, repeating the messages in order. Default: one per message.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub count: Option<u32>,
}

/// Options of `scfrt event cmq`.
#[derive(Debug, Args)]
pub struct CmqEventArgs {
    /// The topic's name.
    #[arg(long, value_name = "NAME", default_value = "scfrt-topic")]
    pub topic: String,
    /// The subscription's name.
    #[arg(long, value_name = "NAME", default_value = "scfrt-sub")]
    pub subscription: String,
    /// A message tag (repeatable).
    #[arg(long = "tag", value_name = "TAG")]
    pub tags: Vec<String>,
    /// Messages and count.
    #[command(flatten)]
    pub messages: MessagesArgs,
}

/// Options of `scfrt event ckafka`.
#[derive(Debug, Args)]
pub struct CkafkaEventArgs {
    /// The topic.
    #[arg(long, value_name = "NAME", default_value = "scfrt-topic")]
    pub topic: String,
    /// The messages' key (msgKey).
    #[arg(long, value_name = "KEY", default_value = "")]
    pub key: String,
    /// The partition.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub partition: u32,
    /// The first message's offset; the next ones follow.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub offset: u64,
    /// Messages and count.
    #[command(flatten)]
    pub messages: MessagesArgs,
}

/// Options of `scfrt event cls`.
#[derive(Debug, Args)]
pub struct ClsEventArgs {
    /// The log topic's name (topic_name).
    #[arg(long, value_name = "NAME", default_value = "scfrt-topic")]
    pub topic: String,
    /// The log topic's id (topic_id). Default: a fresh UUID.
    #[arg(long = "topic-id", value_name = "ID")]
    pub topic_id: Option<String>,
    /// A log line (repeatable: one record each, in order).
    #[arg(long = "message", value_name = "TEXT")]
    pub messages: Vec<String>,
}

fn parse_method(s: &str) -> Result<String, String> {
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphabetic()) {
        Ok(s.to_ascii_uppercase())
    } else {
        Err(format!(
            "`{s}` is not an HTTP method (GET, POST, PUT, DELETE, HEAD, ...)"
        ))
    }
}

fn parse_url_path(s: &str) -> Result<String, String> {
    if !s.starts_with('/') {
        Err(format!("`{s}` does not start with `/`"))
    } else if s.contains('?') {
        Err(format!(
            "`{s}` has a query: give the path alone and each parameter with --query KEY=VALUE"
        ))
    } else {
        Ok(s.to_owned())
    }
}

fn parse_query(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_owned(), v.to_owned())),
        _ => Err(format!(
            "`{s}` is not KEY=VALUE (the value may be empty: KEY=)"
        )),
    }
}

fn parse_header(s: &str) -> Result<(String, String), String> {
    let (name, value) = s
        .split_once(':')
        .ok_or_else(|| format!("`{s}` is not `NAME: VALUE`"))?;
    let name = name.trim();
    let token = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b);
    if name.is_empty() || !name.bytes().all(token) {
        return Err(format!("`{name}` (in `{s}`) is not a header name"));
    }
    Ok((name.to_owned(), value.trim().to_owned()))
}

fn parse_utc_time(s: &str) -> Result<String, String> {
    if scf_triggers::is_utc_iso8601(s) {
        Ok(s.to_owned())
    } else {
        Err(format!(
            "`{s}` is not YYYY-MM-DDTHH:MM:SSZ (UTC), e.g. 2019-02-21T11:49:00Z"
        ))
    }
}

fn parse_bucket(s: &str) -> Result<String, String> {
    match scf_triggers::cos::split_bucket(s) {
        Some(_) => Ok(s.to_owned()),
        None => Err(format!(
            "`{s}` is not NAME-APPID, e.g. examplebucket-1250000000"
        )),
    }
}

fn parse_cos_event(s: &str) -> Result<String, String> {
    if s.starts_with("cos:") && s.len() > 4 {
        Ok(s.to_owned())
    } else {
        Err(format!(
            "`{s}` is not a COS event (cos:ObjectCreated:Put, cos:ObjectRemove:Delete, ...)"
        ))
    }
}

/// `scfrt event <trigger>`: the event, pretty, on stdout.
fn event(trigger: &EventTrigger) -> u8 {
    let built: Result<serde_json::Value, String> = match trigger {
        EventTrigger::Apigw(a) => apigw_event(a),
        EventTrigger::Timer(a) => Ok(scf_triggers::timer::event(
            &scf_triggers::timer::TimerOptions {
                name: a.name.clone(),
                message: a.message.clone(),
                time: a.time.clone(),
            },
        )),
        EventTrigger::Cos(a) => scf_triggers::cos::event(&scf_triggers::cos::CosOptions {
            bucket: a.bucket.clone(),
            key: a.key.clone(),
            size: a.size,
            event_name: a.event_name.clone(),
            region: a.region.clone(),
        })
        .map_err(|e| e.to_string()),
        EventTrigger::Cmq(a) => Ok(scf_triggers::cmq::event(&scf_triggers::cmq::CmqOptions {
            topic: a.topic.clone(),
            subscription: a.subscription.clone(),
            messages: a.messages.messages.clone(),
            count: a.messages.count.map(|n| n as usize),
            tags: a.tags.clone(),
            ..Default::default()
        })),
        EventTrigger::Ckafka(a) => Ok(scf_triggers::ckafka::event(
            &scf_triggers::ckafka::CkafkaOptions {
                topic: a.topic.clone(),
                messages: a.messages.messages.clone(),
                count: a.messages.count.map(|n| n as usize),
                key: a.key.clone(),
                partition: a.partition,
                offset: a.offset,
            },
        )),
        EventTrigger::Cls(a) => Ok(scf_triggers::cls::event(&scf_triggers::cls::ClsOptions {
            topic: a.topic.clone(),
            topic_id: a.topic_id.clone(),
            messages: a.messages.clone(),
        })),
    };
    match built {
        Ok(value) => {
            let text = serde_json::to_string_pretty(&value).unwrap_or_default();
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "{text}");
            let _ = out.flush();
            EXIT_OK
        }
        Err(msg) => {
            eprintln!("scfrt event: error: {msg}");
            EXIT_USAGE
        }
    }
}

fn apigw_event(a: &ApigwEventArgs) -> Result<serde_json::Value, String> {
    let body = match (&a.body, &a.body_file) {
        (Some(text), _) => text.as_bytes().to_vec(),
        (None, Some(file)) => std::fs::read(file)
            .map_err(|e| format!("cannot read --body-file {}: {e}", file.display()))?,
        (None, None) => Vec::new(),
    };
    let route = a.route.clone().unwrap_or_else(|| a.path.clone());
    let path_parameters = scf_triggers::apigw::path_parameters(&route, &a.path)
        .ok_or_else(|| format!("--path {} does not match --route {route}", a.path))?;
    let req = scf_triggers::apigw::ApigwRequest {
        method: a.method.clone(),
        path: a.path.clone(),
        query: a.query.clone(),
        headers: a.headers.clone(),
        body,
        route,
        path_parameters,
        stage: a.stage.clone(),
        ..Default::default()
    };
    Ok(scf_triggers::apigw::event(&req))
}

/// Where and as whom `scfrt deploy` / `scfrt remote-invoke` / `scfrt logs` call the API.
#[derive(Debug, Args)]
pub struct CloudArgs {
    /// The region (X-TC-Region).
    #[arg(long, value_name = "REGION", default_value = "ap-guangzhou")]
    pub region: String,
    /// The function's namespace.
    #[arg(long, value_name = "NS", default_value = "default")]
    pub namespace: String,
    /// The API endpoint: `HOST[:PORT]` over https, or a loopback host over plain http
    /// (`127.0.0.1:9000`: a local `scfrt serve`).
    #[arg(long, value_name = "HOST", default_value = scf_cloud::client::DEFAULT_HOST)]
    pub endpoint: String,
    /// The SecretId. Default: $TENCENTCLOUD_SECRET_ID.
    #[arg(long = "secret-id", value_name = "ID", requires = "secret_key")]
    pub secret_id: Option<String>,
    /// The SecretKey (visible to other local users in the process list: prefer
    /// $TENCENTCLOUD_SECRET_KEY).
    #[arg(long = "secret-key", value_name = "KEY", requires = "secret_id")]
    pub secret_key: Option<scf_cloud::client::Secret>,
    /// Trust only the CA certificates in this PEM file for an https endpoint (e.g. the
    /// STATE_DIR/tls/ca.pem of `scfrt serve --tls`).
    #[arg(long = "ca-file", value_name = "PEM")]
    pub ca_file: Option<PathBuf>,
}

/// Arguments of `scfrt deploy`.
#[derive(Debug, Args)]
pub struct DeployArgs {
    /// The function directory or code zip.
    #[arg(
        value_name = "PACKAGE",
        required_unless_present = "template",
        conflicts_with = "template"
    )]
    pub package: Option<PathBuf>,
    /// The function name.
    #[arg(
        long,
        value_name = "NAME",
        required_unless_present = "template",
        conflicts_with = "template"
    )]
    pub name: Option<String>,
    /// Deploy the functions of a project file (a serverless.yml or a TCSAM template.yaml), each
    /// with its settings, then create the triggers each lacks (CreateTrigger).
    #[arg(long, value_name = "FILE", conflicts_with_all = ["publish", "alias", "lang"])]
    pub template: Option<PathBuf>,
    /// With --template: only this function.
    #[arg(long, value_name = "NAME", requires = "template")]
    pub function: Option<String>,
    /// Invocation timeout in seconds (Timeout, 1-900).
    #[arg(long, value_name = "SECONDS", value_parser = clap::value_parser!(u32).range(1..=900))]
    pub timeout: Option<u32>,
    /// Init timeout in seconds (InitTimeout, 1-300).
    #[arg(long = "init-timeout", value_name = "SECONDS", value_parser = clap::value_parser!(u32).range(1..=300))]
    pub init_timeout: Option<u32>,
    /// Memory size in MB (MemorySize: a multiple of 64, 64-3072).
    #[arg(long, value_name = "MB", value_parser = parse_memory)]
    pub memory: Option<u32>,
    /// An environment variable (repeatable); given at all, the list replaces the function's.
    #[arg(long = "env", value_name = "KEY=VALUE", value_parser = parse_env)]
    pub env: Vec<(String, String)>,
    /// The handler (Handler). Default on create: index.main_handler.
    #[arg(long, value_name = "HANDLER")]
    pub handler: Option<String>,
    /// Supply the ready-made bootstrap for this language when the directory has no `bootstrap`.
    #[arg(long, value_name = "LANG", value_parser = lang_parser())]
    pub lang: Option<scf_package::pack::Lang>,
    /// Look for prebuilt bootstraps in DIR first (as `scfrt package --bootstrap-bin`).
    #[arg(long = "bootstrap-bin", value_name = "DIR")]
    pub bootstrap_bin: Option<PathBuf>,
    /// Pack ELF files SCF cannot run (a glibc newer than its 2.17, not x86-64) with a warning
    /// instead of refusing the package.
    #[arg(long = "allow-newer-glibc", env = "SCFRT_ALLOW_NEWER_GLIBC", value_parser = clap::builder::FalseyValueParser::new())]
    pub allow_newer_glibc: bool,
    /// Python: the CPython version (3.N, from 3.9) the function's packages are installed for
    /// (as `scfrt package --python-version`).
    #[arg(long = "python-version", value_name = "3.N", default_value = scf_package::python::DEFAULT_PYTHON_VERSION, value_parser = parse_python_version)]
    pub python_version: String,
    /// After the update, publish `$LATEST` as a new version (PublishVersion) and print its
    /// number on stdout.
    #[arg(long)]
    pub publish: bool,
    /// The published version's description (PublishVersion's Description).
    #[arg(
        long = "version-description",
        value_name = "TEXT",
        requires = "publish"
    )]
    pub version_description: Option<String>,
    /// Point the alias NAME at the version just published, all traffic to it (CreateAlias, or
    /// UpdateAlias when it exists). Requires --publish.
    #[arg(long, value_name = "NAME", requires = "publish", value_parser = parse_alias)]
    pub alias: Option<String>,
    /// Endpoint, region, namespace, credentials.
    #[command(flatten)]
    pub cloud: CloudArgs,
}

/// An alias name as SCF accepts it (`scf_cloud::deploy::valid_alias_name`).
fn parse_alias(s: &str) -> Result<String, String> {
    if scf_cloud::deploy::valid_alias_name(s) {
        Ok(s.to_owned())
    } else {
        Err(format!(
            "`{s}` is not an alias name: 1-64 letters, digits, `-` or `_`, starting with a letter (or $DEFAULT)"
        ))
    }
}

/// Arguments of `scfrt remote-invoke`.
#[derive(Debug, Args)]
pub struct RemoteInvokeArgs {
    /// The function name.
    #[arg(long, value_name = "NAME")]
    pub name: String,
    /// Event JSON (ClientContext); `@FILE` reads it from FILE. Default: `{}`.
    #[arg(long, value_name = "JSON", default_value = "{}")]
    pub event: String,
    /// Ask for the log tail (LogType=Tail) and show it on stderr.
    #[arg(long)]
    pub log: bool,
    /// What to invoke (Qualifier): $LATEST, a version number or an alias.
    #[arg(long, value_name = "QUALIFIER", default_value = "$LATEST")]
    pub qualifier: String,
    /// Endpoint, region, namespace, credentials.
    #[command(flatten)]
    pub cloud: CloudArgs,
}

/// Arguments of `scfrt logs`.
#[derive(Debug, Args)]
pub struct LogsArgs {
    /// The function name.
    #[arg(long, value_name = "NAME")]
    pub name: String,
    /// How many invocations (Limit, 1-10000; the API's default is 20).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub limit: Option<u32>,
    /// Skip the N newest (Offset; Offset + Limit may not pass 10000).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(0..=10_000))]
    pub offset: Option<u32>,
    /// Only the invocation with this request id (FunctionRequestId).
    #[arg(long = "request-id", value_name = "ID")]
    pub request_id: Option<String>,
    /// Only failed invocations (Filter.RetCode=not0).
    #[arg(long, conflicts_with = "succeeded")]
    pub failed: bool,
    /// Only successful invocations (Filter.RetCode=is0).
    #[arg(long)]
    pub succeeded: bool,
    /// Print the API's answer as JSON instead.
    #[arg(long)]
    pub json: bool,
    /// Endpoint, region, namespace, credentials.
    #[command(flatten)]
    pub cloud: CloudArgs,
}

/// Arguments of `scfrt package`.
#[derive(Debug, Args)]
pub struct PackageArgs {
    /// The function directory.
    #[arg(value_name = "DIR")]
    pub dir: PathBuf,
    /// The zip to write.
    #[arg(short = 'o', long = "output", value_name = "ZIP")]
    pub output: PathBuf,
    /// Supply the ready-made bootstrap for this language when DIR has no `bootstrap`.
    #[arg(long, value_name = "LANG", value_parser = lang_parser())]
    pub lang: Option<scf_package::pack::Lang>,
    /// Look for prebuilt bootstraps (scf-c-bootstrap, scf-python-bootstrap,
    /// scf-shell-bootstrap) in DIR first.
    #[arg(long = "bootstrap-bin", value_name = "DIR")]
    pub bootstrap_bin: Option<PathBuf>,
    /// Rust: build with `cargo zigbuild --target x86_64-unknown-linux-gnu.2.17` (glibc 2.17).
    #[arg(long)]
    pub portable: bool,
    /// C: the command that builds the handler library (run with `sh -c` in DIR). Default: `make`
    /// when DIR has a Makefile.
    #[arg(long, value_name = "COMMAND")]
    pub build: Option<String>,
    /// C: the handler (_HANDLER) whose `file.so` the package must hold. Default:
    /// index.main_handler.
    #[arg(long, value_name = "HANDLER")]
    pub handler: Option<String>,
    /// Pack ELF files SCF cannot run (a glibc newer than its 2.17, not x86-64) with a warning
    /// instead of refusing the package.
    #[arg(long = "allow-newer-glibc", env = "SCFRT_ALLOW_NEWER_GLIBC", value_parser = clap::builder::FalseyValueParser::new())]
    pub allow_newer_glibc: bool,
    /// Python: the CPython version (3.N, from 3.9) the function's packages are installed for;
    /// the bootstrap runs that interpreter.
    #[arg(long = "python-version", value_name = "3.N", default_value = scf_package::python::DEFAULT_PYTHON_VERSION, value_parser = parse_python_version)]
    pub python_version: String,
    /// Python: a directory (or URL) where pip also looks for wheels (repeatable).
    #[arg(long = "find-links", value_name = "DIR")]
    pub find_links: Vec<PathBuf>,
}

/// A `--python-version` as `scf_package::python::parse_version` accepts it.
fn parse_python_version(s: &str) -> Result<String, String> {
    scf_package::python::parse_version(s).map(|_| s.to_owned())
}

/// Arguments of `scfrt init`.
#[derive(Debug, Args)]
pub struct InitArgs {
    /// The language of the starter function.
    #[arg(long, value_name = "LANG", value_parser = lang_parser())]
    pub lang: scf_package::pack::Lang,
    /// Where to write it (a new or empty directory).
    #[arg(value_name = "DIR")]
    pub dir: PathBuf,
    /// Rust: depend on scf-core at this path (default: the source tree scfrt was built from,
    /// else the crates.io version).
    #[arg(long = "scf-core-path", value_name = "PATH")]
    pub scf_core_path: Option<PathBuf>,
}

/// Arguments of `scfrt serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Create (or update) the functions of a project file (a serverless.yml or a TCSAM
    /// template.yaml) and their triggers before the address is printed; timers among them fire.
    #[arg(long, value_name = "FILE")]
    pub template: Option<PathBuf>,
    /// With --template: only this function.
    #[arg(long, value_name = "NAME", requires = "template")]
    pub function: Option<String>,
    /// TCP port (0: any free port; the address is printed).
    #[arg(long, value_name = "PORT", default_value_t = 9000)]
    pub port: u16,
    /// Address to listen on.
    #[arg(long, value_name = "HOST", default_value = "127.0.0.1")]
    pub host: std::net::IpAddr,
    /// Where functions are stored. Default: $XDG_STATE_HOME/scfrt/serve, else
    /// ~/.local/state/scfrt/serve.
    #[arg(long = "state-dir", value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
    /// The SecretId clients sign with. Default: $TENCENTCLOUD_SECRET_ID.
    #[arg(long = "secret-id", value_name = "ID", requires = "secret_key")]
    pub secret_id: Option<String>,
    /// The SecretKey clients sign with. Default: $TENCENTCLOUD_SECRET_KEY.
    #[arg(long = "secret-key", value_name = "KEY", requires = "secret_id")]
    pub secret_key: Option<String>,
    /// Most instances per function running at once; more invocations wait in line.
    #[arg(long = "max-instances", value_name = "N", default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=256))]
    pub max_instances: u32,
    /// Stop an instance idle for this many seconds.
    #[arg(long = "idle-timeout", value_name = "SECONDS", default_value = "300", value_parser = parse_seconds)]
    pub idle_timeout: Duration,
    /// Largest request body in MB (a CreateFunction carries the zip in base64).
    #[arg(long = "max-body-mb", value_name = "MB", default_value_t = 64, value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub max_body_mb: u32,
    /// Seconds a client has to send a request's headers, and again its body.
    #[arg(long = "read-timeout", value_name = "SECONDS", default_value = "30", value_parser = parse_seconds)]
    pub read_timeout: Duration,
    /// Most connections served at once; up to as many more are answered RequestLimitExceeded
    /// and closed, and beyond that they are closed at once.
    #[arg(long = "max-connections", value_name = "N", default_value_t = 256, value_parser = clap::value_parser!(u32).range(1..=65536))]
    pub max_connections: u32,
    /// Most MB of request bodies held in memory at once, across connections; a request whose
    /// body would go over is answered RequestLimitExceeded. At least --max-body-mb.
    #[arg(long = "max-buffered-mb", value_name = "MB", default_value_t = 256, value_parser = clap::value_parser!(u32).range(1..=65536))]
    pub max_buffered_mb: u32,
    /// Serve HTTPS, with a certificate for 127.0.0.1, ::1 and localhost signed by a local CA that
    /// serve makes once in STATE_DIR/tls/ (clients trust STATE_DIR/tls/ca.pem).
    #[arg(long)]
    pub tls: bool,
    /// Serve HTTPS with this PEM certificate chain instead (with --tls-key).
    #[arg(long = "tls-cert", value_name = "PEM", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The PEM private key of --tls-cert.
    #[arg(long = "tls-key", value_name = "PEM", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
}

/// Arguments of `scfrt start-api`.
#[derive(Debug, Args)]
pub struct StartApiArgs {
    /// A directory with a project file, or a function package (a directory with `bootstrap`).
    #[arg(value_name = "DIR", default_value = ".")]
    pub dir: PathBuf,
    /// The project file: a serverless.yml (`component: scf` or `multi-scf`) or a TCSAM
    /// template.yaml. Default: the one in DIR, if any.
    #[arg(long, value_name = "FILE")]
    pub template: Option<PathBuf>,
    /// Serve only this function of the project file.
    #[arg(long, value_name = "NAME")]
    pub function: Option<String>,
    /// TCP port (0: any free port; the address is printed).
    #[arg(long, value_name = "PORT", default_value_t = 3000)]
    pub port: u16,
    /// Address to listen on.
    #[arg(long, value_name = "HOST", default_value = "127.0.0.1")]
    pub host: std::net::IpAddr,
    /// Most instances per function running at once; more requests wait in line.
    #[arg(long = "max-instances", value_name = "N", default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub max_instances: u32,
}

/// `LogType` of the Invoke API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogType {
    /// Return the last 4 KB of the log in `Log`.
    #[value(name = "Tail")]
    Tail,
    /// Return no log (`Log` is empty).
    #[value(name = "None")]
    None,
}

/// Arguments of `scfrt invoke`.
#[derive(Debug, Args)]
pub struct InvokeArgs {
    /// The function package: a directory or a .zip with an executable `bootstrap` at its root.
    #[arg(
        value_name = "PACKAGE",
        required_unless_present = "template",
        conflicts_with = "template"
    )]
    pub package: Option<PathBuf>,
    /// Take the function from a project file: a serverless.yml (`component: scf` or
    /// `multi-scf`) or a TCSAM template.yaml. Its code directory, handler, timeouts, memory
    /// and environment apply; flags given as well override them.
    #[arg(long, value_name = "FILE")]
    pub template: Option<PathBuf>,
    /// With --template: which of its functions (needed when it declares several).
    #[arg(long, value_name = "NAME", requires = "template")]
    pub function: Option<String>,
    /// Event JSON (the Invoke API's ClientContext); `@FILE` reads it from FILE. Repeat for
    /// several invocations, in order. Default: `{}`.
    #[arg(long = "event", value_name = "JSON")]
    pub events: Vec<String>,
    /// Read an event from FILE (may be repeated; ordered together with --event).
    #[arg(long = "event-file", value_name = "FILE")]
    pub event_files: Vec<PathBuf>,
    /// The handler string, passed to the bootstrap as _HANDLER.
    #[arg(long, value_name = "HANDLER", default_value = "index.main_handler")]
    pub handler: String,
    /// Invocation timeout in seconds, from event delivery to the result post.
    #[arg(long, value_name = "SECONDS", default_value = "3", value_parser = parse_seconds)]
    pub timeout: Duration,
    /// Init timeout in seconds, from bootstrap start to /runtime/init/ready (with --image: until
    /// the server's port accepts connections). Default 65, with --image 30.
    #[arg(long = "init-timeout", value_name = "SECONDS", value_parser = parse_seconds)]
    pub init_timeout: Option<Duration>,
    /// Run the package as an image-deployed function: its bootstrap serves POST /event-invoke
    /// on SCFRUNTIME_LISTEN (or on port 9000, as on SCF) instead of polling the runtime API.
    #[arg(long)]
    pub image: bool,
    /// What triggered the invocation, e.g. `timer` (TRIGGER_SRC; X-Scf-Trigger-Src with
    /// --image). Default: none, as for an Invoke API call.
    #[arg(long = "trigger-src", value_name = "SRC")]
    pub trigger_src: Option<String>,
    /// Memory size in MB (sent as memory_limit_in_mb). The bootstrap and its children together
    /// may hold that much resident memory; past it the instance is killed: InvokeResult 434.
    #[arg(long, value_name = "MB", default_value_t = 128, value_parser = clap::value_parser!(u32).range(1..=65536))]
    pub memory: u32,
    /// A user environment variable for the bootstrap (repeatable); it overrides a documented
    /// one such as PATH or PYTHONPATH. Names starting with SCF_, QCLOUD_ or TENCENTCLOUD_ are
    /// reserved by the platform and refused (exit 2).
    #[arg(long = "env", value_name = "KEY=VALUE", value_parser = parse_env)]
    pub env: Vec<(String, String)>,
    /// Tail returns the last 4 KB of the log in the result's `Log`; None returns none.
    #[arg(
        long = "log-type",
        value_name = "TYPE",
        value_enum,
        ignore_case = true,
        default_value = "Tail"
    )]
    pub log_type: LogType,
    /// The function name (SCF_FUNCTIONNAME).
    #[arg(
        long = "function-name",
        value_name = "NAME",
        default_value = "scfrt-local"
    )]
    pub function_name: String,
    /// Send the events N times (the whole list, in order) to the same warm function.
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub repeat: u32,
}

fn parse_seconds(s: &str) -> Result<Duration, String> {
    let secs: f64 = s
        .trim()
        .parse()
        .map_err(|_| format!("`{s}` is not a number of seconds"))?;
    if !(secs > 0.0 && secs <= 86_400.0) {
        return Err(format!(
            "`{s}` must be greater than 0 and at most 86400 seconds"
        ));
    }
    Duration::try_from_secs_f64(secs).map_err(|e| e.to_string())
}

fn parse_memory(s: &str) -> Result<u32, String> {
    let mb: u32 = s
        .trim()
        .parse()
        .map_err(|_| format!("`{s}` is not a number of MB"))?;
    if !(64..=3072).contains(&mb) || !mb.is_multiple_of(64) {
        return Err(format!(
            "`{s}`: MemorySize is a multiple of 64 from 64 to 3072 MB"
        ));
    }
    Ok(mb)
}

fn parse_env(s: &str) -> Result<(String, String), String> {
    let (key, value) = s
        .split_once('=')
        .ok_or_else(|| format!("`{s}` is not KEY=VALUE"))?;
    let valid = key
        .bytes()
        .next()
        .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
        && key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    if !valid {
        return Err(format!(
            "`{key}` is not a valid variable name (letters, digits and _, not starting with a digit)"
        ));
    }
    if let Some(message) = reserved_env_error(key) {
        return Err(message);
    }
    Ok((key.to_owned(), value.to_owned()))
}

/// Runs `scfrt` with `args` (including the program name) and returns the process exit code.
pub fn run<I, T>(args: I) -> u8
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let args: Vec<OsString> = args.into_iter().map(Into::into).collect();
    let matches = match Cli::command().try_get_matches_from(&args) {
        Ok(m) => m,
        Err(e)
            if e.kind() == clap::error::ErrorKind::InvalidSubcommand
                && args.get(1).is_some_and(|a| a == "event") =>
        {
            let given = args.get(2).map(|a| a.to_string_lossy()).unwrap_or_default();
            eprintln!(
                "scfrt event: error: unknown trigger `{given}`; known triggers: {}",
                scf_triggers::TRIGGERS.join(", ")
            );
            return EXIT_USAGE;
        }
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { EXIT_USAGE } else { EXIT_OK };
        }
    };
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return EXIT_USAGE;
        }
    };
    match cli.command {
        Commands::Serve(args) => match serve(&args) {
            Ok(()) => EXIT_OK,
            Err(msg) => {
                eprintln!("scfrt serve: error: {msg}");
                EXIT_USAGE
            }
        },
        Commands::Package(args) => package(&args),
        Commands::Init(args) => init(&args),
        Commands::Deploy(args) => deploy(&args),
        Commands::RemoteInvoke(args) => remote_invoke(&args),
        Commands::Logs(args) => logs(&args),
        Commands::Event { trigger } => event(&trigger),
        Commands::StartApi(args) => match start_api(&args) {
            Ok(()) => EXIT_OK,
            Err(msg) => {
                eprintln!("scfrt start-api: error: {msg}");
                EXIT_USAGE
            }
        },
        Commands::Invoke(args) => {
            let sub = matches
                .subcommand_matches("invoke")
                .cloned()
                .unwrap_or_default();
            match invoke(&args, &sub) {
                Ok(code) => code,
                Err(msg) => {
                    eprintln!("scfrt: error: {msg}");
                    EXIT_USAGE
                }
            }
        }
    }
}

/// The events in command-line order (`--event` and `--event-file` interleaved as given).
fn collect_events(args: &InvokeArgs, matches: &ArgMatches) -> Result<Vec<Vec<u8>>, String> {
    let mut ordered: Vec<(usize, Result<Vec<u8>, String>)> = Vec::new();
    let event_idx = matches
        .indices_of("events")
        .map(|i| i.collect::<Vec<_>>())
        .unwrap_or_default();
    for (n, text) in args.events.iter().enumerate() {
        let idx = event_idx.get(n).copied().unwrap_or(n);
        let event = match text.strip_prefix('@') {
            Some(file) => read_event_file(Path::new(file)),
            None => Ok(text.as_bytes().to_vec()),
        };
        ordered.push((idx, event));
    }
    let file_idx = matches
        .indices_of("event_files")
        .map(|i| i.collect::<Vec<_>>())
        .unwrap_or_default();
    for (n, file) in args.event_files.iter().enumerate() {
        let idx = file_idx.get(n).copied().unwrap_or(usize::MAX / 2 + n);
        ordered.push((idx, read_event_file(file)));
    }
    ordered.sort_by_key(|(idx, _)| *idx);
    let mut events = Vec::with_capacity(ordered.len().max(1));
    for (n, (_, event)) in ordered.into_iter().enumerate() {
        let event = event?;
        if let Err(e) = serde_json::from_slice::<serde_json::Value>(&event) {
            return Err(format!(
                "event #{} is not valid JSON ({e}); the Invoke API's ClientContext must be a JSON document",
                n + 1
            ));
        }
        events.push(event);
    }
    if events.is_empty() {
        events.push(b"{}".to_vec());
    }
    Ok(events)
}

fn read_event_file(path: &Path) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("cannot read event file {}: {e}", path.display()))
}

/// `--template F [--function NAME]`: the chosen function's configuration ([`spec_config`]).
fn template_config(args: &InvokeArgs) -> Result<Option<FunctionConfig>, String> {
    let Some(file) = &args.template else {
        return Ok(None);
    };
    let project = scf_triggers::project::load(file).map_err(|e| e.to_string())?;
    for w in &project.warnings {
        eprintln!("scfrt invoke: warning: {w}");
    }
    let spec = match (&args.function, project.functions.as_slice()) {
        (Some(name), _) => project.function(name)?,
        (None, [only]) => only,
        (None, all) => {
            let names: Vec<&str> = all.iter().map(|f| f.name.as_str()).collect();
            return Err(format!(
                "{} declares {} functions ({}): choose one with --function NAME",
                file.display(),
                all.len(),
                names.join(", ")
            ));
        }
    };
    if spec.function_type == scf_triggers::project::FunctionType::Http {
        return Err(web_function_invoked(
            &format!("`{}`", spec.name),
            &format!(
                "scfrt start-api --template {} --function {}",
                file.display(),
                spec.name
            ),
        ));
    }
    spec_config(file, spec).map(Some)
}

/// Why `scfrt invoke` refuses a web function (`what`), and the command that serves it.
fn web_function_invoked(what: &str, serve: &str) -> String {
    format!(
        "{what} is a web function (Type HTTP / type: web, started by `scf_bootstrap`): SCF passes \
         HTTP requests to it, not events, so it cannot be invoked with an event; serve it with \
         `{serve}` and send it HTTP requests (docs/triggers.md, \"Web functions\")"
    )
}

/// Whether `dir` is a web function's package: `scf_bootstrap` and no `bootstrap` at its root.
fn is_web_package(dir: &Path) -> bool {
    dir.join(scf_emulator::WEB_BOOTSTRAP).is_file() && !dir.join("bootstrap").exists()
}

fn invoke(args: &InvokeArgs, matches: &ArgMatches) -> Result<u8, String> {
    let template = template_config(args)?;
    let events = collect_events(args, matches)?;
    let package = template
        .as_ref()
        .map(|c| c.code_dir.clone())
        .or_else(|| args.package.clone())
        .ok_or("a PACKAGE or --template is required")?;
    let meta = std::fs::metadata(&package).map_err(|e| {
        format!(
            "package not found: {} ({e}); expected a directory or a .zip with a `bootstrap` at its root",
            package.display()
        )
    })?;
    // Declared before `function` so it is removed after the function's processes are gone.
    let mut _extracted = None;
    let code_dir = if meta.is_dir() {
        package.clone()
    } else {
        scf_package::pack::check_code_zip(&package)
            .map_err(|e| format!("cannot unpack package: {e}"))?;
        let dir = tempfile::Builder::new()
            .prefix("scfrt-pkg-")
            .tempdir()
            .map_err(|e| format!("cannot create a temporary directory: {e}"))?;
        scf_package::extract::extract_zip(&package, dir.path())
            .map_err(|e| format!("cannot unpack package {}: {e}", package.display()))?;
        let path = dir.path().to_owned();
        _extracted = Some(dir);
        path
    };
    if template.is_none() && is_web_package(&code_dir) {
        return Err(web_function_invoked(
            &package.display().to_string(),
            &format!("scfrt start-api {}", package.display()),
        ));
    }
    let (deployment, default_init_timeout) = if args.image {
        (Deployment::Image, IMAGE_INIT_TIMEOUT)
    } else {
        (
            Deployment::CodePackage,
            FunctionConfig::default().init_timeout,
        )
    };
    // From the template, the flags given on the command line win; without one, the flags.
    let from_flags = template.is_none();
    let given = |id: &str| {
        from_flags || matches.value_source(id) == Some(clap::parser::ValueSource::CommandLine)
    };
    let mut cfg = template.unwrap_or_default();
    if given("handler") {
        cfg.handler.clone_from(&args.handler);
    }
    if given("function_name") {
        cfg.function_name.clone_from(&args.function_name);
    }
    if given("timeout") {
        cfg.timeout = args.timeout;
    }
    if from_flags || args.init_timeout.is_some() {
        cfg.init_timeout = args.init_timeout.unwrap_or(default_init_timeout);
    }
    if given("memory") {
        cfg.memory_mb = args.memory;
    }
    // --env overrides the file's variable of the same name.
    cfg.env
        .retain(|(k, _)| !args.env.iter().any(|(key, _)| key == k));
    cfg.env.extend(args.env.iter().cloned());
    cfg.code_dir = code_dir;
    cfg.log_type_tail = args.log_type == LogType::Tail;
    cfg.deployment = deployment;
    cfg.trigger_src.clone_from(&args.trigger_src);
    let mut function = Function::new(cfg).map_err(|e| e.to_string())?;
    function.set_log_stream(Some(Box::new(std::io::stderr())));
    install_signal_handlers();
    let mut all_ok = true;
    let stdout = std::io::stdout();
    for _ in 0..args.repeat {
        for event in &events {
            let result = function.invoke(event);
            all_ok &= result.succeeded();
            let mut out = stdout.lock();
            let _ = writeln!(out, "{}", result.to_invoke_json_string());
            let _ = out.flush();
        }
    }
    drop(function);
    Ok(if all_ok {
        EXIT_OK
    } else {
        EXIT_FUNCTION_FAILED
    })
}

fn package(args: &PackageArgs) -> u8 {
    let opts = scf_package::pack::PackOptions {
        dir: args.dir.clone(),
        output: args.output.clone(),
        lang: args.lang,
        bootstrap_bin: args.bootstrap_bin.clone(),
        portable: args.portable,
        build: args.build.clone(),
        handler: args.handler.clone(),
        allow_newer_glibc: args.allow_newer_glibc,
        python: scf_package::python::PythonOptions {
            version: args.python_version.clone(),
            find_links: args.find_links.clone(),
        },
    };
    let mut warn = |w: &str| eprintln!("scfrt package: warning: {w}");
    match scf_package::pack::pack(&opts, &mut warn) {
        Ok(report) => {
            eprintln!(
                "scfrt package: wrote {} ({} bytes, {} entries; bootstrap from {})",
                report.output.display(),
                report.zip_bytes,
                report.entries,
                report.bootstrap_from
            );
            EXIT_OK
        }
        Err(e) => {
            eprintln!("scfrt package: error: {e}");
            EXIT_USAGE
        }
    }
}

fn init(args: &InitArgs) -> u8 {
    let core = match &args.scf_core_path {
        Some(p) => scf_package::init::ScfCoreSource::Path(p.clone()),
        None => scf_package::init::ScfCoreSource::default_for_this_build(),
    };
    match scf_package::init::init(args.lang, &args.dir, &core) {
        Ok(files) => {
            let d = args.dir.display();
            for f in &files {
                eprintln!("scfrt init: wrote {d}/{}", f.display());
            }
            eprintln!(
                "scfrt init: next: see {d}/README.md; in short `scfrt package {d} -o fn.zip --lang {}` \
                 then `scfrt invoke fn.zip --event '{{}}'`",
                args.lang.name()
            );
            EXIT_OK
        }
        Err(e) => {
            eprintln!("scfrt init: error: {e}");
            EXIT_USAGE
        }
    }
}

/// The exit code for a failed API step: 2 when nothing could be sent, else 1.
fn cloud_exit(cmd: &str, e: &scf_cloud::client::CloudError) -> u8 {
    eprintln!("scfrt {cmd}: error: {e}");
    match e {
        scf_cloud::client::CloudError::Usage(_) => EXIT_USAGE,
        _ => EXIT_FUNCTION_FAILED,
    }
}

fn cloud_client(
    args: &CloudArgs,
) -> Result<scf_cloud::client::Client, scf_cloud::client::CloudError> {
    let endpoint = scf_cloud::client::Endpoint::parse(&args.endpoint)?;
    let creds = scf_cloud::client::Credentials::resolve(
        args.secret_id.as_deref(),
        args.secret_key.as_ref(),
    )?;
    match &args.ca_file {
        Some(ca) => scf_cloud::client::Client::with_ca_file(endpoint, &args.region, creds, ca),
        None => Ok(scf_cloud::client::Client::new(
            endpoint,
            &args.region,
            creds,
        )),
    }
}

/// The functions of `file` to deploy (all, or `only`), checked before anything is sent.
fn project_functions(
    file: &Path,
    only: Option<&str>,
    cmd: &str,
) -> Result<Vec<scf_triggers::project::FunctionSpec>, String> {
    let project = scf_triggers::project::load(file).map_err(|e| e.to_string())?;
    for w in &project.warnings {
        eprintln!("scfrt {cmd}: warning: {w}");
    }
    let functions = match only {
        Some(name) => vec![project.function(name)?.clone()],
        None => project.functions.clone(),
    };
    if let Some(web) = functions
        .iter()
        .find(|f| f.function_type == scf_triggers::project::FunctionType::Http)
    {
        return Err(format!(
            "`{}` is a web function (Type HTTP / type: web): scfrt deploys and serves event \
             functions only, for now",
            web.name
        ));
    }
    Ok(functions)
}

/// Deploys each of `functions` through `client` (create or update, as `scfrt deploy` does),
/// then creates the triggers each lacks.
fn deploy_functions(
    client: &scf_cloud::client::Client,
    functions: &[scf_triggers::project::FunctionSpec],
    bootstrap_bin: Option<&Path>,
    allow_newer_glibc: bool,
    progress: &mut dyn FnMut(&str),
) -> Result<(), scf_cloud::client::CloudError> {
    use scf_cloud::deploy::{CodeSource, FunctionSettings};
    for f in functions {
        let code = CodeSource::Dir {
            dir: f.code_dir.clone(),
            lang: None,
            bootstrap_bin: bootstrap_bin.map(Path::to_owned),
            handler: f.handler.clone(),
            allow_newer_glibc,
            python: scf_package::python::PythonOptions::default(),
        };
        let zip = scf_cloud::deploy::code_zip(&code, progress)?;
        let settings = FunctionSettings {
            name: f.name.clone(),
            namespace: f.namespace.clone(),
            handler: f.handler.clone(),
            timeout_s: f.timeout_s,
            init_timeout_s: f.init_timeout_s,
            memory_mb: f.memory_mb,
            env: Some(f.environment.clone().into_iter().collect()),
            description: f.description.clone(),
        };
        let r = scf_cloud::deploy::deploy(client, &settings, &zip, progress)?;
        progress(&format!(
            "{} {}/{}: {}",
            if r.created { "created" } else { "updated" },
            f.namespace,
            f.name,
            r.status
        ));
        let mut requests = Vec::new();
        for t in &f.triggers {
            match t.create_request() {
                Ok(r) => requests.push(r),
                Err(why) => progress(&format!("{}/{}: {why}", f.namespace, f.name)),
            }
        }
        scf_cloud::deploy::ensure_triggers(client, &settings, &requests, progress)?;
    }
    Ok(())
}

fn deploy(args: &DeployArgs) -> u8 {
    use scf_cloud::deploy::{CodeSource, FunctionSettings};
    let mut progress = |m: &str| eprintln!("scfrt deploy: {m}");
    // Everything that can fail without the network is checked before anything is sent.
    let client = match cloud_client(&args.cloud) {
        Ok(c) => c,
        Err(e) => return cloud_exit("deploy", &e),
    };
    if let Some(file) = &args.template {
        let functions = match project_functions(file, args.function.as_deref(), "deploy") {
            Ok(f) => f,
            Err(e) => {
                eprintln!("scfrt deploy: error: {e}");
                return EXIT_USAGE;
            }
        };
        return match deploy_functions(
            &client,
            &functions,
            args.bootstrap_bin.as_deref(),
            args.allow_newer_glibc,
            &mut progress,
        ) {
            Ok(()) => EXIT_OK,
            Err(e) => cloud_exit("deploy", &e),
        };
    }
    let (Some(package), Some(name)) = (&args.package, &args.name) else {
        eprintln!("scfrt deploy: error: a PACKAGE and --name, or --template, are required");
        return EXIT_USAGE;
    };
    let zip = match CodeSource::from_path(
        package,
        args.lang,
        args.bootstrap_bin.clone(),
        args.handler.clone(),
        args.allow_newer_glibc,
        scf_package::python::PythonOptions {
            version: args.python_version.clone(),
            find_links: Vec::new(),
        },
    )
    .and_then(|code| scf_cloud::deploy::code_zip(&code, &mut progress))
    {
        Ok(z) => z,
        Err(e) => return cloud_exit("deploy", &e),
    };
    let settings = FunctionSettings {
        name: name.clone(),
        namespace: args.cloud.namespace.clone(),
        handler: args.handler.clone(),
        timeout_s: args.timeout,
        init_timeout_s: args.init_timeout,
        memory_mb: args.memory,
        env: (!args.env.is_empty()).then(|| args.env.clone()),
        description: None,
    };
    progress(&format!(
        "deploying {}/{} in {} at {}",
        settings.namespace,
        settings.name,
        args.cloud.region,
        client.endpoint()
    ));
    match scf_cloud::deploy::deploy(&client, &settings, &zip, &mut progress) {
        Ok(r) => {
            progress(&format!(
                "{} {}/{}: {} ({} bytes of code)",
                if r.created { "created" } else { "updated" },
                settings.namespace,
                settings.name,
                r.status,
                r.zip_bytes
            ));
        }
        Err(e) => return cloud_exit("deploy", &e),
    }
    if args.publish {
        publish_and_alias(args, &client, &settings, &mut progress)
    } else {
        EXIT_OK
    }
}

/// `scfrt deploy --publish [--alias NAME]`, once the function is deployed: prints the new
/// version's number on stdout.
fn publish_and_alias(
    args: &DeployArgs,
    client: &scf_cloud::client::Client,
    settings: &scf_cloud::deploy::FunctionSettings,
    progress: &mut dyn FnMut(&str),
) -> u8 {
    let description = args.version_description.as_deref();
    let version = match scf_cloud::deploy::publish(client, settings, description, progress) {
        Ok(v) => v,
        Err(e) => return cloud_exit("deploy", &e),
    };
    progress(&format!(
        "published {}/{} version {version}",
        settings.namespace, settings.name
    ));
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{version}");
    let _ = out.flush();
    let Some(alias) = &args.alias else {
        return EXIT_OK;
    };
    match scf_cloud::deploy::point_alias(client, settings, alias, &version, progress) {
        Ok(change) => {
            let what = match change {
                scf_cloud::deploy::AliasChange::Created => "created",
                scf_cloud::deploy::AliasChange::Updated => "updated",
            };
            progress(&format!("alias {alias} {what}: version {version}"));
            EXIT_OK
        }
        Err(e) => cloud_exit("deploy", &e),
    }
}

fn remote_invoke(args: &RemoteInvokeArgs) -> u8 {
    let event = match args.event.strip_prefix('@') {
        Some(file) => match read_event_file(Path::new(file)) {
            Ok(e) => e,
            Err(msg) => {
                eprintln!("scfrt remote-invoke: error: {msg}");
                return EXIT_USAGE;
            }
        },
        None => args.event.as_bytes().to_vec(),
    };
    let event = match String::from_utf8(event) {
        Ok(e) if serde_json::from_str::<serde::de::IgnoredAny>(&e).is_ok() => e,
        _ => {
            eprintln!(
                "scfrt remote-invoke: error: the event is not valid UTF-8 JSON; the Invoke API's \
                 ClientContext must be a JSON document"
            );
            return EXIT_USAGE;
        }
    };
    let client = match cloud_client(&args.cloud) {
        Ok(c) => c,
        Err(e) => return cloud_exit("remote-invoke", &e),
    };
    let req = scf_cloud::deploy::InvokeRequest {
        name: args.name.clone(),
        namespace: args.cloud.namespace.clone(),
        event,
        tail_log: args.log,
        qualifier: args.qualifier.clone(),
    };
    match scf_cloud::deploy::remote_invoke(&client, &req) {
        Ok(response) => {
            if args.log
                && let Some(log) = response.pointer("/Result/Log").and_then(|v| v.as_str())
            {
                eprint!("{log}");
            }
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "{}", scf_emulator::invoke_json_line(&response));
            let _ = out.flush();
            let ok = response
                .pointer("/Result/InvokeResult")
                .and_then(|v| v.as_i64())
                == Some(0);
            if ok { EXIT_OK } else { EXIT_FUNCTION_FAILED }
        }
        Err(e) => cloud_exit("remote-invoke", &e),
    }
}

fn logs(args: &LogsArgs) -> u8 {
    let client = match cloud_client(&args.cloud) {
        Ok(c) => c,
        Err(e) => return cloud_exit("logs", &e),
    };
    let req = scf_cloud::logs::LogsRequest {
        name: args.name.clone(),
        namespace: args.cloud.namespace.clone(),
        limit: args.limit,
        offset: args.offset,
        request_id: args.request_id.clone(),
        ret_code: if args.failed {
            Some("not0".into())
        } else if args.succeeded {
            Some("is0".into())
        } else {
            None
        },
    };
    match scf_cloud::logs::get_function_logs(&client, &req) {
        Ok(response) => {
            let mut out = std::io::stdout().lock();
            let _ = if args.json {
                writeln!(out, "{response}")
            } else {
                write!(out, "{}", scf_cloud::logs::render(&response))
            };
            let _ = out.flush();
            EXIT_OK
        }
        Err(e) => cloud_exit("logs", &e),
    }
}

/// The default state directory: $XDG_STATE_HOME/scfrt/serve or ~/.local/state/scfrt/serve.
pub fn default_state_dir() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_STATE_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| {
            std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local").join("state"))
        })?;
    Some(base.join("scfrt").join("serve"))
}

fn serve(args: &ServeArgs) -> Result<(), String> {
    let (id, key) = match (&args.secret_id, &args.secret_key) {
        (Some(id), Some(key)) => (id.clone(), key.clone()),
        _ => match (
            std::env::var("TENCENTCLOUD_SECRET_ID"),
            std::env::var("TENCENTCLOUD_SECRET_KEY"),
        ) {
            (Ok(id), Ok(key)) if !id.is_empty() && !key.is_empty() => (id, key),
            _ => {
                return Err(
                    "no credentials: pass --secret-id and --secret-key, or set TENCENTCLOUD_SECRET_ID and \
                     TENCENTCLOUD_SECRET_KEY (the SDK's own variables); clients must sign with them"
                        .into(),
                );
            }
        },
    };
    if args.max_buffered_mb < args.max_body_mb {
        return Err(format!(
            "--max-buffered-mb {} is less than --max-body-mb {}: a body of the largest size could never be buffered",
            args.max_buffered_mb, args.max_body_mb
        ));
    }
    let state_dir = match &args.state_dir {
        Some(d) => d.clone(),
        None => default_state_dir()
            .ok_or("cannot find a state directory: set --state-dir, XDG_STATE_HOME or HOME")?,
    };
    let own_credentials = (id.clone(), key.clone());
    let mut cfg = scf_serve::ServeConfig::new(state_dir.clone(), [(id, key)].into_iter().collect());
    cfg.addr = std::net::SocketAddr::new(args.host, args.port);
    cfg.pool = scf_emulator::pool::PoolOptions {
        max_instances: args.max_instances as usize,
        idle_timeout: args.idle_timeout,
    };
    cfg.max_body_bytes = args.max_body_mb as usize * 1024 * 1024;
    cfg.read_timeout = args.read_timeout;
    cfg.max_connections = args.max_connections as usize;
    cfg.max_buffered_bytes = args.max_buffered_mb as usize * 1024 * 1024;
    cfg.tls = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => Some(scf_serve::tls::TlsFiles {
            cert: cert.clone(),
            key: key.clone(),
            ca: None,
        }),
        _ if args.tls => {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs() as i64);
            Some(scf_serve::tls::local_ca_files(&state_dir, now)?)
        }
        _ => None,
    };
    let scheme = if cfg.tls.is_some() { "https" } else { "http" };
    let trust = cfg.tls.as_ref().and_then(|t| t.ca.clone());
    let functions = match &args.template {
        Some(file) => project_functions(file, args.function.as_deref(), "serve")?,
        None => Vec::new(),
    };
    install_signal_handlers();
    let server = scf_serve::start(cfg).map_err(|e| {
        format!(
            "cannot serve on {}:{} with state in {}: {e}",
            args.host,
            args.port,
            state_dir.display()
        )
    })?;
    if !functions.is_empty() {
        // Through the API itself, as `scfrt deploy --template` would: one way in.
        let endpoint = scf_cloud::client::Endpoint::parse(&format!("{scheme}://{}", server.addr()))
            .map_err(|e| e.to_string())?;
        let creds = scf_cloud::client::Credentials::new(
            own_credentials.0,
            scf_cloud::client::Secret::new(own_credentials.1),
            None,
        );
        let client = match &trust {
            Some(ca) => {
                scf_cloud::client::Client::with_ca_file(endpoint, "ap-guangzhou", creds, ca)
                    .map_err(|e| e.to_string())?
            }
            None => scf_cloud::client::Client::new(endpoint, "ap-guangzhou", creds),
        };
        let mut progress = |m: &str| eprintln!("scfrt serve: {m}");
        // These packages run on this machine, under this serve: its glibc is the one that counts.
        deploy_functions(&client, &functions, None, true, &mut progress)
            .map_err(|e| format!("cannot create the functions of the template: {e}"))?;
    }
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "listening on {scheme}://{}", server.addr());
    let _ = out.flush();
    drop(out);
    if !args.host.is_loopback() {
        eprintln!(
            "scfrt serve: warning: listening on {}, not a loopback address: the API is exposed to \
             the network, and whoever holds the SecretId and SecretKey can upload and run code \
             on this machine{}",
            server.addr(),
            if scheme == "http" {
                " (over plain HTTP)"
            } else {
                ""
            }
        );
    }
    if let Some(ca) = trust {
        eprintln!(
            "scfrt serve: TLS certificate signed by the local CA {}: make clients trust that file",
            ca.display()
        );
    }
    eprintln!("scfrt serve: state in {}", state_dir.display());
    server.join();
    Ok(())
}

/// The function configuration of a project's function (as `invoke --template` builds it).
fn spec_config(
    file: &Path,
    spec: &scf_triggers::project::FunctionSpec,
) -> Result<FunctionConfig, String> {
    let mut cfg = FunctionConfig::new(spec.code_dir.clone());
    if let Some(h) = &spec.handler {
        cfg.handler.clone_from(h);
    }
    if let Some(t) = spec.timeout_s {
        cfg.timeout = Duration::from_secs(u64::from(t));
    }
    if let Some(t) = spec.init_timeout_s {
        cfg.init_timeout = Duration::from_secs(u64::from(t));
    }
    if let Some(m) = spec.memory_mb {
        cfg.memory_mb = m;
    }
    cfg.function_name.clone_from(&spec.name);
    cfg.namespace.clone_from(&spec.namespace);
    for (k, v) in &spec.environment {
        if let Some(message) = reserved_env_error(k) {
            return Err(format!(
                "{}: environment of `{}`: {message}",
                file.display(),
                spec.name
            ));
        }
        cfg.env.push((k.clone(), v.clone()));
    }
    cfg.log_type_tail = false;
    if spec.function_type == scf_triggers::project::FunctionType::Http {
        cfg.deployment = Deployment::Web;
    }
    Ok(cfg)
}

/// The functions and routes of `scfrt start-api`: from the project file, or DIR as one package.
fn start_api_routes(
    args: &StartApiArgs,
) -> Result<(Vec<scf_gateway::GatewayFunction>, Vec<scf_gateway::Route>), String> {
    use scf_triggers::project::{FunctionType, TriggerKind};
    let file = match &args.template {
        Some(f) => Some(f.clone()),
        None => scf_triggers::project::find(&args.dir),
    };
    let Some(file) = file else {
        if args.function.is_some() {
            return Err(format!(
                "--function needs a project file, and {} has none ({})",
                args.dir.display(),
                scf_triggers::project::PROJECT_FILES.join(", ")
            ));
        }
        let web = is_web_package(&args.dir);
        if !web && !args.dir.join("bootstrap").is_file() {
            return Err(format!(
                "{} has neither a `bootstrap` (a function package), an `scf_bootstrap` (a web \
                 function) nor a project file ({}); give a function directory, a project \
                 directory or --template FILE",
                args.dir.display(),
                scf_triggers::project::PROJECT_FILES.join(", ")
            ));
        }
        let mut cfg = FunctionConfig::new(args.dir.clone());
        cfg.log_type_tail = false;
        if web {
            cfg.deployment = Deployment::Web;
        }
        let name = std::fs::canonicalize(&args.dir)
            .ok()
            .and_then(|d| d.file_name().map(|n| n.to_string_lossy().into_owned()))
            .unwrap_or_else(|| cfg.function_name.clone());
        let function = scf_gateway::GatewayFunction {
            name,
            config: cfg,
            timers: Vec::new(),
        };
        let route = scf_gateway::Route {
            function: 0,
            path: "/".into(),
            method: "ANY".into(),
            integrated_response: true,
            stage: "release".into(),
            service_id: scf_triggers::apigw::DEFAULT_SERVICE_ID.into(),
        };
        return Ok((vec![function], vec![route]));
    };
    let project = scf_triggers::project::load(&file).map_err(|e| e.to_string())?;
    for w in &project.warnings {
        eprintln!("scfrt start-api: warning: {w}");
    }
    let specs: Vec<&scf_triggers::project::FunctionSpec> = match &args.function {
        Some(name) => vec![project.function(name)?],
        None => project.functions.iter().collect(),
    };
    let mut functions = Vec::new();
    let mut routes = Vec::new();
    for spec in specs {
        let endpoints: Vec<(&String, &Option<String>, &scf_triggers::project::Endpoint)> = spec
            .triggers
            .iter()
            .filter(|t| t.enable)
            .filter_map(|t| match &t.kind {
                TriggerKind::Apigw {
                    stage,
                    service_id,
                    endpoints,
                } => Some(endpoints.iter().map(move |e| (stage, service_id, e))),
                _ => None,
            })
            .flatten()
            .collect();
        if endpoints.is_empty() {
            if args.function.is_some() {
                return Err(format!(
                    "`{}` in {} has no API Gateway trigger with an endpoint",
                    spec.name,
                    file.display()
                ));
            }
            eprintln!(
                "scfrt start-api: `{}` has no API Gateway trigger: not served",
                spec.name
            );
            continue;
        }
        let index = functions.len();
        if spec.function_type == FunctionType::Http {
            // Every path and method goes to a web function, as it came (docs/triggers.md, "Web
            // functions"): one `ANY /`, whatever paths its API Gateway trigger names.
            if let Some(other) = functions
                .iter()
                .find(|f: &&scf_gateway::GatewayFunction| f.config.deployment == Deployment::Web)
            {
                return Err(format!(
                    "`{}` and `{}` are both web functions, and a web function gets every path \
                     and method: serve one at a time with --function NAME",
                    other.name, spec.name
                ));
            }
            if spec
                .triggers
                .iter()
                .any(|t| t.enable && !matches!(t.kind, TriggerKind::Apigw { .. }))
            {
                eprintln!(
                    "scfrt start-api: `{}` is a web function: only its API Gateway trigger is \
                     served (SCF binds web functions to API Gateway only)",
                    spec.name
                );
            }
            let (stage, service_id, _) = endpoints[0];
            functions.push(scf_gateway::GatewayFunction {
                name: spec.name.clone(),
                config: spec_config(&file, spec)?,
                timers: Vec::new(),
            });
            routes.push(scf_gateway::Route {
                function: index,
                path: "/".into(),
                method: "ANY".into(),
                integrated_response: false,
                stage: stage.clone(),
                service_id: service_id
                    .clone()
                    .unwrap_or_else(|| scf_triggers::apigw::DEFAULT_SERVICE_ID.into()),
            });
            continue;
        }
        let mut timers = Vec::new();
        for t in spec.triggers.iter().filter(|t| t.enable) {
            if let TriggerKind::Timer { cron, argument } = &t.kind {
                let schedule = scf_triggers::schedule::Schedule::parse(cron)
                    .map_err(|e| format!("{}: timer `{}`: {e}", file.display(), t.name))?;
                timers.push(scf_gateway::GatewayTimer {
                    name: t.name.clone(),
                    schedule,
                    message: argument.clone().unwrap_or_default(),
                });
            }
        }
        functions.push(scf_gateway::GatewayFunction {
            name: spec.name.clone(),
            config: spec_config(&file, spec)?,
            timers,
        });
        for (stage, service_id, e) in endpoints {
            routes.push(scf_gateway::Route {
                function: index,
                path: e.path.clone(),
                method: e.method.to_ascii_uppercase(),
                integrated_response: e.integrated_response,
                stage: stage.clone(),
                service_id: service_id
                    .clone()
                    .unwrap_or_else(|| scf_triggers::apigw::DEFAULT_SERVICE_ID.into()),
            });
        }
    }
    if routes.is_empty() {
        return Err(format!(
            "{}: no function has an API Gateway trigger with an endpoint",
            file.display()
        ));
    }
    Ok((functions, routes))
}

fn start_api(args: &StartApiArgs) -> Result<(), String> {
    let (functions, routes) = start_api_routes(args)?;
    let mut cfg = scf_gateway::GatewayConfig::new(functions, routes);
    cfg.addr = std::net::SocketAddr::new(args.host, args.port);
    cfg.pool = scf_emulator::pool::PoolOptions {
        max_instances: args.max_instances as usize,
        ..scf_emulator::pool::PoolOptions::default()
    };
    cfg.log_stream = Some(std::sync::Arc::new(|| {
        Box::new(std::io::stderr()) as Box<dyn Write + Send>
    }));
    install_signal_handlers();
    let gateway = scf_gateway::start(cfg).map_err(|e| e.to_string())?;
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "listening on http://{}", gateway.addr());
    let _ = out.flush();
    drop(out);
    if !args.host.is_loopback() {
        eprintln!(
            "scfrt start-api: warning: listening on {}, not a loopback address: the functions \
             are exposed to the network, without authentication, over plain HTTP",
            gateway.addr()
        );
    }
    eprint!("scfrt start-api: routes:\n{}", gateway.routes_table());
    gateway.join();
    Ok(())
}

extern "C" fn on_fatal_signal(sig: libc::c_int) {
    kill_all_process_groups();
    // SAFETY: signal(2) and raise(3) are async-signal-safe; re-raising with the default action
    // ends the process with the status a shell expects.
    unsafe {
        libc::signal(sig, libc::SIG_DFL);
        libc::raise(sig);
    }
}

/// On SIGINT, SIGTERM or SIGHUP, kill the bootstraps' process groups (they are not in our group,
/// so a terminal's Ctrl-C does not reach them) before dying.
fn install_signal_handlers() {
    for sig in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
        // SAFETY: the handler only calls async-signal-safe functions; the sigaction struct is
        // fully initialised (zeroed, then the handler and an empty mask set).
        unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = on_fatal_signal as *const () as libc::sighandler_t;
            libc::sigemptyset(&mut action.sa_mask);
            libc::sigaction(sig, &action, std::ptr::null_mut());
        }
    }
}
