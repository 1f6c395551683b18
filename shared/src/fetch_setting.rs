//! new-api's `fetch_setting.*` options: which URLs Pylon may fetch on someone else's word (a
//! Midjourney task's image URL comes from the upstream, and through it from whoever controls
//! the upstream). With SSRF protection on (the default), only `http`/`https` on an allowed
//! port is fetched, a domain must pass the domain list, and an address (given, or every one a
//! domain resolves to) must not be loopback, private, link-local, multicast, reserved or
//! unspecified unless `allow_private_ip`, and must pass the IP list. Pure: the caller resolves
//! names and hands each address to [`FetchSetting::check_ip`] (at connect time, so that a name
//! cannot resolve to one address when checked and another when used).

use crate::net::IpNet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

pub const ENABLE_SSRF_PROTECTION: &str = "fetch_setting.enable_ssrf_protection";
pub const ALLOW_PRIVATE_IP: &str = "fetch_setting.allow_private_ip";
pub const DOMAIN_FILTER_MODE: &str = "fetch_setting.domain_filter_mode";
pub const IP_FILTER_MODE: &str = "fetch_setting.ip_filter_mode";
pub const DOMAIN_LIST: &str = "fetch_setting.domain_list";
pub const IP_LIST: &str = "fetch_setting.ip_list";
pub const ALLOWED_PORTS: &str = "fetch_setting.allowed_ports";
pub const APPLY_IP_FILTER_FOR_DOMAIN: &str = "fetch_setting.apply_ip_filter_for_domain";

/// The ports new-api allows by default.
pub const DEFAULT_ALLOWED_PORTS: &str = r#"["80","443","8080","8443"]"#;

/// The fetch settings (new-api's defaults when unset).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchSetting {
    /// Off: every URL is fetched.
    pub enable_ssrf_protection: bool,
    /// Loopback, private, link-local ... addresses are allowed.
    pub allow_private_ip: bool,
    /// `true`: `domain_list` is an allow list; `false`: a deny list.
    pub domain_filter_mode: bool,
    /// `true`: `ip_list` is an allow list; `false`: a deny list.
    pub ip_filter_mode: bool,
    /// `example.com` or `*.example.com` (lower case).
    pub domain_list: Vec<String>,
    pub ip_list: Vec<IpNet>,
    /// Inclusive port ranges; empty: every port.
    pub allowed_ports: Vec<(u16, u16)>,
    /// A domain's addresses are checked too.
    pub apply_ip_filter_for_domain: bool,
}

impl Default for FetchSetting {
    fn default() -> Self {
        Self {
            enable_ssrf_protection: true,
            allow_private_ip: false,
            domain_filter_mode: false,
            ip_filter_mode: false,
            domain_list: Vec::new(),
            ip_list: Vec::new(),
            allowed_ports: vec![(80, 80), (443, 443), (8080, 8080), (8443, 8443)],
            apply_ip_filter_for_domain: true,
        }
    }
}

/// What a URL's host is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Host {
    Ip(IpAddr),
    /// A name: its addresses are checked when resolved, if [`Verdict::ResolveAndCheck`].
    Domain(String),
}

/// The outcome of [`FetchSetting::check_target`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Fetch it; a name's addresses need no check.
    Allowed,
    /// Fetch it if every address the name resolves to passes [`FetchSetting::check_ip`].
    ResolveAndCheck,
}

impl FetchSetting {
    /// The settings of stored options `(key, value)`, and what could not be read (the default
    /// is kept for those).
    pub fn from_options<'a>(
        options: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> (Self, Vec<String>) {
        let mut setting = Self::default();
        let mut problems = Vec::new();
        for (key, value) in options {
            let value = value.trim();
            if !key.starts_with("fetch_setting.") || value.is_empty() {
                continue;
            }
            let flag = || match value {
                "true" => Ok(true),
                "false" => Ok(false),
                _ => Err(format!("{key} must be true or false, not {value:?}")),
            };
            let applied = match key {
                ENABLE_SSRF_PROTECTION => flag().map(|on| setting.enable_ssrf_protection = on),
                ALLOW_PRIVATE_IP => flag().map(|on| setting.allow_private_ip = on),
                DOMAIN_FILTER_MODE => flag().map(|on| setting.domain_filter_mode = on),
                IP_FILTER_MODE => flag().map(|on| setting.ip_filter_mode = on),
                APPLY_IP_FILTER_FOR_DOMAIN => {
                    flag().map(|on| setting.apply_ip_filter_for_domain = on)
                }
                DOMAIN_LIST => texts(key, value).map(|list| {
                    setting.domain_list = list
                        .into_iter()
                        .map(|d| d.trim().to_ascii_lowercase())
                        .filter(|d| !d.is_empty())
                        .collect();
                }),
                IP_LIST => texts(key, value).and_then(|list| {
                    setting.ip_list = list
                        .iter()
                        .filter(|ip| !ip.trim().is_empty())
                        .map(|ip| {
                            IpNet::parse(ip)
                                .ok_or_else(|| format!("{key}: {ip:?} is no IP or CIDR"))
                        })
                        .collect::<Result<_, _>>()?;
                    Ok(())
                }),
                ALLOWED_PORTS => texts(key, value).and_then(|list| {
                    setting.allowed_ports = list
                        .iter()
                        .filter(|p| !p.trim().is_empty())
                        .map(|p| {
                            port_range(p).ok_or_else(|| format!("{key}: {p:?} is no port or range"))
                        })
                        .collect::<Result<_, _>>()?;
                    Ok(())
                }),
                _ => Ok(()),
            };
            if let Err(problem) = applied {
                problems.push(problem);
            }
        }
        (setting, problems)
    }

    /// Whether `scheme://host:port` may be fetched (the port is the URL's, or its scheme's
    /// default), or why not.
    pub fn check_target(&self, scheme: &str, host: &Host, port: u16) -> Result<Verdict, String> {
        if scheme != "http" && scheme != "https" {
            return Err(format!(
                "unsupported protocol: {scheme} (only http/https allowed)"
            ));
        }
        if !self.enable_ssrf_protection {
            return Ok(Verdict::Allowed);
        }
        if !self.allowed_ports.is_empty()
            && !self
                .allowed_ports
                .iter()
                .any(|(low, high)| (*low..=*high).contains(&port))
        {
            return Err(format!("port {port} is not allowed"));
        }
        match host {
            Host::Ip(ip) => self.check_ip(*ip).map(|()| Verdict::Allowed),
            Host::Domain(domain) => {
                let domain = domain.trim_end_matches('.').to_ascii_lowercase();
                let listed = self.domain_list.iter().any(|item| {
                    item == &domain
                        || item.strip_prefix("*.").is_some_and(|suffix| {
                            domain == suffix || domain.ends_with(&format!(".{suffix}"))
                        })
                });
                if self.domain_filter_mode && !listed {
                    return Err(format!("domain {domain} is not in the allow list"));
                }
                if !self.domain_filter_mode && listed {
                    return Err(format!("domain {domain} is in the deny list"));
                }
                Ok(if self.apply_ip_filter_for_domain {
                    Verdict::ResolveAndCheck
                } else {
                    Verdict::Allowed
                })
            }
        }
    }

    /// Whether address `ip` may be connected to, or why not.
    pub fn check_ip(&self, ip: IpAddr) -> Result<(), String> {
        if !self.enable_ssrf_protection {
            return Ok(());
        }
        if is_private(ip) && !self.allow_private_ip {
            return Err(format!("private IP address {ip} is not allowed"));
        }
        let listed = self.ip_list.iter().any(|net| net.contains(ip));
        if self.ip_filter_mode && !listed {
            return Err(format!("IP {ip} is not in the allow list"));
        }
        if !self.ip_filter_mode && listed {
            return Err(format!("IP {ip} is in the deny list"));
        }
        Ok(())
    }
}

/// A JSON list of strings (numbers are taken as their text: `[80, "8000-9000"]`).
fn texts(key: &str, value: &str) -> Result<Vec<String>, String> {
    let list: Vec<serde_json::Value> =
        serde_json::from_str(value).map_err(|_| format!("{key} must be a JSON list"))?;
    list.into_iter()
        .map(|item| match item {
            serde_json::Value::String(text) => Ok(text),
            serde_json::Value::Number(n) => Ok(n.to_string()),
            other => Err(format!("{key}: {other} is not text")),
        })
        .collect()
}

/// `"80"` or `"8000-9000"`.
fn port_range(text: &str) -> Option<(u16, u16)> {
    let text = text.trim();
    let (low, high) = match text.split_once('-') {
        Some((low, high)) => (low.trim().parse().ok()?, high.trim().parse().ok()?),
        None => {
            let port = text.parse().ok()?;
            (port, port)
        }
    };
    (low >= 1 && low <= high).then_some((low, high))
}

/// Loopback, private, link-local, shared, multicast, reserved, broadcast or unspecified (an
/// IPv4-mapped IPv6 address as its IPv4 address).
pub fn is_private(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => private_v4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => private_v4(v4),
            None => private_v6(v6),
        },
    }
}

fn private_v4(ip: Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || a == 0
        || a >= 240
        // Shared address space (carrier-grade NAT), 100.64.0.0/10.
        || (a == 100 && (64..128).contains(&b))
}

fn private_v6(ip: Ipv6Addr) -> bool {
    let first = ip.segments()[0];
    ip.is_loopback()
        || ip.is_unspecified()
        || ip.is_multicast()
        // Unique local fc00::/7 and link-local fe80::/10.
        || (first & 0xfe00) == 0xfc00
        || (first & 0xffc0) == 0xfe80
        // IPv4-compatible (deprecated) ::a.b.c.d.
        || ip.segments()[..6].iter().all(|s| *s == 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("ip")
    }

    #[test]
    fn private_addresses_are_refused_by_default() {
        let setting = FetchSetting::default();
        for private in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "::1",
            "::",
            "fe80::1",
            "fd00::1",
            "::ffff:127.0.0.1",
        ] {
            assert!(setting.check_ip(ip(private)).is_err(), "{private}");
        }
        assert!(setting.check_ip(ip("93.184.216.34")).is_ok());
        assert!(setting.check_ip(ip("2606:4700::1111")).is_ok());
        let loopback = Host::Ip(ip("127.0.0.1"));
        assert!(setting.check_target("http", &loopback, 80).is_err());
        let domain = Host::Domain("cdn.example.com".into());
        assert_eq!(
            setting.check_target("https", &domain, 443),
            Ok(Verdict::ResolveAndCheck)
        );
        assert!(setting.check_target("https", &domain, 22).is_err());
        assert!(setting.check_target("file", &domain, 443).is_err());
    }

    #[test]
    fn options_are_read_as_new_api_stores_them() {
        let (setting, problems) = FetchSetting::from_options([
            (ALLOW_PRIVATE_IP, "true"),
            (ALLOWED_PORTS, r#"["80", "8000-9000", 7]"#),
            (DOMAIN_FILTER_MODE, "true"),
            (DOMAIN_LIST, r#"["*.Example.com"]"#),
            (IP_LIST, r#"["10.0.0.0/8"]"#),
            (APPLY_IP_FILTER_FOR_DOMAIN, "false"),
        ]);
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(setting.allowed_ports, vec![(80, 80), (8000, 9000), (7, 7)]);
        assert!(setting.check_ip(ip("127.0.0.1")).is_ok());
        assert!(setting.check_ip(ip("10.0.0.1")).is_err(), "deny list");
        let host = |d: &str| Host::Domain(d.into());
        assert_eq!(
            setting.check_target("http", &host("a.example.com"), 8080),
            Ok(Verdict::Allowed)
        );
        assert!(
            setting
                .check_target("http", &host("example.org"), 80)
                .is_err()
        );
        let (off, _) = FetchSetting::from_options([(ENABLE_SSRF_PROTECTION, "false")]);
        assert_eq!(
            off.check_target("http", &Host::Ip(ip("127.0.0.1")), 1),
            Ok(Verdict::Allowed)
        );
        let (_, problems) = FetchSetting::from_options([
            (ALLOWED_PORTS, r#"["0"]"#),
            (IP_LIST, "[\"nope\"]"),
            (ALLOW_PRIVATE_IP, "yes"),
        ]);
        assert_eq!(problems.len(), 3, "{problems:?}");
        let defaults = FetchSetting::from_options([(ALLOWED_PORTS, DEFAULT_ALLOWED_PORTS)]).0;
        assert_eq!(defaults, FetchSetting::default());
    }
}
