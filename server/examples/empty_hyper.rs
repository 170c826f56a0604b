//! The benchmark's floor: a hyper server built like `tollgate serve` (same runtime, HTTP/1.1
//! settings and keep-alive) whose handler answers 200 with an empty body and does nothing else.
//!
//! `cargo run --release -p tollgate-server --example empty_hyper -- 127.0.0.1:18081 [workers]`

use bytes::Bytes;
use http_body_util::Full;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::Response;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::convert::Infallible;
use std::time::Duration;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let addr = args.next().unwrap_or_else(|| "127.0.0.1:18081".to_owned());
    let mut runtime = tokio::runtime::Builder::new_multi_thread();
    runtime.enable_all();
    if let Some(n) = args.next() {
        runtime.worker_threads(n.parse()?);
    }
    runtime.build()?.block_on(async move {
        let listener = tokio::net::TcpListener::bind(&addr).await?;
        let mut http = http1::Builder::new();
        http.timer(TokioTimer::new())
            .header_read_timeout(Duration::from_secs(10))
            .keep_alive(true);
        loop {
            let (stream, _) = listener.accept().await?;
            let _ = stream.set_nodelay(true);
            let connection = http.serve_connection(
                TokioIo::new(stream),
                service_fn(|_req| async {
                    Ok::<_, Infallible>(Response::new(Full::new(Bytes::new())))
                }),
            );
            tokio::spawn(connection);
        }
    })
}
