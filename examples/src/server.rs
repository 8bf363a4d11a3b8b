//! The axum glue: routes, request conversion, and serving with graceful shutdown.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use audit_core::api::{ApiBody, ApiRequest, ApiResponse};
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, DefaultBodyLimit, Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use futures_util::StreamExt as _;

use crate::{App, Caller};

/// The routes of the example server.
pub fn router(app: Arc<App>, max_ingest_bytes: usize) -> Router {
    Router::new()
        .route("/auth", post(login))
        .route("/audit", get(privacyidea))
        .route("/audit/", get(privacyidea))
        .route("/audit/{file}", get(privacyidea))
        .route("/vault_rest/audit/export", get(vault))
        .route("/vault_rest/audit/{start}/{count}", get(vault))
        .route("/events", post(ingest))
        .route("/healthz", get(|| async { "ok" }))
        .route("/", get(viewer))
        .route("/index.html", get(viewer))
        .route("/viewer.js", get(viewer))
        .route("/viewer.css", get(viewer))
        .layer(DefaultBodyLimit::max(max_ingest_bytes))
        .with_state(app)
}

fn api_request(request: &Request) -> ApiRequest {
    to_api(request.method(), request.uri(), request.headers())
}

fn to_api(method: &Method, uri: &Uri, headers: &HeaderMap) -> ApiRequest {
    ApiRequest {
        method: method.as_str().to_owned(),
        path: uri.path().to_owned(),
        query: uri.query().map(str::to_owned),
        headers: headers
            .iter()
            .map(|(name, value)| (name.as_str().to_owned(), value.as_bytes().to_vec()))
            .collect(),
    }
}

fn caller(address: SocketAddr, request: &ApiRequest) -> Caller {
    Caller {
        address: address.ip().to_string(),
        user_agent: request
            .header_bytes("user-agent")
            .and_then(|v| std::str::from_utf8(v).ok())
            .unwrap_or_default()
            .chars()
            .take(200)
            .collect(),
    }
}

fn into_response(api: ApiResponse) -> Response {
    let status = StatusCode::from_u16(api.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let body = match api.body {
        ApiBody::Bytes(bytes) => Body::from(bytes),
        ApiBody::Stream(stream) => Body::from_stream(stream.map(|chunk| chunk.map(Bytes::from))),
    };
    let mut response = (status, body).into_response();
    for (name, value) in api.headers {
        if let (Ok(name), Ok(value)) = (HeaderName::try_from(name), HeaderValue::try_from(value)) {
            response.headers_mut().insert(name, value);
        }
    }
    response
}

// The body extractor honours DefaultBodyLimit and answers 413 above it.
async fn login(
    State(app): State<Arc<App>>,
    ConnectInfo(address): ConnectInfo<SocketAddr>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let api = to_api(&method, &uri, &headers);
    let who = caller(address, &api);
    into_response(app.login(&api, &body, &who).await)
}

async fn viewer(uri: Uri) -> Response {
    crate::viewer::asset(uri.path())
        .map_or_else(|| StatusCode::NOT_FOUND.into_response(), into_response)
}

async fn privacyidea(
    State(app): State<Arc<App>>,
    ConnectInfo(address): ConnectInfo<SocketAddr>,
    request: Request,
) -> Response {
    let api = api_request(&request);
    let who = caller(address, &api);
    into_response(app.privacyidea(&api, &who).await)
}

async fn vault(
    State(app): State<Arc<App>>,
    ConnectInfo(address): ConnectInfo<SocketAddr>,
    request: Request,
) -> Response {
    let api = api_request(&request);
    let who = caller(address, &api);
    into_response(app.vault(&api, &who).await)
}

async fn ingest(
    State(app): State<Arc<App>>,
    ConnectInfo(address): ConnectInfo<SocketAddr>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let api = to_api(&method, &uri, &headers);
    let who = caller(address, &api);
    into_response(app.ingest(&api, &body, &who).await)
}

/// Serves `app` on `listener` until `shutdown` completes, then finishes the requests in flight
/// and writes every queued self-audit entry.
pub async fn serve(
    listener: tokio::net::TcpListener,
    app: Arc<App>,
    max_ingest_bytes: usize,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let routes =
        router(app.clone(), max_ingest_bytes).into_make_service_with_connect_info::<SocketAddr>();
    axum::serve(listener, routes)
        .with_graceful_shutdown(shutdown)
        .await?;
    app.shutdown().await.map_err(std::io::Error::other)
}
