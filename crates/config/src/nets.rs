//! Serde helper for `server.trusted_proxies`.
//!
//! Operators usually write a proxy as a plain address; `IpNet` alone would
//! reject `10.0.0.1` and demand `10.0.0.1/32`, so a bare address is taken as
//! a single-host network.

use std::net::IpAddr;

use ipnet::IpNet;
use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

pub(crate) fn serialize<S: Serializer>(nets: &[IpNet], s: S) -> Result<S::Ok, S::Error> {
    nets.serialize(s)
}

pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<IpNet>, D::Error> {
    let entries = Vec::<String>::deserialize(d)?;
    entries
        .iter()
        .map(|entry| {
            parse(entry).ok_or_else(|| {
                D::Error::custom(format!(
                    "`{entry}` is neither an IP address nor a network in CIDR form"
                ))
            })
        })
        .collect()
}

fn parse(entry: &str) -> Option<IpNet> {
    let entry = entry.trim();
    entry
        .parse::<IpNet>()
        .ok()
        .or_else(|| entry.parse::<IpAddr>().ok().map(IpNet::from))
}
