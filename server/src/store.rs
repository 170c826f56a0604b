//! The shared record store: Redis (`--store redis://…`).
//!
//! The engine never waits on IO: a check whose policy keeps records in the store may answer
//! *pending* with the key it needs (`tollgate:<kind>:<hash>`, see `docs/records.md`). The service
//! reads that key here, with a timeout, and resumes the check; a store that does not answer in
//! time decides `store_unavailable` (503), or what the policy's `store.grace` allows. Every
//! instance subscribes to `tollgate:invalidate`, where writers publish the keys they change, and
//! drops its cached copy at once. After the subscription breaks, every cached record is dropped
//! when it is back (messages may have been missed), so a revocation is never missed for longer
//! than the record cache's TTL.
//!
//! Only single-key commands are used (`GET`, `SET … NX EX`, `SET … EXAT`, `PUBLISH`), so a Redis
//! Cluster behind a proxy, or a single node, serves unchanged.

use futures_util::StreamExt as _;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::AsyncCommands as _;
use std::sync::Arc;
use std::time::Duration;
use tollgate::record::INVALIDATE_CHANNEL;
use tollgate::StoredRecord;

/// Longest record the service reads (larger answers are refused by the engine anyway).
const MAX_ANSWER_BYTES: usize = tollgate::record::MAX_RECORD_BYTES + 1;

/// How long the store keeps a record past its `expires`, in seconds.
pub const EXPIRED_RECORDS_KEPT_SECS: u64 = 86_400;

/// Why the store gave no answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreError(pub String);

impl core::fmt::Display for StoreError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for StoreError {}

/// A Redis store: one multiplexed connection, reconnected by the connection manager.
pub struct RedisStore {
    client: redis::Client,
    connection: tokio::sync::OnceCell<ConnectionManager>,
    timeout: Duration,
    url: String,
}

impl core::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("RedisStore")
            .field("url", &self.url)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

/// The largest store-URL file read (`--store-file`).
const MAX_URL_FILE_BYTES: u64 = 64 * 1024;

/// The store URL in the file at `path` (`--store-file`, which keeps a password out of the command
/// line): its text with surrounding whitespace (a trailing newline) removed. Errors name the file,
/// never its contents.
pub fn url_from_file(path: &std::path::Path) -> Result<String, String> {
    use std::io::Read as _;
    let cannot = |e: &dyn core::fmt::Display| format!("--store-file {}: {e}", path.display());
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(MAX_URL_FILE_BYTES + 1).read_to_end(&mut bytes))
        .map_err(|e| cannot(&e))?;
    if bytes.len() as u64 > MAX_URL_FILE_BYTES {
        return Err(cannot(&format_args!(
            "larger than {MAX_URL_FILE_BYTES} bytes"
        )));
    }
    let text = String::from_utf8(bytes).map_err(|_| cannot(&"not UTF-8 text"))?;
    let url = text.trim();
    if url.is_empty() || url.contains(char::is_whitespace) {
        return Err(cannot(&"it must hold one URL"));
    }
    Ok(url.to_owned())
}

/// `url` without its password, for logs: no user info, and no query (`redis+unix://` takes
/// `?user=…&pass=…`).
fn redacted(url: &str) -> String {
    // A password may hold any character when the URL is not encoded as it should be (`?`, `/`,
    // `@`), so where it ends is not always knowable: when in doubt, nothing is shown.
    let Some((scheme, rest)) = url.split_once("://") else {
        return match url.split_once(':') {
            Some((scheme, rest)) if rest.contains(['@', '?']) => format!("{scheme}:…"),
            _ => url.to_owned(),
        };
    };
    match (rest.rsplit_once('@'), rest.split_once('?')) {
        (Some(_), Some(_)) => format!("{scheme}://…"),
        (Some((_, host)), None) => format!("{scheme}://…@{host}"),
        (None, Some((base, _))) => format!("{scheme}://{base}?…"),
        (None, None) => url.to_owned(),
    }
}

impl RedisStore {
    /// A store at `url` (`redis://host:port[/db]`, `redis+unix:///path`), each operation given at
    /// most `timeout`. Nothing is connected yet: the first operation connects, so the service
    /// starts while the store is down and uses it once it is up.
    pub fn new(url: &str, timeout: Duration) -> Result<RedisStore, StoreError> {
        let client = redis::Client::open(url)
            .map_err(|e| StoreError(format!("--store {}: {e}", redacted(url))))?;
        if timeout.is_zero() {
            return Err(StoreError("the store timeout must be above 0".to_owned()));
        }
        Ok(RedisStore {
            client,
            connection: tokio::sync::OnceCell::new(),
            timeout,
            url: redacted(url),
        })
    }

    /// The store's address, without a password.
    pub fn url(&self) -> &str {
        &self.url
    }

    async fn connection(&self) -> Result<ConnectionManager, StoreError> {
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(self.timeout))
            .set_response_timeout(Some(self.timeout))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_secs(1));
        let connect = self.connection.get_or_try_init(|| async {
            ConnectionManager::new_with_config(self.client.clone(), config)
                .await
                .map_err(|e| StoreError(format!("cannot connect to {}: {e}", self.url)))
        });
        match tokio::time::timeout(self.timeout, connect).await {
            Ok(Ok(c)) => Ok(c.clone()),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(StoreError(format!(
                "connecting to {} took more than {:?}",
                self.url, self.timeout
            ))),
        }
    }

    async fn timed<T>(
        &self,
        what: &str,
        op: impl core::future::Future<Output = redis::RedisResult<T>>,
    ) -> Result<T, StoreError> {
        match tokio::time::timeout(self.timeout, op).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => Err(StoreError(format!("{what} on {}: {e}", self.url))),
            Err(_) => Err(StoreError(format!(
                "{what} on {} took more than {:?}",
                self.url, self.timeout
            ))),
        }
    }

    /// The record stored under `key`, or `None`.
    pub async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let mut c = self.connection().await?;
        let value: Option<Vec<u8>> = self.timed("GET", c.get(key)).await?;
        match value {
            Some(v) if v.len() > MAX_ANSWER_BYTES => Ok(Some(v[..MAX_ANSWER_BYTES].to_vec())),
            other => Ok(other),
        }
    }

    /// Claims `key` for `ttl_secs` if nobody holds it (`SET key 1 NX EX ttl`): whether it was set.
    pub async fn claim(&self, key: &str, ttl_secs: u64) -> Result<bool, StoreError> {
        let mut c = self.connection().await?;
        let mut cmd = redis::cmd("SET");
        cmd.arg(key).arg(1).arg("NX").arg("EX").arg(ttl_secs.max(1));
        let set: Option<String> = self.timed("SET NX", cmd.query_async(&mut c)).await?;
        Ok(set.is_some())
    }

    /// Writes `record` and announces its key on `tollgate:invalidate`, so every instance drops
    /// its cached copy. A record with an `expires` is dropped by the store a day after it
    /// ([`EXPIRED_RECORDS_KEPT_SECS`]): until then a caller still hears why (`api_key_expired`,
    /// `session_expired`), not `unknown_api_key`.
    pub async fn put(&self, record: &StoredRecord) -> Result<(), StoreError> {
        let mut c = self.connection().await?;
        let key = record.lookup.store_key();
        let mut cmd = redis::cmd("SET");
        cmd.arg(&key).arg(&record.json);
        if let Some(at) = record.expires {
            cmd.arg("EXAT")
                .arg(at.saturating_add(EXPIRED_RECORDS_KEPT_SECS));
        }
        let _: () = self.timed("SET", cmd.query_async(&mut c)).await?;
        let _: i64 = self
            .timed("PUBLISH", c.publish(INVALIDATE_CHANNEL, &key))
            .await?;
        Ok(())
    }

    /// Follows `tollgate:invalidate` until the task is dropped, calling `invalidate` with each
    /// message (a store key, or `*`), and with `*` each time the subscription is (re)made, since
    /// messages may have been missed meanwhile. Reconnects with a backoff of 0.5 s doubling to 5 s.
    pub async fn follow_invalidations(self: Arc<Self>, invalidate: impl Fn(&str) + Send + Sync) {
        let mut backoff = Duration::from_millis(500);
        loop {
            match self.subscribe().await {
                Ok(mut messages) => {
                    invalidate("*");
                    tracing::info!(store = %self.url, channel = INVALIDATE_CHANNEL, "following invalidations");
                    backoff = Duration::from_millis(500);
                    while let Some(message) = messages.next().await {
                        match message.get_payload::<String>() {
                            Ok(key) => invalidate(&key),
                            Err(e) => {
                                tracing::warn!(error = %e, "an invalidation message is not text; ignored")
                            }
                        }
                    }
                    tracing::warn!(store = %self.url, "the invalidation subscription ended; reconnecting");
                }
                Err(e) => {
                    tracing::warn!(error = %e, retry_in = ?backoff, "cannot follow invalidations");
                }
            }
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(Duration::from_secs(5));
        }
    }

    async fn subscribe(&self) -> Result<redis::aio::PubSubStream, StoreError> {
        let mut pubsub = self
            .timed("SUBSCRIBE", self.client.get_async_pubsub())
            .await?;
        self.timed("SUBSCRIBE", pubsub.subscribe(INVALIDATE_CHANNEL))
            .await?;
        Ok(pubsub.into_on_message())
    }
}

/// Runs `f` to its end on a runtime of its own, on this thread: for one-off writes from a
/// program that is not async (the CLI). A store's connection belongs to the runtime that made
/// it, so do all of one store's operations inside one `block_on`.
pub fn block_on<F: core::future::Future>(f: F) -> Result<F::Output, StoreError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map(|rt| rt.block_on(f))
        .map_err(|e| StoreError(format!("cannot start a runtime: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_url_file_holds_one_url_and_errors_never_show_it() {
        let dir = std::env::temp_dir().join(format!("tollgate-url-file-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = |name: &str, text: &str| {
            let path = dir.join(name);
            std::fs::write(&path, text).unwrap();
            path
        };
        let good = file("good", "redis://:S3cret@127.0.0.1:6379/0\n");
        assert_eq!(
            url_from_file(&good).unwrap(),
            "redis://:S3cret@127.0.0.1:6379/0"
        );
        for (name, text) in [("empty", "\n"), ("two", "redis://a:1 redis://S3cret@b:2\n")] {
            let e = url_from_file(&file(name, text)).unwrap_err();
            assert!(
                e.contains("it must hold one URL") && !e.contains("S3cret"),
                "{e}"
            );
        }
        assert!(url_from_file(&dir.join("missing")).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn urls_are_checked_and_logged_without_their_password() {
        assert_eq!(
            redacted("redis://user:secret@10.0.0.1:6379/0"),
            "redis://…@10.0.0.1:6379/0"
        );
        assert_eq!(redacted("redis://127.0.0.1:6379"), "redis://127.0.0.1:6379");
        assert_eq!(
            redacted("redis+unix:///run/redis.sock?db=0&user=u&pass=S3cret"),
            "redis+unix:///run/redis.sock?…"
        );
        // User info and a query: where the password ends is not knowable, so nothing is shown.
        assert_eq!(redacted("redis://u:p@h:1/0?pass=a@b"), "redis://…");
        assert_eq!(redacted("redis://:pa?ss@host:6379"), "redis://…");
        assert_eq!(redacted("redis://:pa/ss@host:6379"), "redis://…@host:6379");
        assert_eq!(redacted("redis:user:pw@host"), "redis:…");
        let s = RedisStore::new("redis://:pw@127.0.0.1:1", Duration::from_millis(50)).unwrap();
        assert_eq!(s.url(), "redis://…@127.0.0.1:1");
        assert!(RedisStore::new("http://x", Duration::from_millis(50)).is_err());
        assert!(RedisStore::new("redis://127.0.0.1", Duration::ZERO).is_err());
    }
}
