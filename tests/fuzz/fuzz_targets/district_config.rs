//! The district configuration file (`homeroom apply district.toml`):
//! `homeroom_host::config::DistrictConfig::parse` on any UTF-8 text (TOML
//! deserialisation, then every source's `validate()`), then what the host
//! does with a configuration it took: each source's `validate()` again, its
//! schedule's `check()`, its domains per kind, and the export
//! (`homeroom config export`, `DistrictConfig::to_toml`).
//!
//! Besides "never panics", an exported configuration must parse again into
//! the same configuration: an export that cannot be applied back is a
//! district locked out of its own setup.

#![no_main]

use homeroom_host::config::DistrictConfig;
use homeroom_host::model::kinds::rule_kinds;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(config) = DistrictConfig::parse(text) else {
        return;
    };
    for source in &config.sources {
        source
            .validate()
            .expect("a source DistrictConfig::parse took validates");
        if let Some(schedule) = &source.schedule {
            let _ = schedule.check();
        }
        for kind in rule_kinds() {
            let _ = source.domains_for(kind);
        }
    }
    let exported = config.to_toml();
    match DistrictConfig::parse(&exported) {
        // Compared as printed, so that a NaN share reads back as itself.
        Ok(again) => assert!(
            format!("{again:?}") == format!("{config:?}"),
            "the exported configuration reads back differently\n--- exported ---\n{exported}"
        ),
        Err(e) => panic!(
            "the exported configuration does not parse again: {e}\n--- exported ---\n{exported}"
        ),
    }
});
