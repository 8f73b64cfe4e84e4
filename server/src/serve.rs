//! Starting and stopping the server.

use std::future::Future;
use std::sync::Arc;

use anyhow::Context;
use scimd_schemas::schema::{Registry, ResourceKind};
use tokio::net::TcpListener;

use crate::config::Config;
use crate::http::{AppState, Shared, app};
use crate::scim::CursorCodec;
use crate::store::Store;

/// The built-in schemas plus the custom extensions the configuration declares.
pub fn registry(config: &Config) -> anyhow::Result<Registry> {
    let mut registry = Registry::builtin();
    for (i, extension) in config.scim.extensions.iter().enumerate() {
        let key = format!("scim.extensions[{i}]");
        let kind = match extension.resource.to_ascii_lowercase().as_str() {
            "user" => ResourceKind::User,
            "group" => ResourceKind::Group,
            other => anyhow::bail!("{key}.resource: {other:?} is not a resource type (use \"User\" or \"Group\")"),
        };
        let json = std::fs::read_to_string(&extension.file)
            .with_context(|| format!("{key}.file: cannot read {}", extension.file.display()))?;
        registry
            .add_extension(kind, &json)
            .with_context(|| format!("{key}.file: {} is not a usable schema", extension.file.display()))?;
    }
    Ok(registry)
}

/// Opens the store and builds the application state.
pub async fn state(config: Config) -> anyhow::Result<AppState> {
    let registry = registry(&config)?;
    let store = Store::open(&config.database_url)
        .await
        .with_context(|| format!("cannot open database {}", config.database_url.redacted()))?;
    let tokens = crate::http::TokenCache::new(config.auth.token_cache_seconds);
    let rate_limit = Arc::new(crate::http::RateLimit::new(&config.auth));
    let cursor_key = store.cursor_key().await.context("cannot read or create the cursor key")?;
    let cursors = Arc::new(CursorCodec::new(cursor_key, config.scim.cursor_timeout_seconds));
    let bulk_slots = Arc::new(tokio::sync::Semaphore::new(config.scim.bulk.max_concurrent.max(1)));
    let config = Arc::new(config);
    let registry = Arc::new(registry);
    let jobs = crate::sync::Jobs {
        store: store.clone(),
        registry: registry.clone(),
        config: config.clone(),
        queued: Arc::default(),
    };
    Ok(AppState::new(Shared { store, registry, config, tokens, rate_limit, cursors, bulk_slots, jobs }))
}

/// Serves on an already bound listener until `shutdown` completes, then drains in-flight requests.
pub async fn serve_on(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let store = state.store.clone();
    let revocations = crate::http::follow_revocations(store.clone(), state.tokens.clone())
        .await
        .context("cannot listen for token revocations")?;
    let worker = tokio::spawn(crate::sync::worker::run(state.jobs.clone()));
    let scheduler = tokio::spawn(crate::sync::schedule::run(state.jobs.clone()));
    axum::serve(listener, app(state)).with_graceful_shutdown(shutdown).await?;
    // A job still running stops here; its lease expires and the next start marks it interrupted.
    worker.abort();
    scheduler.abort();
    // The listener holds a pooled connection, which `close` would wait for.
    revocations.abort();
    let _ = revocations.await;
    store.close().await;
    Ok(())
}

pub async fn run(config: Config) -> anyhow::Result<()> {
    let listen = config.server.listen;
    let database = config.database_url.redacted();
    let state = state(config).await?;
    let listener = TcpListener::bind(listen).await.with_context(|| format!("cannot listen on {listen}"))?;
    tracing::info!(address = %listener.local_addr()?, database, "scimd listening; SCIM base URL is /scim/v2");
    if cfg!(feature = "bench-without-audit") {
        tracing::warn!("this build writes no audit events (feature bench-without-audit): for benchmarks only");
    }
    serve_on(listener, state, shutdown_signal()).await?;
    tracing::info!("scimd stopped");
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutdown signal received; finishing in-flight requests");
}
