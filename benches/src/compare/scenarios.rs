//! The scenarios, each one function over a running system: the maximum-rate search, the fixed
//! rate, paced streams, held streams, 1 MiB bodies, overload and recovery, and retries. Every
//! run is bounded in time and count (the load client's duration, request cap and timeout).

use super::load::{self, LoadSpec, Measured};
use super::options::Plan;
use super::pylon;
use super::results::{Conversion, LongStreams, MaxThroughput, Overload, Retries};
use super::sut::Sut;
use super::upstreams::Upstream;
use anyhow::bail;
use std::path::Path;
use std::time::Duration;

/// Request body of the small-JSON scenario.
const SMALL_BODY_BYTES: usize = 200;
/// Request body of the large-body scenario.
const BIG_BODY_BYTES: usize = 1024 * 1024;
/// Stop the search once this many qualifying steps in a row did not add 3% or more.
const PLATEAU_STEPS: usize = 2;

/// What every scenario needs.
pub struct Ctx<'a> {
    /// The load client.
    pub load_bin: &'a Path,
    /// Logs and configs.
    pub run_dir: &'a Path,
    /// Durations and sizes.
    pub plan: &'a Plan,
}

impl Ctx<'_> {
    async fn load(&self, sut: &mut Sut, spec: &LoadSpec) -> anyhow::Result<Measured> {
        let measured = load::run(self.load_bin, self.run_dir, spec, sut.tree).await?;
        sut.check_running()?;
        Ok(measured)
    }
}

/// A small-JSON request spec for `sut`.
fn small(sut: &Sut, spec: LoadSpec) -> LoadSpec {
    LoadSpec {
        key: sut.key.clone(),
        body_bytes: Some(SMALL_BODY_BYTES),
        ..spec
    }
}

/// The highest closed-loop rate with p99 under the bound and no errors.
pub async fn max_throughput(ctx: &Ctx<'_>, sut: &mut Sut) -> anyhow::Result<MaxThroughput> {
    let url = sut.url(Upstream::Json);
    let model = Upstream::Json.model();
    // Warm-up: connections, caches, allocator.
    let warmup = small(sut, LoadSpec::closed(&url, model, 8, 1.0));
    let warm = ctx.load(sut, &warmup).await?;
    if warm.report.ok == 0 {
        bail!(
            "no request succeeded during warm-up: {:?}",
            warm.report.error_kinds
        );
    }
    let mut best: Option<(usize, Measured)> = None;
    let mut best_any: Option<(usize, Measured)> = None;
    let mut steps = Vec::new();
    let mut flat = 0;
    for &concurrency in &ctx.plan.concurrency_steps {
        let spec = small(
            sut,
            LoadSpec::closed(&url, model, concurrency, ctx.plan.step_s),
        );
        let measured = ctx.load(sut, &spec).await?;
        let r = &measured.report;
        steps.push((concurrency, r.rps, r.latency_us.p99, r.errors));
        let clean = r.errors == 0 && r.ok > 0;
        if clean && best_any.as_ref().is_none_or(|(_, b)| r.rps > b.report.rps) {
            best_any = Some((concurrency, measured.clone()));
        }
        if !clean || r.latency_us.p99 >= ctx.plan.p99_bound_us {
            break;
        }
        let improved = best
            .as_ref()
            .is_none_or(|(_, b)| r.rps > b.report.rps * 1.03);
        if best.as_ref().is_none_or(|(_, b)| r.rps > b.report.rps) {
            best = Some((concurrency, measured));
        }
        flat = if improved { 0 } else { flat + 1 };
        if flat >= PLATEAU_STEPS {
            break;
        }
    }
    let (within_bound, (concurrency, best)) = match (best, best_any) {
        (Some(b), _) => (true, b),
        (None, Some(b)) => (false, b),
        (None, None) => bail!("no step finished without errors: {steps:?}"),
    };
    Ok(MaxThroughput {
        rps: best.report.rps,
        concurrency,
        within_bound,
        best,
        steps,
    })
}

/// Small JSON, open loop at `rate`.
pub async fn fixed_rate(ctx: &Ctx<'_>, sut: &mut Sut, rate: f64) -> anyhow::Result<Measured> {
    let url = sut.url(Upstream::Json);
    let mut spec = small(
        sut,
        LoadSpec::open(&url, Upstream::Json.model(), rate, ctx.plan.fixed_s),
    );
    spec.timeout_ms = 5_000;
    ctx.load(sut, &spec).await
}

/// Anthropic clients (`POST /v1/messages`) on the OpenAI channel: the fixed-rate run and the
/// first stream run again in Anthropic's format, so that the report can set each beside its
/// OpenAI twin on the same system.
pub async fn conversion(ctx: &Ctx<'_>, sut: &mut Sut, rate: f64) -> anyhow::Result<Conversion> {
    let messages = |upstream: Upstream| {
        sut.url(upstream)
            .replace("/v1/chat/completions", "/v1/messages")
    };
    let (json_url, stream_url) = (messages(Upstream::Json), messages(Upstream::Stream));
    let mut spec = small(
        sut,
        LoadSpec::open(&json_url, Upstream::Json.model(), rate, ctx.plan.fixed_s),
    );
    spec.anthropic = true;
    spec.timeout_ms = 5_000;
    let json = ctx.load(sut, &spec).await?;
    let stream = match ctx.plan.stream_concurrency.first() {
        Some(&concurrency) => {
            let mut spec = small(
                sut,
                LoadSpec::closed(
                    &stream_url,
                    Upstream::Stream.model(),
                    concurrency,
                    ctx.plan.stream_s,
                ),
            );
            spec.anthropic = true;
            spec.stream = true;
            spec.timeout_ms = 60_000;
            Some((concurrency, ctx.load(sut, &spec).await?))
        }
        None => None,
    };
    Ok(Conversion { json, stream })
}

/// Paced streams, `concurrency` at a time.
pub async fn streams(ctx: &Ctx<'_>, sut: &mut Sut, concurrency: usize) -> anyhow::Result<Measured> {
    let url = sut.url(Upstream::Stream);
    let mut spec = small(
        sut,
        LoadSpec::closed(
            &url,
            Upstream::Stream.model(),
            concurrency,
            ctx.plan.stream_s,
        ),
    );
    spec.stream = true;
    spec.timeout_ms = 60_000;
    ctx.load(sut, &spec).await
}

/// `count` slow streams opened at once and held to the end.
pub async fn long_streams(
    ctx: &Ctx<'_>,
    sut: &mut Sut,
    count: usize,
) -> anyhow::Result<LongStreams> {
    let url = sut.url(Upstream::Long);
    let length = ctx.plan.long_stream_s();
    let mut spec = small(
        sut,
        LoadSpec::closed(&url, Upstream::Long.model(), count, length + 20.0),
    );
    spec.stream = true;
    spec.max_requests = Some(count as u64);
    spec.timeout_ms = ((length + 30.0) * 1000.0) as u64;
    let run = ctx.load(sut, &spec).await?;
    Ok(LongStreams {
        streams: count,
        rss_before_kib: run.rss_before_kib.unwrap_or(0),
        rss_open_kib: run.peak_rss_kib.unwrap_or(0),
        run,
    })
}

/// 1 MiB request bodies.
pub async fn big_bodies(ctx: &Ctx<'_>, sut: &mut Sut) -> anyhow::Result<Measured> {
    let url = sut.url(Upstream::Json);
    let mut spec = LoadSpec::closed(
        &url,
        Upstream::Json.model(),
        ctx.plan.big_concurrency,
        ctx.plan.big_s,
    );
    spec.key = sut.key.clone();
    spec.body_bytes = Some(BIG_BODY_BYTES);
    spec.timeout_ms = 30_000;
    ctx.load(sut, &spec).await
}

/// Twice the maximum rate (open loop), then the best concurrency again. The offered rate is
/// capped at `client_cap` (what the load client and mock surely drive on their core: an open
/// loop past it collapses the client itself), so that the overload lands on the system under
/// test rather than on the client.
pub async fn overload(
    ctx: &Ctx<'_>,
    sut: &mut Sut,
    max: &MaxThroughput,
    client_cap: Option<f64>,
) -> anyhow::Result<Overload> {
    let url = sut.url(Upstream::Json);
    let model = Upstream::Json.model();
    let offered = client_cap.map_or(2.0 * max.rps, |cap| cap.min(2.0 * max.rps));
    let mut spec = small(
        sut,
        LoadSpec::open(&url, model, offered, ctx.plan.overload_s),
    );
    spec.timeout_ms = 2_000;
    let run = ctx.load(sut, &spec).await?;
    // Let queued work drain before checking the rate came back.
    let drain = if ctx.plan.quick { 1 } else { 2 };
    tokio::time::sleep(Duration::from_secs(drain)).await;
    let recovery_spec = small(
        sut,
        LoadSpec::closed(&url, model, max.concurrency, ctx.plan.recovery_s),
    );
    let recovery = ctx.load(sut, &recovery_spec).await?;
    Ok(Overload {
        offered_rps: offered,
        run,
        recovery,
        max_rps: max.rps,
    })
}

/// Pylon only: the retry model, whose first channel answers 500.
pub async fn retries(ctx: &Ctx<'_>, sut: &mut Sut) -> anyhow::Result<Retries> {
    let Some(model) = sut.retry_model.clone() else {
        bail!("n/a");
    };
    let url = sut.url(Upstream::Json);
    let metrics = sut.metrics_url.clone();
    let before = match &metrics {
        Some(m) => pylon::retries_total(m).await,
        None => None,
    };
    let spec = small(
        sut,
        LoadSpec::closed(&url, &model, ctx.plan.retry_concurrency, ctx.plan.retry_s),
    );
    let run = ctx.load(sut, &spec).await?;
    let after = match &metrics {
        Some(m) => pylon::retries_total(m).await,
        None => None,
    };
    Ok(Retries {
        run,
        retries: before.zip(after).map(|(b, a)| a - b),
    })
}
