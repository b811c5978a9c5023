//! The client's address: the TCP peer, or what a trusted proxy says in
//! `X-Forwarded-For`.

use std::net::{IpAddr, SocketAddr};

use http::HeaderMap;
use ipnet::IpNet;

/// The address to report for a client. `X-Forwarded-For` is honoured only
/// when the TCP peer is a trusted proxy; then the right-most address that
/// is not itself a trusted proxy is the client (entries left of it could be
/// forged by the client).
pub fn client_addr(peer: SocketAddr, headers: &HeaderMap, trusted: &[IpNet]) -> String {
    match client_ip(peer, headers, trusted) {
        ip if ip == peer.ip() => peer.to_string(),
        ip => ip.to_string(),
    }
}

/// The client's IP address, by the same rule as [`client_addr`].
pub fn client_ip(peer: SocketAddr, headers: &HeaderMap, trusted: &[IpNet]) -> IpAddr {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !is_trusted(&peer.ip()) {
        return peer.ip();
    }
    let forwarded: Vec<IpAddr> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    forwarded
        .into_iter()
        .rev()
        .find(|ip| !is_trusted(ip))
        .unwrap_or(peer.ip())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(xff: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("x-forwarded-for", xff.parse().unwrap());
        h
    }

    #[test]
    fn ignores_forwarded_for_from_untrusted_peers() {
        let peer: SocketAddr = "203.0.113.9:4000".parse().unwrap();
        assert_eq!(
            client_addr(peer, &headers("1.2.3.4"), &[]),
            "203.0.113.9:4000"
        );
    }

    #[test]
    fn takes_the_rightmost_untrusted_hop() {
        let trusted: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        let peer: SocketAddr = "10.0.0.2:4000".parse().unwrap();
        let h = headers("6.6.6.6, 198.51.100.7, 10.0.0.5");
        assert_eq!(client_addr(peer, &h, &trusted), "198.51.100.7");
        assert_eq!(
            client_addr(peer, &HeaderMap::new(), &trusted),
            "10.0.0.2:4000"
        );
    }
}
