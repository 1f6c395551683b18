//! pingora-floor: the least a Pingora proxy does per request, run the way pylon-proxy runs
//! Pingora (one server, the same allocator, no downstream modules), to tell Pingora's own cost
//! per request from Pylon's. Two modes:
//!
//! - `--upstream HOST:PORT`: a plain reverse proxy to one upstream over Pingora's pooled
//!   keep-alive connections (`upstream_peer` and nothing else): Pingora's floor for a relayed
//!   request.
//! - `--local-answer`: answers every request itself with a fixed ~1 KB JSON body from
//!   `request_filter`, no upstream: the downstream half alone (read a request, write an answer).
//!
//! `benches/profile.sh --system floor|local` runs it in the profile's setup. Each `--route` or
//! `--local` is a listener of its own (one process, one set of threads), as nginx's one listener
//! per mock in pylon-compare.
//!
//!   pingora-floor --route 127.0.0.1:8080=127.0.0.1:9000 [--local 127.0.0.1:8081] [--threads 1]

use async_trait::async_trait;
use bytes::Bytes;
use pingora::http::ResponseHeader;
use pingora::prelude::{HttpPeer, ProxyHttp, Result, Session};
use pingora::server::Server;
use pingora::server::configuration::ServerConf;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// A chat completion's size and shape, for the local answer.
const LOCAL_ANSWER: &str = concat!(
    r#"{"id":"chatcmpl-floor","object":"chat.completion","created":1700000000,"model":"bench-json","#,
    r#""choices":[{"index":0,"message":{"role":"assistant","content":"#,
    r#""Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt ut labore et dolore magna aliqua. Ut enim ad minim veniam, quis nostrud exercitation ullamco laboris nisi ut aliquip ex ea commodo consequat. Duis aute irure dolor in reprehenderit in voluptate velit esse cillum dolore eu fugiat nulla pariatur. Excepteur sint occaecat cupidatat non proident, sunt in culpa qui officia deserunt mollit anim id est laborum. Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt ut labore et dolore magna aliqua. Ut enim ad minim veniam, quis nostrud exercitation ullamco laboris nisi ut aliquip ex ea commodo consequat. Duis aute irure dolor in reprehenderit in voluptate velit esse cillum dolore eu fugiat nulla pariatur.""#,
    r#"},"finish_reason":"stop"}],"usage":{"prompt_tokens":12,"completion_tokens":150,"total_tokens":162}}"#
);

/// What the floor does with a request.
enum Mode {
    Upstream(String),
    LocalAnswer,
}

struct Floor {
    mode: Mode,
}

#[async_trait]
impl ProxyHttp for Floor {
    type CTX = ();

    fn new_ctx(&self) -> Self::CTX {}

    fn init_downstream_modules(&self, _modules: &mut pingora::modules::http::HttpModules) {}

    async fn request_filter(&self, session: &mut Session, _ctx: &mut ()) -> Result<bool> {
        let Mode::LocalAnswer = self.mode else {
            return Ok(false);
        };
        // Drain the request body so the connection can be reused.
        while session.read_request_body().await?.is_some() {}
        let mut header = ResponseHeader::build(200, Some(2))?;
        header.insert_header("content-type", "application/json")?;
        header.insert_header("content-length", LOCAL_ANSWER.len().to_string())?;
        session
            .write_response_header(Box::new(header), false)
            .await?;
        session
            .write_response_body(Some(Bytes::from_static(LOCAL_ANSWER.as_bytes())), true)
            .await?;
        Ok(true)
    }

    async fn upstream_peer(&self, _session: &mut Session, _ctx: &mut ()) -> Result<Box<HttpPeer>> {
        let Mode::Upstream(address) = &self.mode else {
            unreachable!("a local answer never reaches upstream_peer");
        };
        Ok(Box::new(HttpPeer::new(
            address.as_str(),
            false,
            String::new(),
        )))
    }
}

/// The listeners and threads asked for on the command line.
struct Args {
    listeners: Vec<(String, Mode)>,
    threads: usize,
}

const USAGE: &str =
    "usage: pingora-floor (--route LISTEN=UPSTREAM | --local LISTEN)... [--threads N]";

fn parse(mut args: impl Iterator<Item = String>) -> Result<Args, String> {
    let mut parsed = Args {
        listeners: Vec::new(),
        threads: 1,
    };
    while let Some(flag) = args.next() {
        let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--route" => {
                let (listen, upstream) = value
                    .split_once('=')
                    .ok_or_else(|| format!("--route {value}: expected LISTEN=UPSTREAM"))?;
                parsed
                    .listeners
                    .push((listen.to_string(), Mode::Upstream(upstream.to_string())));
            }
            "--local" => parsed.listeners.push((value, Mode::LocalAnswer)),
            "--threads" => {
                parsed.threads = value
                    .parse()
                    .map_err(|_| format!("--threads {value}: not a number"))?;
            }
            _ => return Err(format!("unknown argument {flag}")),
        }
    }
    if parsed.listeners.is_empty() {
        return Err("give at least one --route or --local".into());
    }
    Ok(parsed)
}

fn main() {
    let args = match parse(std::env::args().skip(1)) {
        Ok(args) => args,
        Err(error) => {
            eprintln!("pingora-floor: {error}\n{USAGE}");
            std::process::exit(2);
        }
    };
    let conf = ServerConf {
        threads: args.threads,
        // A benchmark tool: stop at once on SIGTERM.
        grace_period_seconds: Some(0),
        graceful_shutdown_timeout_seconds: Some(1),
        ..ServerConf::default()
    };
    let mut server = Server::new_with_opt_and_conf(None, conf);
    server.bootstrap();
    for (listen, mode) in args.listeners {
        let mut proxy = pingora::proxy::http_proxy_service(&server.configuration, Floor { mode });
        proxy.add_tcp(&listen);
        server.add_service(proxy);
        eprintln!("pingora-floor listening on {listen}");
    }
    server.run_forever();
}

#[cfg(test)]
mod tests {
    use super::{Mode, parse};

    fn args(line: &str) -> impl Iterator<Item = String> {
        line.split_whitespace()
            .map(String::from)
            .collect::<Vec<_>>()
            .into_iter()
    }

    #[test]
    fn every_route_and_local_answer_is_a_listener_of_its_own() {
        let parsed = parse(args(
            "--route 127.0.0.1:1=127.0.0.1:2 --local 127.0.0.1:3 --threads 2",
        ))
        .unwrap();
        assert_eq!(parsed.threads, 2);
        assert_eq!(parsed.listeners.len(), 2);
        assert!(
            matches!(&parsed.listeners[0], (listen, Mode::Upstream(to)) if listen == "127.0.0.1:1" && to == "127.0.0.1:2")
        );
        assert!(
            matches!(&parsed.listeners[1], (listen, Mode::LocalAnswer) if listen == "127.0.0.1:3")
        );
    }

    #[test]
    fn a_route_without_its_upstream_or_no_listener_at_all_is_refused() {
        assert!(parse(args("--route 127.0.0.1:1")).is_err());
        assert!(parse(args("--threads 1")).is_err());
        assert!(parse(args("--threads")).is_err());
        assert!(parse(args("--listen 127.0.0.1:1")).is_err());
    }
}
