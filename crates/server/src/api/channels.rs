//! `channels`: channels with subscribers, optionally filtered by a glob.

use switchboard_protocol::api::{ChannelInfo, ChannelsRequest, ChannelsResult};

use super::Failure;
use crate::state::AppState;

/// Lists active channels.
pub fn call(state: &AppState, request: ChannelsRequest) -> Result<ChannelsResult, Failure> {
    let pattern = request.pattern.unwrap_or_default();
    let channels = state
        .channels
        .channels()
        .into_iter()
        .filter(|c| pattern.is_empty() || glob(pattern.as_bytes(), c.name.as_bytes()))
        .map(|c| {
            (
                c.name,
                ChannelInfo {
                    num_clients: c.num_clients as u64,
                },
            )
        })
        .collect();
    Ok(ChannelsResult { channels })
}

/// `*` matches any run of bytes, `?` one byte; everything else itself.
fn glob(pattern: &[u8], name: &[u8]) -> bool {
    // Iterative matching with one backtrack point: linear in practice, no recursion.
    let (mut p, mut n) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while n < name.len() {
        match pattern.get(p) {
            Some(b'*') => {
                star = Some((p, n));
                p += 1;
            }
            Some(&c) if c == b'?' || c == name[n] => {
                p += 1;
                n += 1;
            }
            _ => match star {
                Some((sp, sn)) => {
                    p = sp + 1;
                    n = sn + 1;
                    star = Some((sp, sn + 1));
                }
                None => return false,
            },
        }
    }
    pattern[p..].iter().all(|&c| c == b'*')
}

#[cfg(test)]
mod tests {
    use super::glob;

    #[test]
    fn globs() {
        assert!(glob(b"chat:*", b"chat:room"));
        assert!(glob(b"*", b"anything"));
        assert!(glob(b"c?at:*m", b"chat:room"));
        assert!(!glob(b"chat:*", b"news"));
        assert!(!glob(b"chat", b"chat:room"));
        assert!(glob(b"*:*:*", b"a:b:c"));
    }
}
