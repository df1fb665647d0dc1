//! A rule that misbehaves on purpose, per its `behaviour` setting.

use homeroom_sdk::prelude::*;

struct HostileRule;

impl Rule for HostileRule {
    fn apply(batch: Vec<Entity>) -> Result<Vec<Verdict>, PluginError> {
        match settings::get("behaviour").as_deref() {
            Some("burn") => {
                let mut x: u64 = 1;
                loop {
                    x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
                }
            }
            Some("wrong-count") => Ok(vec![Verdict::Keep]),
            Some("rename") => Ok(batch
                .into_iter()
                .map(|mut e| {
                    e.source_id.push_str("-renamed");
                    Verdict::Replace(e)
                })
                .collect()),
            _ => Ok(batch
                .into_iter()
                .map(|mut e| {
                    if let Some(email) = e.text("email").map(str::to_lowercase) {
                        e.set("email", Value::Text(email));
                    }
                    Verdict::Replace(e)
                })
                .collect()),
        }
    }
}

homeroom_sdk::export_rule!(HostileRule);
