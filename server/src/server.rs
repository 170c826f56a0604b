//! Listening, serving connections, reloading, and stopping gracefully.

use crate::handler::{self, Incoming};
use crate::state::{Clock, LoadError, Shared};
use crate::store::RedisStore;
use crate::{logging, ServeArgs, FORWARD_PATH, NGINX_PATH};
use hyper::body::Incoming as Body;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, UnixListener};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Where the service listens.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Listen {
    /// A TCP address.
    Tcp(SocketAddr),
    /// A Unix socket path (a stale socket file there is replaced).
    Unix(PathBuf),
}

impl Listen {
    /// Parses `HOST:PORT` or `unix:PATH`.
    pub fn parse(text: &str) -> Result<Listen, String> {
        if let Some(path) = text.strip_prefix("unix:") {
            if path.is_empty() {
                return Err("unix: needs a socket path".to_owned());
            }
            return Ok(Listen::Unix(PathBuf::from(path)));
        }
        text.parse::<SocketAddr>().map(Listen::Tcp).map_err(|_| {
            format!("{text:?} is neither HOST:PORT (127.0.0.1:9180, [::1]:9180) nor unix:PATH")
        })
    }
}

impl core::fmt::Display for Listen {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Listen::Tcp(a) => write!(f, "{a}"),
            Listen::Unix(p) => write!(f, "unix:{}", p.display()),
        }
    }
}

/// The service's configuration.
#[derive(Clone, Debug)]
pub struct Config {
    /// Where to listen.
    pub listen: Listen,
    /// The policy file.
    pub policy: PathBuf,
    /// The key snapshot file.
    pub keys: PathBuf,
    /// Where `now` comes from.
    pub clock: Clock,
    /// Whether the engine keeps a verified-token cache.
    pub cache: bool,
    /// The Envoy endpoint's path prefix.
    pub envoy_prefix: String,
    /// How often to look for changed files (`None`: only on `SIGHUP` or [`Running::reload`]).
    pub watch_interval: Option<Duration>,
    /// How long open connections may finish after shutdown begins.
    pub shutdown_grace: Duration,
    /// Whether the service handles `SIGHUP` (reload) and `SIGTERM`/`SIGINT` (graceful stop).
    pub signals: bool,
    /// Providers whose keys are fetched from a JWKS URL (provider, URL), replacing the key
    /// file's keys for them. The service is not ready until each has had a good fetch.
    pub jwks: Vec<(String, String)>,
    /// The shared record store (`redis://…`) for policies that keep records there.
    pub store: Option<String>,
    /// How long one store operation may take before the check is decided without it.
    pub store_timeout: Duration,
}

impl Config {
    /// A configuration with the defaults of `tollgate serve`, without signal handling (for
    /// embedding and tests).
    pub fn new(listen: Listen, policy: PathBuf, keys: PathBuf) -> Config {
        Config {
            listen,
            policy,
            keys,
            clock: Clock::System,
            cache: true,
            envoy_prefix: crate::DEFAULT_ENVOY_PREFIX.to_owned(),
            watch_interval: Some(Duration::from_secs(2)),
            shutdown_grace: Duration::from_secs(10),
            signals: false,
            jwks: Vec::new(),
            store: None,
            store_timeout: Duration::from_millis(crate::DEFAULT_STORE_TIMEOUT_MS),
        }
    }
}

/// Why the service could not start.
#[derive(Debug)]
#[non_exhaustive]
pub enum ServeError {
    /// The policy or key file is unreadable or invalid.
    Load(String),
    /// The address cannot be listened on.
    Listen(String),
    /// An option is unusable.
    Config(String),
    /// The runtime or the signal handlers could not be set up.
    Runtime(String),
}

impl core::fmt::Display for ServeError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            ServeError::Load(m) | ServeError::Config(m) | ServeError::Runtime(m) => f.write_str(m),
            ServeError::Listen(m) => write!(f, "cannot listen: {m}"),
        }
    }
}

impl std::error::Error for ServeError {}

impl From<LoadError> for ServeError {
    fn from(e: LoadError) -> ServeError {
        ServeError::Load(e.to_string())
    }
}

/// A running service.
pub struct Running {
    shared: Arc<Shared>,
    local: Listen,
    stop: watch::Sender<bool>,
    server: JoinHandle<()>,
    helpers: Vec<JoinHandle<()>>,
}

impl core::fmt::Debug for Running {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Running")
            .field("local", &self.local)
            .finish_non_exhaustive()
    }
}

impl Running {
    /// Where it listens (with the port the system chose for port 0).
    pub fn local(&self) -> &Listen {
        &self.local
    }

    /// The TCP address it listens on, if it listens on TCP.
    pub fn local_addr(&self) -> Option<SocketAddr> {
        match self.local {
            Listen::Tcp(a) => Some(a),
            Listen::Unix(_) => None,
        }
    }

    /// Reloads the policy and key files now, as `SIGHUP` does. Returns whether everything that
    /// was reloaded loaded.
    pub async fn reload(&self) -> bool {
        let shared = self.shared.clone();
        tokio::task::spawn_blocking(move || shared.reload(true))
            .await
            .map(|r| {
                r.policy.as_ref().is_none_or(Result::is_ok)
                    && r.keys.as_ref().is_none_or(Result::is_ok)
            })
            .unwrap_or(false)
    }

    /// Stops accepting connections, lets open requests finish (for at most the grace period),
    /// and returns when the service has stopped.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        self.wait().await;
    }

    /// Waits until the service stops (after [`Running::shutdown`], or `SIGTERM`/`SIGINT` when it
    /// handles signals).
    pub async fn wait(self) {
        let _ = self.server.await;
        for h in self.helpers {
            h.abort();
        }
    }
}

/// Binds, loads the policy and keys, and starts serving on the current Tokio runtime.
pub async fn start(config: Config) -> Result<Running, ServeError> {
    let prefix = &config.envoy_prefix;
    if !prefix.starts_with('/')
        || prefix.len() < 2
        || prefix.ends_with('/')
        || [NGINX_PATH, FORWARD_PATH, "/healthz", "/readyz", "/metrics"]
            .iter()
            .any(|p| p.starts_with(prefix.as_str()) || prefix.starts_with(p))
    {
        return Err(ServeError::Config(format!(
            "--envoy-prefix {prefix:?} must start with '/', not end with one, and not overlap \
             the other endpoints"
        )));
    }
    let store = config
        .store
        .as_deref()
        .map(|url| RedisStore::new(url, config.store_timeout))
        .transpose()
        .map_err(|e| ServeError::Config(e.to_string()))?
        .map(Arc::new);
    let shared = Arc::new(Shared::load(
        config.policy.clone(),
        config.keys.clone(),
        config.cache,
        config.clock,
        config.envoy_prefix.clone(),
        &config.jwks,
        store.clone(),
    )?);
    let (listener, local) = bind(&config.listen).await?;
    let (stop, stopped) = watch::channel(false);
    let mut helpers = Vec::new();

    if config.signals {
        use tokio::signal::unix::{signal, SignalKind};
        let sig = |kind| signal(kind).map_err(|e| ServeError::Runtime(format!("signals: {e}")));
        let mut hup = sig(SignalKind::hangup())?;
        let mut term = sig(SignalKind::terminate())?;
        let mut int = sig(SignalKind::interrupt())?;
        let reloading = shared.clone();
        helpers.push(tokio::spawn(async move {
            while hup.recv().await.is_some() {
                tracing::info!("SIGHUP: reloading the policy and keys");
                let s = reloading.clone();
                let _ = tokio::task::spawn_blocking(move || s.reload(true)).await;
            }
        }));
        let stopping = stop.clone();
        helpers.push(tokio::spawn(async move {
            tokio::select! {
                _ = term.recv() => tracing::info!("SIGTERM: shutting down"),
                _ = int.recv() => tracing::info!("SIGINT: shutting down"),
            }
            let _ = stopping.send(true);
        }));
    }
    if let Some(every) = config.watch_interval {
        let watching = shared.clone();
        helpers.push(tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            tick.tick().await;
            loop {
                tick.tick().await;
                let s = watching.clone();
                let _ = tokio::task::spawn_blocking(move || s.reload(false)).await;
            }
        }));
    }

    if let Some(store) = store {
        tracing::info!(store = %store.url(), timeout = ?config.store_timeout, "records are read from the shared store");
        let following = shared.clone();
        helpers.push(tokio::spawn(store.follow_invalidations(move |key| {
            let loaded = following.loaded.load();
            if let Err(e) = loaded.engine.invalidate_store_key(key) {
                tracing::warn!(error = %e, "an invalidation message is not a store key; ignored");
            }
        })));
    }

    for source in &shared.sources {
        tracing::info!(provider = %source.provider, url = %source.url, "fetching the provider's keys from its JWKS URL");
        helpers.push(tokio::spawn(source.clone().run(shared.clone())));
    }

    let loaded = shared.loaded.load();
    tracing::info!(
        listen = %local,
        policy = loaded.policy_name(),
        clock = ?config.clock,
        cache = config.cache,
        "tollgate serve is ready"
    );
    if let Clock::Fixed(t) = config.clock {
        tracing::warn!(
            now = t,
            "decisions use a fixed time (--now): for tests and demos only"
        );
    }
    drop(loaded);
    let server = tokio::spawn(serve(
        listener,
        shared.clone(),
        stopped,
        config.shutdown_grace,
    ));
    Ok(Running {
        shared,
        local,
        stop,
        server,
        helpers,
    })
}

/// A bound listener.
enum Listener {
    Tcp(TcpListener),
    /// The socket, its path, and the (device, inode) of the file bound there: removed at
    /// shutdown only while it is still this one.
    Unix(UnixListener, PathBuf, Option<(u64, u64)>),
}

/// The (device, inode) of the file at `path`, without following a symlink.
fn file_id(path: &std::path::Path) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt as _;
    std::fs::symlink_metadata(path)
        .ok()
        .map(|m| (m.dev(), m.ino()))
}

async fn bind(listen: &Listen) -> Result<(Listener, Listen), ServeError> {
    match listen {
        Listen::Tcp(addr) => {
            let l = TcpListener::bind(addr)
                .await
                .map_err(|e| ServeError::Listen(format!("{addr}: {e}")))?;
            let local = l
                .local_addr()
                .map_err(|e| ServeError::Listen(format!("{addr}: {e}")))?;
            Ok((Listener::Tcp(l), Listen::Tcp(local)))
        }
        Listen::Unix(path) => {
            use std::os::unix::fs::FileTypeExt as _;
            if let Ok(m) = std::fs::symlink_metadata(path) {
                if m.file_type().is_socket() {
                    // A socket left by a run that did not stop cleanly refuses connections: it
                    // goes. One that answers is another instance's (an overlapping restart):
                    // taking its path over would cut the proxy off from it.
                    match std::os::unix::net::UnixStream::connect(path) {
                        Ok(_) => {
                            return Err(ServeError::Listen(format!(
                                "{}: another process is listening on this socket",
                                path.display()
                            )))
                        }
                        Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
                            let _ = std::fs::remove_file(path);
                        }
                        Err(_) => {}
                    }
                }
            }
            let l = UnixListener::bind(path)
                .map_err(|e| ServeError::Listen(format!("{}: {e}", path.display())))?;
            let id = file_id(path);
            Ok((Listener::Unix(l, path.clone(), id), listen.clone()))
        }
    }
}

/// How long, once shutdown begins, open connections are still served (at most the grace
/// period): every answer then carries `Connection: close`, and connections still idle after it
/// are closed.
const LINGER: Duration = Duration::from_secs(1);

/// Accepts connections until told to stop, then drains them.
async fn serve(
    listener: Listener,
    shared: Arc<Shared>,
    stopped: watch::Receiver<bool>,
    grace: Duration,
) {
    let stop = until_stopped(stopped);
    tokio::pin!(stop);
    let graceful = GracefulShutdown::new();
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(Duration::from_secs(10))
        .keep_alive(true)
        // Room for the proxy's own headers above the engine's limit, which answers 431 itself.
        .max_headers(tollgate::request::MAX_HEADERS + 32);
    loop {
        tokio::select! {
            biased;
            () = &mut stop => break,
            accepted = accept(&listener) => match accepted {
                Ok(Accepted::Tcp(stream)) => {
                    let _ = stream.set_nodelay(true);
                    spawn_connection(&http, &graceful, stream, shared.clone());
                }
                Ok(Accepted::Unix(stream)) => {
                    spawn_connection(&http, &graceful, stream, shared.clone());
                }
                Err(e) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
        }
    }
    shared.drain();
    // Closed before draining, so new connections are refused at once (the proxy goes to another
    // instance) rather than left waiting in the backlog until the drain ends.
    let socket = match listener {
        Listener::Tcp(l) => {
            drop(l);
            None
        }
        Listener::Unix(l, path, id) => {
            drop(l);
            Some((path, id))
        }
    };
    tracing::info!(
        open = graceful.count(),
        "no longer accepting; draining open connections"
    );
    let draining = tokio::time::Instant::now();
    // Open connections are still served for a moment, each answer closing its connection, so
    // that a request already on its way is answered: hyper's graceful shutdown closes at once a
    // connection that has not read a whole request head, and would drop one half arrived.
    let linger = LINGER.min(grace);
    while graceful.count() > 0 && draining.elapsed() < linger {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    tokio::select! {
        _ = graceful.shutdown() => tracing::info!("all connections closed; stopped"),
        _ = tokio::time::sleep(grace.saturating_sub(draining.elapsed())) => {
            tracing::warn!("grace period over; stopping with connections open");
        }
    }
    // Only the socket this instance bound: a new instance started during the drain has bound
    // its own at the same path, and removing that would cut the proxy off from it.
    if let Some((path, Some(id))) = socket {
        if file_id(&path) == Some(id) {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// Resolves once `stopped` turns true (or its sender is gone).
async fn until_stopped(mut stopped: watch::Receiver<bool>) {
    while !*stopped.borrow_and_update() {
        if stopped.changed().await.is_err() {
            return;
        }
    }
}

enum Accepted {
    Tcp(tokio::net::TcpStream),
    Unix(tokio::net::UnixStream),
}

async fn accept(listener: &Listener) -> std::io::Result<Accepted> {
    match listener {
        Listener::Tcp(l) => l.accept().await.map(|(s, _)| Accepted::Tcp(s)),
        Listener::Unix(l, _, _) => l.accept().await.map(|(s, _)| Accepted::Unix(s)),
    }
}

fn spawn_connection<IO>(
    http: &http1::Builder,
    graceful: &GracefulShutdown,
    io: IO,
    shared: Arc<Shared>,
) where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let service = service_fn(move |req: hyper::Request<Body>| {
        let shared = shared.clone();
        async move {
            let uri = req.uri();
            let request = Incoming {
                method: req.method(),
                path: uri.path(),
                path_and_query: uri.path_and_query().map_or("/", |p| p.as_str()),
                headers: req.headers(),
            };
            // Without a store every check decides in one synchronous call.
            let mut reply = if shared.store.is_none() {
                handler::handle(&shared, &request)
            } else {
                handler::handle_with_store(&shared, &request).await
            };
            // Shutting down: the last answer on this connection (see `LINGER`).
            if shared.is_draining() {
                reply.headers_mut().insert(
                    hyper::header::CONNECTION,
                    hyper::header::HeaderValue::from_static("close"),
                );
            }
            Ok::<_, Infallible>(reply)
        }
    });
    let connection = http.serve_connection(TokioIo::new(io), service);
    let watched = graceful.watch(connection);
    tokio::spawn(async move {
        if let Err(e) = watched.await {
            tracing::debug!(error = %e, "connection ended with an error");
        }
    });
}

/// Runs `tollgate serve` until `SIGTERM` or `SIGINT`: builds the runtime, installs the JSON
/// logger, starts the service and waits for it to stop.
pub fn run(args: &ServeArgs) -> Result<(), ServeError> {
    logging::init(args.log_level);
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    builder.enable_all();
    if let Some(n) = args.workers {
        if n == 0 {
            return Err(ServeError::Config(
                "--workers must be at least 1".to_owned(),
            ));
        }
        builder.worker_threads(n);
    }
    let runtime = builder
        .build()
        .map_err(|e| ServeError::Runtime(format!("cannot start the runtime: {e}")))?;
    runtime.block_on(async {
        let running = start(args.config().map_err(ServeError::Config)?).await?;
        running.wait().await;
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listen_addresses_parse() {
        assert_eq!(
            Listen::parse("127.0.0.1:9180"),
            Ok(Listen::Tcp("127.0.0.1:9180".parse().unwrap()))
        );
        assert_eq!(
            Listen::parse("[::1]:80"),
            Ok(Listen::Tcp("[::1]:80".parse().unwrap()))
        );
        assert_eq!(
            Listen::parse("unix:/run/t.sock"),
            Ok(Listen::Unix("/run/t.sock".into()))
        );
        for bad in ["unix:", "localhost:9180", "9180", ""] {
            assert!(Listen::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(Listen::parse("unix:/a").unwrap().to_string(), "unix:/a");
    }
}
