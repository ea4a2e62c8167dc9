//! A load generator for `cargo xtask bench server`: `concurrency` simulated users, each holding
//! whole conversations with the demo project (stateless: the state goes back and forth;
//! stateful: a user id per conversation), until `duration` or `max-requests` runs out.
//! Prints one JSON object: requests, errors, requests/s and latency percentiles.
//!
//! `loadgen URL stateless|stateful|stream|long|hostile CONCURRENCY DURATION_SECS MAX_REQUESTS`
//!
//! `stream`: the stateful conversations through the legacy stream
//! (`/v2/project/pizza/user/{id}/interact/stream`, server-sent events); the report adds the
//! time to the first `trace` frame (`first_frame_p50_ms`, `…_p99_ms`) and the `trace` frames
//! received per second (`frames_per_second`); an answer that does not end with `event: end` is
//! an error.
//!
//! `long`: stateless conversations whose texts are 2 KB utterances (the default limit is 2,000
//! characters). `hostile`: the clients send long texts back to back, half of them at the
//! limit and half 240 KB (`"large "` 41,000 times, refused with 413), while one more client
//! asks `/health` every 10 ms; the report's percentiles are `/health`'s, and `hostile_turns`
//! counts the texts sent.
//!
//! Loopback only: it refuses any other address.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// A text of `chars` characters that still reads as an order.
fn long_text(chars: usize) -> String {
    let mut text = "I'd like a large pizza please ".repeat(chars / 30 + 1);
    text.truncate(chars);
    text
}

/// The demo conversation with every text made a 2 KB utterance.
fn long_conversation() -> Vec<Value> {
    conversation()
        .into_iter()
        .map(|mut request| {
            if request["type"] == "text" {
                request["payload"] = long_text(2000).into();
            }
            request
        })
        .collect()
}

/// One conversation with the demo: an order, a cancellation, a question.
fn conversation() -> Vec<Value> {
    vec![
        json!({ "type": "launch" }),
        json!({ "type": "text", "payload": "I'd like a large pizza please" }),
        json!({ "type": "text", "payload": "pepperoni" }),
        json!({ "type": "text", "payload": "2" }),
        json!({ "type": "path-summary-0", "payload": { "label": "Confirm" } }),
        json!({ "type": "text", "payload": "Dana" }),
        json!({ "type": "text", "payload": "dana@example.com" }),
        json!({ "type": "cancel" }),
        json!({ "type": "text", "payload": "when are you open?" }),
    ]
}

#[derive(Default)]
struct Tally {
    latencies_us: Vec<u32>,
    errors: u64,
    /// `stream`: the time to each answer's first `trace` frame, and the frames received.
    first_frame_us: Vec<u32>,
    frames: u64,
}

/// Reads a server-sent-events answer to its end: (time to the first `trace` frame, `trace`
/// frames, whether `event: end` closed it).
async fn read_stream(mut response: reqwest::Response, sent: Instant) -> (Option<u32>, u64, bool) {
    let mut text = String::new();
    let mut first = None;
    while let Ok(Some(chunk)) = response.chunk().await {
        text.push_str(&String::from_utf8_lossy(&chunk));
        if first.is_none() && text.contains("event: trace") {
            first = Some(u32::try_from(sent.elapsed().as_micros()).unwrap_or(u32::MAX));
        }
    }
    let frames = text.matches("event: trace").count() as u64;
    (first, frames, text.contains("event: end"))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [url, flavour, concurrency, duration, max_requests] = args.as_slice() else {
        return Err(
            "usage: loadgen URL stateless|stateful CONCURRENCY DURATION_SECS MAX_REQUESTS".into(),
        );
    };
    let parsed = url::Url::parse(url)?;
    let loopback = match parsed.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(name)) => name == "localhost",
        None => false,
    };
    if !loopback {
        return Err(format!("{url} is not a loopback address: load goes to loopback only").into());
    }
    let streamed = flavour == "stream";
    let (stateful, long) = match flavour.as_str() {
        "stateless" => (false, false),
        "stateful" | "stream" => (true, false),
        "long" => (false, true),
        "hostile" => (false, false),
        other => return Err(format!("unknown flavour {other}").into()),
    };
    let concurrency: usize = concurrency.parse()?;
    // reqwest is built without a TLS provider of its own; loopback HTTP needs none, but the
    // client wants one installed.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let deadline = Instant::now() + Duration::from_secs_f64(duration.parse()?);
    let budget = Arc::new(AtomicU64::new(max_requests.parse()?));
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency)
        .timeout(Duration::from_secs(30))
        .build()?;
    if flavour == "hostile" {
        return hostile(&client, url, concurrency, deadline).await;
    }
    let started = Instant::now();
    let mut users = Vec::new();
    for user in 0..concurrency {
        let (client, budget, url) = (client.clone(), budget.clone(), url.clone());
        users.push(tokio::spawn(async move {
            let mut tally = Tally::default();
            let mut round = 0u64;
            'conversations: loop {
                round += 1;
                // LOADGEN_USERS: a prefix of its own for each of several loadgens on one database.
                let prefix = std::env::var("LOADGEN_USERS").unwrap_or_else(|_| "load".into());
                let user_id = format!("{prefix}-{user}-{round}");
                let mut state: Option<Value> = None;
                let requests = if long {
                    long_conversation()
                } else {
                    conversation()
                };
                for request in requests {
                    if Instant::now() >= deadline
                        || budget
                            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |b| {
                                b.checked_sub(1)
                            })
                            .is_err()
                    {
                        break 'conversations;
                    }
                    let (endpoint, body) = if streamed {
                        (
                            format!("{url}/v2/project/pizza/user/{user_id}/interact/stream"),
                            json!({ "action": request }),
                        )
                    } else if stateful {
                        (
                            format!("{url}/state/user/{user_id}/interact"),
                            json!({ "action": request }),
                        )
                    } else {
                        let mut body = json!({ "request": request });
                        if let Some(state) = state.take() {
                            body["state"] = state;
                        }
                        (format!("{url}/interact"), body)
                    };
                    let sent = Instant::now();
                    let answer = client
                        .post(&endpoint)
                        .header("content-type", "application/json")
                        .body(body.to_string())
                        .send()
                        .await;
                    let ok = match answer {
                        Ok(response) if streamed && response.status().is_success() => {
                            let (first, frames, ended) = read_stream(response, sent).await;
                            tally.first_frame_us.extend(first);
                            tally.frames += frames;
                            ended && first.is_some()
                        }
                        Ok(response) if response.status().is_success() => {
                            let bytes = response.bytes().await.unwrap_or_default();
                            match serde_json::from_slice::<Value>(&bytes) {
                                Ok(mut value) => {
                                    if !stateful {
                                        state = value.get_mut("state").map(Value::take);
                                    }
                                    true
                                }
                                Err(_) => false,
                            }
                        }
                        Ok(_) | Err(_) => false,
                    };
                    let took = u32::try_from(sent.elapsed().as_micros()).unwrap_or(u32::MAX);
                    tally.latencies_us.push(took);
                    if !ok {
                        tally.errors += 1;
                        // A broken conversation starts over.
                        continue 'conversations;
                    }
                }
            }
            tally
        }));
    }
    let mut all = Tally::default();
    for user in users {
        let tally = user.await?;
        all.latencies_us.extend(tally.latencies_us);
        all.errors += tally.errors;
        all.first_frame_us.extend(tally.first_frame_us);
        all.frames += tally.frames;
    }
    report(flavour, concurrency, started, all, Value::Null);
    Ok(())
}

/// `/health` latency while `concurrency` clients send long texts back to back.
async fn hostile(
    client: &reqwest::Client,
    url: &str,
    concurrency: usize,
    deadline: Instant,
) -> Result<(), Box<dyn std::error::Error>> {
    let sent = Arc::new(AtomicU64::new(0));
    let mut senders = Vec::new();
    for n in 0..concurrency {
        let (client, url, sent) = (client.clone(), url.to_owned(), sent.clone());
        let text = if n % 2 == 0 {
            long_text(2000)
        } else {
            "large ".repeat(41_000)
        };
        let body = json!({ "request": { "type": "text", "payload": text } }).to_string();
        senders.push(tokio::spawn(async move {
            while Instant::now() < deadline {
                let answer = client
                    .post(format!("{url}/interact"))
                    .header("content-type", "application/json")
                    .body(body.clone())
                    .send()
                    .await;
                if let Ok(response) = answer {
                    let _ = response.bytes().await;
                }
                sent.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    let started = Instant::now();
    let mut tally = Tally::default();
    // A client of its own, as a load balancer's health check would be.
    let prober = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()?;
    while Instant::now() < deadline {
        let asked = Instant::now();
        let ok = matches!(
            prober.get(format!("{url}/health")).send().await,
            Ok(r) if r.status().is_success()
        );
        tally
            .latencies_us
            .push(u32::try_from(asked.elapsed().as_micros()).unwrap_or(u32::MAX));
        if !ok {
            tally.errors += 1;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    for sender in senders {
        sender.await?;
    }
    let turns = sent.load(Ordering::Relaxed);
    report("hostile", concurrency, started, tally, json!(turns));
    Ok(())
}

fn report(
    flavour: &str,
    concurrency: usize,
    started: Instant,
    mut all: Tally,
    hostile_turns: Value,
) {
    let elapsed = started.elapsed().as_secs_f64();
    all.latencies_us.sort_unstable();
    all.first_frame_us.sort_unstable();
    let of = |sorted: &[u32], p: f64| -> f64 {
        if sorted.is_empty() {
            return 0.0;
        }
        let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
        f64::from(sorted[index]) / 1000.0
    };
    let percentile = |p: f64| of(&all.latencies_us, p);
    let requests = all.latencies_us.len();
    // Only answered requests count towards the rate: errors never flatter a run.
    let answered = requests as u64 - all.errors;
    let mut report = json!({
        "flavour": flavour,
        "concurrency": concurrency,
        "requests": requests,
        "errors": all.errors,
        "seconds": elapsed,
        "requests_per_second": answered as f64 / elapsed,
        "p50_ms": percentile(0.50),
        "p99_ms": percentile(0.99),
        "max_ms": percentile(1.0),
        "hostile_turns": hostile_turns,
    });
    if !all.first_frame_us.is_empty() {
        report["first_frame_p50_ms"] = of(&all.first_frame_us, 0.50).into();
        report["first_frame_p99_ms"] = of(&all.first_frame_us, 0.99).into();
        report["frames_per_second"] = (all.frames as f64 / elapsed).into();
    }
    #[allow(clippy::print_stdout, reason = "the report is the output")]
    {
        println!("{report}");
    }
}
