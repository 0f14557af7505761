//! The client's address, for per-address limits: the socket peer, unless that peer is a proxy the operator trusts
//! (`NENE_TRUSTED_PROXIES`), in which case the address the proxies forwarded.
//!
//! Anyone can send `X-Forwarded-For: 1.2.3.4`, so the header is read only when the connection comes from a trusted
//! proxy, and even then only the entries the trusted proxies appended count: the chain is walked from the right
//! (the hop nearest to us) past every trusted address, and the first address that is not trusted is the client.
//! Whatever a client wrote to the left of that is ignored.

use std::net::{IpAddr, SocketAddr};

use axum::http::HeaderMap;
use ipnet::IpNet;

/// The networks whose connections may tell us the client's address.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<IpNet>);

impl TrustedProxies {
    /// Trusts nobody: the client is always the socket peer.
    pub fn none() -> Self {
        TrustedProxies(Vec::new())
    }

    /// A list of CIDRs (`10.0.0.0/8`) or single addresses (`127.0.0.1`, `::1`), separated by commas or spaces.
    pub fn parse(list: &str) -> Result<Self, String> {
        let mut nets = Vec::new();
        for item in list.split([',', ' ', '\t', '\n']).map(str::trim).filter(|s| !s.is_empty()) {
            let net = match item.parse::<IpNet>() {
                Ok(net) => net.trunc(),
                Err(_) => match item.parse::<IpAddr>() {
                    Ok(ip) => IpNet::from(canonical(ip)),
                    Err(_) => return Err(format!("`{item}` is neither an address nor a CIDR like 10.0.0.0/8")),
                },
            };
            nets.push(net);
        }
        Ok(TrustedProxies(nets))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.0.iter().any(|net| net.contains(&ip))
    }
}

/// Which header the trusted proxies write the client's address into. Only one is read: a proxy passes on the
/// other header untouched, so reading both would let a client write its own address into the one the proxy
/// does not use.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ForwardedHeader {
    /// `X-Forwarded-For: client, proxy1, proxy2` (nginx, HAProxy, cloud load balancers).
    #[default]
    XForwardedFor,
    /// RFC 7239 `Forwarded: for=client, for=proxy1`.
    Forwarded,
}

impl ForwardedHeader {
    pub fn parse(v: &str) -> Result<Self, String> {
        match v.to_ascii_lowercase().as_str() {
            "x-forwarded-for" => Ok(ForwardedHeader::XForwardedFor),
            "forwarded" => Ok(ForwardedHeader::Forwarded),
            _ => Err(format!("`{v}` is neither `x-forwarded-for` nor `forwarded`")),
        }
    }

    fn name(self) -> &'static str {
        match self {
            ForwardedHeader::XForwardedFor => "x-forwarded-for",
            ForwardedHeader::Forwarded => "forwarded",
        }
    }
}

/// The client of a request that arrived from `peer` with `headers`.
pub fn resolve(peer: IpAddr, headers: &HeaderMap, trusted: &TrustedProxies, header: ForwardedHeader) -> IpAddr {
    let peer = canonical(peer);
    if !trusted.contains(peer) {
        return peer;
    }
    // Header lines in reverse, and each line's entries in reverse: the nearest hop first.
    let lines: Vec<&str> = headers.get_all(header.name()).iter().filter_map(|v| v.to_str().ok()).collect();
    let mut nearest_trusted = peer;
    for entry in lines.iter().rev().flat_map(|line| line.rsplit(',')) {
        let parsed = match header {
            ForwardedHeader::XForwardedFor => parse_node(entry),
            ForwardedHeader::Forwarded => forwarded_for(entry).and_then(parse_node),
        };
        match parsed.map(canonical) {
            Some(ip) if trusted.contains(ip) => nearest_trusted = ip,
            Some(ip) => return ip,
            // `unknown`, an obfuscated name or garbage: the proxy next to it did not know the client either.
            None => return nearest_trusted,
        }
    }
    // Every hop is trusted: the request started inside the trusted network, at its leftmost hop.
    nearest_trusted
}

/// The `for=` value of one `Forwarded` element (`for=1.2.3.4;proto=https`).
fn forwarded_for(element: &str) -> Option<&str> {
    element.split(';').find_map(|pair| {
        let (key, value) = pair.split_once('=')?;
        key.trim().eq_ignore_ascii_case("for").then_some(value.trim())
    })
}

/// An address as proxies write it: `1.2.3.4`, `1.2.3.4:5678`, `2001:db8::1`, `[2001:db8::1]:443`, maybe quoted.
fn parse_node(node: &str) -> Option<IpAddr> {
    let node = node.trim().trim_matches('"');
    if let Ok(ip) = node.parse::<IpAddr>() {
        return Some(ip);
    }
    if let Ok(addr) = node.parse::<SocketAddr>() {
        return Some(addr.ip());
    }
    node.strip_prefix('[').and_then(|rest| rest.split(']').next()).and_then(|v6| v6.parse().ok())
}

/// IPv4 clients of a dual-stack socket arrive as `::ffff:1.2.3.4`; they are the same client as `1.2.3.4`.
pub fn canonical(ip: IpAddr) -> IpAddr {
    ip.to_canonical()
}

/// The address as per-address limits count it: an IPv4 address, or the /64 network of an IPv6 address. One
/// subscriber usually gets a whole /64 and may use any address in it, so counting single IPv6 addresses would give
/// one host billions of separate allowances.
pub fn limit_key(ip: IpAddr) -> IpAddr {
    match canonical(ip) {
        IpAddr::V6(v6) => IpAddr::V6((u128::from(v6) & !((1u128 << 64) - 1)).into()),
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn headers(name: &str, values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append(axum::http::HeaderName::from_bytes(name.as_bytes()).unwrap(), v.parse().unwrap());
        }
        h
    }

    #[test]
    fn cidrs_and_single_addresses_parse() {
        let t = TrustedProxies::parse("10.0.0.0/8, 192.168.1.7 ::1,fd00::/8").unwrap();
        assert!(t.contains(ip("10.200.3.4")));
        assert!(t.contains(ip("192.168.1.7")));
        assert!(!t.contains(ip("192.168.1.8")));
        assert!(t.contains(ip("::1")));
        assert!(t.contains(ip("fd12::5")));
        assert!(!t.contains(ip("11.0.0.1")));
        // A host address written with its host bits set still names its network.
        assert!(TrustedProxies::parse("10.1.2.3/8").unwrap().contains(ip("10.9.9.9")));
        // A v4-mapped peer is the v4 address.
        assert!(t.contains(ip("::ffff:10.0.0.1")));
        assert!(TrustedProxies::parse("").unwrap().is_empty());
    }

    #[test]
    fn nonsense_is_refused_with_the_offending_item() {
        let e = TrustedProxies::parse("10.0.0.0/8, proxy.local").unwrap_err();
        assert!(e.contains("proxy.local"), "{e}");
        assert!(TrustedProxies::parse("10.0.0.0/33").is_err());
        assert!(ForwardedHeader::parse("x-real-ip").is_err());
        assert_eq!(ForwardedHeader::parse("Forwarded").unwrap(), ForwardedHeader::Forwarded);
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_claims() {
        let t = TrustedProxies::parse("10.0.0.0/8").unwrap();
        let h = headers("x-forwarded-for", &["203.0.113.9"]);
        assert_eq!(resolve(ip("198.51.100.1"), &h, &t, ForwardedHeader::XForwardedFor), ip("198.51.100.1"));
        assert_eq!(
            resolve(ip("198.51.100.1"), &h, &TrustedProxies::none(), ForwardedHeader::XForwardedFor),
            ip("198.51.100.1")
        );
    }

    #[test]
    fn the_rightmost_untrusted_address_is_the_client() {
        let t = TrustedProxies::parse("10.0.0.0/8").unwrap();
        // The client claimed 1.1.1.1; the edge proxy appended the real address; an inner proxy appended the edge.
        let h = headers("x-forwarded-for", &["1.1.1.1, 203.0.113.9, 10.0.0.2"]);
        assert_eq!(resolve(ip("10.0.0.3"), &h, &t, ForwardedHeader::XForwardedFor), ip("203.0.113.9"));
        // Several header lines are one list, in order.
        let h = headers("x-forwarded-for", &["1.1.1.1", "203.0.113.9:5123", "10.0.0.2"]);
        assert_eq!(resolve(ip("10.0.0.3"), &h, &t, ForwardedHeader::XForwardedFor), ip("203.0.113.9"));
        // No header: the proxy itself.
        assert_eq!(resolve(ip("10.0.0.3"), &HeaderMap::new(), &t, ForwardedHeader::XForwardedFor), ip("10.0.0.3"));
        // Every hop trusted: the leftmost.
        let h = headers("x-forwarded-for", &["10.9.9.9, 10.0.0.2"]);
        assert_eq!(resolve(ip("10.0.0.3"), &h, &t, ForwardedHeader::XForwardedFor), ip("10.9.9.9"));
        // Garbage where the client should be: the nearest trusted hop, never what lies to its left.
        let h = headers("x-forwarded-for", &["1.1.1.1, unknown, 10.0.0.2"]);
        assert_eq!(resolve(ip("10.0.0.3"), &h, &t, ForwardedHeader::XForwardedFor), ip("10.0.0.2"));
    }

    #[test]
    fn limits_count_an_ipv6_subscriber_once() {
        assert_eq!(limit_key(ip("2001:db8:1:2:aaaa::1")), ip("2001:db8:1:2::"));
        assert_eq!(limit_key(ip("2001:db8:1:2:bbbb::9")), limit_key(ip("2001:db8:1:2::77")));
        assert_ne!(limit_key(ip("2001:db8:1:3::1")), limit_key(ip("2001:db8:1:2::1")));
        assert_eq!(limit_key(ip("203.0.113.9")), ip("203.0.113.9"));
        assert_eq!(limit_key(ip("::ffff:203.0.113.9")), ip("203.0.113.9"));
    }

    #[test]
    fn only_the_configured_header_is_read() {
        let t = TrustedProxies::parse("127.0.0.1").unwrap();
        let mut h = headers("x-forwarded-for", &["203.0.113.9"]);
        h.append("forwarded", "for=1.1.1.1".parse().unwrap());
        assert_eq!(resolve(ip("127.0.0.1"), &h, &t, ForwardedHeader::XForwardedFor), ip("203.0.113.9"));
        assert_eq!(resolve(ip("127.0.0.1"), &h, &t, ForwardedHeader::Forwarded), ip("1.1.1.1"));
    }

    #[test]
    fn forwarded_elements_are_read_as_rfc_7239_writes_them() {
        let t = TrustedProxies::parse("10.0.0.0/8").unwrap();
        let h = headers(
            "forwarded",
            &[r#"for=1.1.1.1;proto=https, For="[2001:db8:cafe::17]:4711";by=10.0.0.1, for=10.0.0.2"#],
        );
        assert_eq!(resolve(ip("10.0.0.3"), &h, &t, ForwardedHeader::Forwarded), ip("2001:db8:cafe::17"));
        let h = headers("forwarded", &["for=\"203.0.113.9:80\""]);
        assert_eq!(resolve(ip("10.0.0.3"), &h, &t, ForwardedHeader::Forwarded), ip("203.0.113.9"));
        let h = headers("forwarded", &["for=_hidden, for=10.0.0.2"]);
        assert_eq!(resolve(ip("10.0.0.3"), &h, &t, ForwardedHeader::Forwarded), ip("10.0.0.2"));
    }
}
