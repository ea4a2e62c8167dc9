//! The API calls of `api_call` blocks, made for the engine (which does no IO).
//!
//! Guards: a timeout per call (the block's, at most 60 s), a response size limit, no redirects
//! (a redirect could lead anywhere), `http`/`https` only, and no private, loopback, link-local
//! or otherwise internal address unless the project allows it (`settings.allowPrivateNetwork`):
//! names are resolved by a resolver that drops such addresses, so a DNS answer cannot point a
//! project's call at the server's own network either. "Internal" is everything that is not
//! globally routable ([`is_internal`]), including the IPv6 forms that carry an IPv4 address.

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

/// Installs rustls's crypto provider (ring) once, before any client is built.
pub(crate) fn ensure_crypto() {
    CRYPTO.call_once(|| {
        // Fails only if another provider was installed first, which is fine.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

impl ApiCaller {
    pub fn new(allow_private: bool) -> Result<ApiCaller, String> {
        Self::with_lookup(allow_private, Arc::new(SystemLookup))
    }

    /// A caller whose names are resolved by `lookup` (tests answer names without any DNS).
    pub fn with_lookup(allow_private: bool, lookup: Arc<dyn Lookup>) -> Result<ApiCaller, String> {
        ensure_crypto();
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .user_agent(concat!("parley/", env!("CARGO_PKG_VERSION")))
            .dns_resolver(Arc::new(GuardedResolver {
                allow_private,
                lookup,
            }))
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

/// Answers a host name's addresses (the system resolver, or a test's table).
pub trait Lookup: Send + Sync + std::fmt::Debug + 'static {
    fn lookup(
        &self,
        host: String,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = std::io::Result<Vec<SocketAddr>>> + Send>>;
}

/// The system resolver (getaddrinfo on tokio's blocking threads).
#[derive(Debug)]
pub struct SystemLookup;

impl Lookup for SystemLookup {
    fn lookup(
        &self,
        host: String,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = std::io::Result<Vec<SocketAddr>>> + Send>>
    {
        Box::pin(async move { Ok(tokio::net::lookup_host((host.as_str(), 0)).await?.collect()) })
    }
}

/// Resolves names with `lookup` and drops internal addresses.
#[derive(Debug)]
struct GuardedResolver {
    allow_private: bool,
    lookup: Arc<dyn Lookup>,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let allow_private = self.allow_private;
        let lookup = self.lookup.clone();
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let found: Vec<SocketAddr> = lookup
                .lookup(host.clone())
                .await?
                .into_iter()
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

/// Whether `ip` is anything but a globally routable unicast address: nothing a public API
/// lives at.
///
/// The base is `ip_network`'s classification from IANA's special-purpose registries (private,
/// loopback, link-local, shared `100.64.0.0/10`, `192.0.0.0/24`, documentation, benchmarking
/// `198.18.0.0/15`, reserved `240.0.0.0/4`, broadcast, `0.0.0.0/8`; IPv6 loopback, unspecified,
/// link-local, site-local `fec0::/10`, unique-local, documentation, non-global multicast). On
/// top of it: every multicast address (a call is unicast), and the IPv6 forms that reach an
/// IPv4 address, judged by the address they carry or refused whole: IPv4-mapped `::ffff:0:0/96`
/// and IPv4-compatible `::/96`, NAT64 `64:ff9b::/96` (on a network with a NAT64 gateway it
/// reaches the embedded IPv4 address), 6to4 `2002::/16` (embedded in bits 16–48); refused whole:
/// the local-use NAT64 prefix `64:ff9b:1::/48` (RFC 8215, routed only inside a site), Teredo
/// `2001::/32` (its server and client addresses are obfuscated and can point anywhere), and
/// the discard-only `100::/64`.
pub fn is_internal(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_multicast() || !ip_network::Ipv4Network::from(v4).is_global(),
        IpAddr::V6(v6) => {
            let s = v6.segments();
            let low_v4 = std::net::Ipv4Addr::new(
                (s[6] >> 8) as u8,
                s[6] as u8,
                (s[7] >> 8) as u8,
                s[7] as u8,
            );
            // IPv4-mapped (::ffff:a.b.c.d) and IPv4-compatible (::a.b.c.d, deprecated but
            // still routed to IPv4 by some stacks); `::` and `::1` are judged below.
            if s[..5] == [0; 5] && (s[5] == 0xffff || (s[5] == 0 && u32::from(low_v4) > 1)) {
                return is_internal(IpAddr::V4(low_v4));
            }
            // NAT64, the well-known prefix.
            if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
                return is_internal(IpAddr::V4(low_v4));
            }
            // NAT64 local-use, Teredo, discard-only.
            if s[..3] == [0x64, 0xff9b, 1] || s[..2] == [0x2001, 0] || s[..4] == [0x100, 0, 0, 0] {
                return true;
            }
            // 6to4: the IPv4 address of the relay's other end.
            if s[0] == 0x2002 {
                let embedded = std::net::Ipv4Addr::new(
                    (s[1] >> 8) as u8,
                    s[1] as u8,
                    (s[2] >> 8) as u8,
                    s[2] as u8,
                );
                return is_internal(IpAddr::V4(embedded));
            }
            v6.is_multicast() || !ip_network::Ipv6Network::from(v6).is_global()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every form the issue found reached, and the classes around them, address by address.
    const REFUSED: &[&str] = &[
        // IPv4: private, loopback, link-local, "this network", shared (CGN), IETF protocol
        // assignments, documentation, benchmarking, reserved, broadcast, multicast.
        "127.0.0.1",
        "127.255.255.254",
        "10.1.2.3",
        "172.16.0.1",
        "172.31.255.255",
        "192.168.1.1",
        "169.254.169.254",
        "0.0.0.0",
        "0.1.2.3",
        "100.64.0.1",
        "100.127.255.255",
        "192.0.0.1",
        "192.0.0.255",
        "192.0.2.1",
        "198.51.100.1",
        "203.0.113.1",
        "198.18.0.1",
        "198.19.255.255",
        "240.0.0.1",
        "255.255.255.254",
        "255.255.255.255",
        "224.0.0.1",
        "239.255.255.255",
        "233.252.0.1",
        // IPv6: loopback, unspecified, unique-local, link-local, site-local, documentation,
        // multicast (any scope).
        "::1",
        "::",
        "fd00::1",
        "fc00::1",
        "fe80::1",
        "febf::1",
        "fec0::1",
        "feff::1",
        "2001:db8::1",
        "ff02::1",
        "ff0e::1",
        // IPv4 inside IPv6: mapped, compatible, NAT64 (well-known and local-use), 6to4 with a
        // private inside, Teredo, discard-only.
        "::ffff:127.0.0.1",
        "::ffff:10.0.0.1",
        "::ffff:169.254.169.254",
        "::127.0.0.1",
        "::10.0.0.1",
        "::192.168.0.1",
        "64:ff9b::7f00:1",
        "64:ff9b::a00:1",
        "64:ff9b::a9fe:a9fe",
        "64:ff9b:1::1",
        "64:ff9b:1:ffff::808:808",
        "2002:7f00:1::1",
        "2002:a00:1::1",
        "2002:c0a8:101::1",
        "2002:a9fe:a9fe::1",
        "2001::1",
        "2001:0:4136:e378:8000:63bf:3fff:fdd2",
        "100::1",
    ];

    const ALLOWED: &[&str] = &[
        "93.184.216.34",
        "1.1.1.1",
        "8.8.8.8",
        "192.0.0.9",
        "2606:4700::1111",
        "2a00:1450:4001:81c::200e",
        "::ffff:1.1.1.1",
        "64:ff9b::808:808",
        "2002:808:808::1",
    ];

    #[test]
    fn every_address_that_is_not_globally_routable_is_internal() {
        for ip in REFUSED {
            assert!(is_internal(ip.parse().unwrap()), "{ip} should be refused");
        }
        for ip in ALLOWED {
            assert!(!is_internal(ip.parse().unwrap()), "{ip} should be allowed");
        }
    }

    /// A resolver that answers every name with the given addresses, and notes each question.
    #[derive(Debug)]
    struct Table(Vec<IpAddr>, std::sync::Mutex<Vec<String>>);

    impl Lookup for Table {
        fn lookup(
            &self,
            host: String,
        ) -> std::pin::Pin<
            Box<dyn std::future::Future<Output = std::io::Result<Vec<SocketAddr>>> + Send>,
        > {
            self.1.lock().unwrap().push(host);
            let found = self.0.iter().map(|ip| SocketAddr::new(*ip, 0)).collect();
            Box::pin(async move { Ok(found) })
        }
    }

    fn get(url: &str) -> HttpRequest {
        HttpRequest {
            method: "GET".into(),
            url: url.into(),
            headers: Vec::new(),
            body: None,
            timeout_ms: 2000,
        }
    }

    /// Names that resolve to refused addresses, and literal refused addresses, fail before any
    /// connection: the only resolver is the table, and it answers nothing reachable.
    #[tokio::test]
    async fn refused_addresses_are_never_connected_to() {
        for ip in REFUSED {
            let parsed: IpAddr = ip.parse().unwrap();
            let table = Arc::new(Table(vec![parsed], Default::default()));
            let caller = ApiCaller::with_lookup(false, table.clone()).unwrap();
            let ApiResult::Failed { reason } = caller.call(&get("http://api.example/x")).await
            else {
                panic!("{ip}: the call was made");
            };
            assert!(reason.contains("private addresses"), "{ip}: {reason}");
            assert_eq!(*table.1.lock().unwrap(), ["api.example"]);
            let literal = match parsed {
                IpAddr::V4(v4) => format!("http://{v4}/x"),
                IpAddr::V6(v6) => format!("http://[{v6}]/x"),
            };
            let ApiResult::Failed { reason } = caller.call(&get(&literal)).await else {
                panic!("{ip}: the call was made");
            };
            assert!(reason.contains("private address"), "{ip}: {reason}");
            // A literal address is never looked up.
            assert_eq!(table.1.lock().unwrap().len(), 1);
        }
    }
}
