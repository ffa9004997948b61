//! What a valid configuration may still get wrong: channels nothing drains
//! or nothing feeds. `sluice check` prints these and `run` logs them.

use super::Topology;

/// Warnings about `topology`, one sentence each, in channel order.
pub fn warnings(topology: &Topology) -> Vec<String> {
    if topology.mobile.is_some() {
        // The phone's one channel is fed by the app and drained by every sink.
        return Vec::new();
    }
    let mut out = Vec::new();
    for channel in &topology.channels {
        let feeders: Vec<&str> = topology
            .sources
            .iter()
            .filter(|s| s.channels.contains(&channel.name))
            .map(|s| s.component.name.as_str())
            .collect();
        let drained = topology.sinks.iter().any(|s| s.channel == channel.name);
        if !drained && !feeders.is_empty() {
            out.push(format!(
                "channel {} has no sink taking from it: it will fill, and then on_full \"{}\" applies to {}",
                channel.name,
                super::keys::snake_case(&format!("{:?}", channel.capacity.on_full)),
                feeders.join(", ")
            ));
        }
        if feeders.is_empty() {
            out.push(format!("channel {} is fed by no source", channel.name));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::registry::Registry;
    use std::path::Path;

    #[test]
    fn orphan_channels_are_named() {
        let registry = Registry::with_builtins();
        let base = "[channels.main]\ntype = \"memory\"\n[sources.in]\ntype = \"stdin\"\nchannels = [\"main\"]\n\
                    [sinks.out]\ntype = \"null\"\nchannel = \"main\"\n";
        let cases = [
            (String::new(), vec![]),
            (
                "[channels.spare]\ntype = \"memory\"\n".to_string(),
                vec!["channel spare is fed by no source"],
            ),
            (
                "[channels.side]\ntype = \"memory\"\non_full = \"drop_oldest\"\n[sources.more]\ntype = \"stdin\"\nchannels = [\"side\"]\n"
                    .to_string(),
                vec!["channel side has no sink taking from it: it will fill, and then on_full \"drop_oldest\" applies to more"],
            ),
        ];
        for (extra, expected) in cases {
            let config = Config::parse(&format!("{base}{extra}"), Path::new("a.toml"), &registry)
                .unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(warnings(&config.topology), expected, "{extra}");
        }
    }
}
