//! `sluice convert-flume` on hostile `.properties` text: no panic, and whatever
//! it prints must be TOML (the user pipes it into `sluice check`): to the agent's
//! own reader, and to the `toml` crate for other tools.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    // The agent is named by the first key's first part, so the fuzzer reaches the mapping code.
    let agent = text.split(['.', '=', '\n', ' ']).next().unwrap_or("a1");
    if let Ok(conversion) = sluice::convert::convert_flume(text, agent, "fuzz.properties") {
        if let Err(e) = sluice::config::toml::parse(&conversion.toml) {
            panic!("convert-flume printed what the agent cannot read ({e:?}):\n{}", conversion.toml);
        }
        if let Err(e) = conversion.toml.parse::<toml::Table>() {
            panic!("convert-flume printed invalid TOML ({e}):\n{}", conversion.toml);
        }
    }
});
