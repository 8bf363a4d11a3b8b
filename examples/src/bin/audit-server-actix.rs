//! The same audit server on actix-web: only the routing glue differs from `audit-server`,
//! which shows the dialects are free of any web framework.

// actix-web runs each worker on one thread and its HttpRequest is not Send by design; the
// handlers' futures never move between threads.
#![allow(clippy::future_not_send)]

use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::web::{Bytes, Data, PayloadConfig};
use actix_web::{App as ActixApp, HttpRequest, HttpResponse, HttpServer, web};
use audit_core::api::{ApiBody, ApiRequest, ApiResponse};
use audit_examples::config::Config;
use audit_examples::{App, Caller, startup};
use futures_util::StreamExt as _;

fn api_request(request: &HttpRequest) -> ApiRequest {
    ApiRequest {
        method: request.method().as_str().to_owned(),
        path: request.uri().path().to_owned(),
        query: request.uri().query().map(str::to_owned),
        headers: request
            .headers()
            .iter()
            .map(|(name, value)| (name.as_str().to_owned(), value.as_bytes().to_vec()))
            .collect(),
    }
}

fn caller(request: &HttpRequest) -> Caller {
    Caller {
        address: request
            .peer_addr()
            .map(|a| a.ip().to_string())
            .unwrap_or_default(),
        user_agent: request
            .headers()
            .get("user-agent")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .chars()
            .take(200)
            .collect(),
    }
}

fn respond(api: ApiResponse) -> HttpResponse {
    let mut response = HttpResponse::build(
        StatusCode::from_u16(api.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
    );
    for (name, value) in &api.headers {
        response.insert_header((name.as_str(), value.as_str()));
    }
    match api.body {
        ApiBody::Bytes(bytes) => response.body(bytes),
        ApiBody::Stream(stream) => response.streaming(stream.map(|chunk| chunk.map(Bytes::from))),
    }
}

async fn login(app: Data<App>, request: HttpRequest, body: Bytes) -> HttpResponse {
    respond(
        app.login(&api_request(&request), &body, &caller(&request))
            .await,
    )
}

async fn privacyidea(app: Data<App>, request: HttpRequest) -> HttpResponse {
    respond(
        app.privacyidea(&api_request(&request), &caller(&request))
            .await,
    )
}

async fn vault(app: Data<App>, request: HttpRequest) -> HttpResponse {
    respond(app.vault(&api_request(&request), &caller(&request)).await)
}

async fn ingest(app: Data<App>, request: HttpRequest, body: Bytes) -> HttpResponse {
    respond(
        app.ingest(&api_request(&request), &body, &caller(&request))
            .await,
    )
}

async fn viewer(request: HttpRequest) -> HttpResponse {
    audit_examples::viewer::asset(request.path())
        .map_or_else(|| HttpResponse::NotFound().finish(), respond)
}

async fn run(config: Config) -> Result<(), String> {
    let started = startup::prepare(&config).await?;
    let app: Data<App> = Data::from(Arc::clone(&started.app));
    let limit = config.max_ingest_bytes;
    let server = HttpServer::new(move || {
        ActixApp::new()
            .app_data(app.clone())
            .app_data(PayloadConfig::new(limit))
            .route("/auth", web::post().to(login))
            .route("/audit", web::get().to(privacyidea))
            .route("/audit/", web::get().to(privacyidea))
            .route("/audit/{file}", web::get().to(privacyidea))
            .route("/vault_rest/audit/export", web::get().to(vault))
            .route("/vault_rest/audit/{start}/{count}", web::get().to(vault))
            .route("/events", web::post().to(ingest))
            .route("/healthz", web::get().to(|| async { "ok" }))
            .route("/", web::get().to(viewer))
            .route("/index.html", web::get().to(viewer))
            .route("/viewer.js", web::get().to(viewer))
            .route("/viewer.css", web::get().to(viewer))
    })
    .workers(2)
    .bind(config.listen)
    .map_err(|e| format!("cannot listen on {}: {e}", config.listen))?;
    let address = server
        .addrs()
        .first()
        .copied()
        .ok_or("the server has no address")?;
    startup::announce(address, &started);
    // actix-web stops gracefully on SIGTERM and Ctrl-C by itself.
    server
        .run()
        .await
        .map_err(|e| format!("the server failed: {e}"))?;
    started
        .app
        .shutdown()
        .await
        .map_err(|e| format!("writing queued entries failed: {e}"))?;
    Ok(())
}

#[actix_web::main]
async fn main() {
    startup::finish(run(startup::config_or_exit()).await);
}
