//! `include/sluice.h` is a contract (STYLE rule 13): generated from the source by
//! cbindgen and checked in. This test fails when the checked-in header is stale;
//! `SLUICE_BLESS=1 cargo test -p sluice-ios --test header` rewrites it.

use std::path::Path;

#[test]
fn the_checked_in_header_matches_the_source() {
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let config = cbindgen::Config::from_file(crate_dir.join("cbindgen.toml")).expect("cbindgen.toml");
    let mut generated = Vec::new();
    cbindgen::Builder::new()
        .with_crate(crate_dir)
        .with_config(config)
        .generate()
        .expect("cbindgen could not generate the header")
        .write(&mut generated);
    let path = crate_dir.join("include/sluice.h");
    if std::env::var_os("SLUICE_BLESS").is_some() {
        std::fs::write(&path, &generated).expect("write include/sluice.h");
        return;
    }
    let checked_in = std::fs::read(&path).unwrap_or_default();
    assert!(
        checked_in == generated,
        "ios/include/sluice.h is stale: run `SLUICE_BLESS=1 cargo test -p sluice-ios --test header` and commit it"
    );
}
