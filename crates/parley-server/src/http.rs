//! The API calls of `api_call` blocks, made for the engine (which does no IO).
//!
//! Guards: a timeout per call (the block's, at most 60 s), a response size limit, no redirects
//! (a redirect could lead anywhere), `http`/`https` only, and no private, loopback, link-local
//! or otherwise internal address unless the project allows it (`settings.allowPrivateNetwork`):
//! names are resolved by a resolver that drops such addresses, so a DNS answer cannot point a
//! project's call at the server's own network either.

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Once};
use std::time::Duration;

use parley_engine::{ApiResult, HttpRequest};
use reqwest::dns::{Addrs, Name, Resolve, Resolving};

/// The largest response body a call reads.
pub const MAX_RESPONSE_BYTES: usize = 1024 * 1024;

/// Makes API calls for one policy (private network allowed or not).
#[derive(Debug, Clone)]
pub struct ApiCaller {
    client: reqwest::Client,
    allow_private: bool,
}

static CRYPTO: Once = Once::new();

impl ApiCaller {
    pub fn new(allow_private: bool) -> Result<ApiCaller, String> {
        CRYPTO.call_once(|| {
            // Fails only if another provider was installed first, which is fine.
            let _ = rustls::crypto::ring::default_provider().install_default();
        });
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .user_agent(concat!("parley/", env!("CARGO_PKG_VERSION")))
            .dns_resolver(Arc::new(GuardedResolver { allow_private }))
            .build()
            .map_err(|e| e.to_string())?;
        Ok(ApiCaller {
            client,
            allow_private,
        })
    }

    /// Performs the call; every failure is an [`ApiResult::Failed`] with the reason.
    pub async fn call(&self, request: &HttpRequest) -> ApiResult {
        match self.try_call(request).await {
            Ok(result) => result,
            Err(reason) => ApiResult::Failed { reason },
        }
    }

    async fn try_call(&self, request: &HttpRequest) -> Result<ApiResult, String> {
        let url = reqwest::Url::parse(&request.url).map_err(|e| format!("bad URL: {e}"))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(format!("the scheme `{}` is not allowed", url.scheme()));
        }
        // Literal addresses never reach the resolver: check them here.
        let literal = match url.host() {
            Some(url::Host::Ipv4(ip)) => Some(IpAddr::V4(ip)),
            Some(url::Host::Ipv6(ip)) => Some(IpAddr::V6(ip)),
            _ => None,
        };
        if let Some(ip) = literal
            && !self.allow_private
            && is_internal(ip)
        {
            return Err(format!(
                "{ip} is a private address, and this project may not call it"
            ));
        }
        let method = reqwest::Method::from_bytes(request.method.as_bytes())
            .map_err(|_| format!("bad method {}", request.method))?;
        let mut builder = self
            .client
            .request(method, url)
            .timeout(Duration::from_millis(u64::from(
                request.timeout_ms.clamp(1, 60_000),
            )));
        for (name, value) in &request.headers {
            builder = builder.header(name, value);
        }
        if let Some(body) = &request.body {
            builder = builder.body(body.clone());
        }
        let mut response = builder.send().await.map_err(describe)?;
        let status = response.status().as_u16();
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(describe)? {
            if body.len() + chunk.len() > MAX_RESPONSE_BYTES {
                return Err(format!(
                    "the response is larger than {MAX_RESPONSE_BYTES} bytes"
                ));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(ApiResult::Response {
            status,
            body: String::from_utf8_lossy(&body).into_owned(),
        })
    }
}

fn describe(e: reqwest::Error) -> String {
    if e.is_timeout() {
        "the API did not answer in time".to_owned()
    } else if e.is_connect() {
        let mut source: Option<&dyn std::error::Error> = Some(&e);
        while let Some(s) = source {
            if s.to_string().contains("private address") {
                return s.to_string();
            }
            source = s.source();
        }
        "could not connect to the API".to_owned()
    } else {
        format!("the API call failed: {e}")
    }
}

/// Resolves names with the system resolver and drops internal addresses.
#[derive(Debug)]
struct GuardedResolver {
    allow_private: bool,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let allow_private = self.allow_private;
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let found: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await?
                .filter(|a| allow_private || !is_internal(a.ip()))
                .collect();
            if found.is_empty() {
                return Err(format!(
                    "{host} resolves only to private addresses (or to none), and this project may not call them"
                )
                .into());
            }
            let addrs: Addrs = Box::new(found.into_iter());
            Ok(addrs)
        })
    }
}

/// Loopback, private, link-local, carrier-grade NAT, unspecified, broadcast, multicast,
/// documentation and unique-local addresses: nothing a public API lives at.
pub fn is_internal(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            v4.is_private()
                || v4.is_loopback()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || v4.is_documentation()
                || a == 0
                || (a == 100 && (64..128).contains(&b))
                || (a == 198 && (b == 18 || b == 19))
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_internal(IpAddr::V4(v4));
            }
            let first = v6.segments()[0];
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80
                || first == 0x2001 && v6.segments()[1] == 0x0db8
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_addresses() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "::1",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "224.0.0.1",
        ] {
            assert!(is_internal(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["93.184.216.34", "1.1.1.1", "2606:4700::1111"] {
            assert!(!is_internal(ip.parse().unwrap()), "{ip}");
        }
    }
}
