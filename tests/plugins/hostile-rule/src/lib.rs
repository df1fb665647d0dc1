//! A rule that misbehaves on purpose, per its `behaviour` setting. Its
//! manifest declares `reads = ["email", "role"]`: `peek` drops every record
//! with the names of the attributes it was sent, so a test can see that
//! nothing else crossed.

use homeroom_sdk::prelude::*;

struct HostileRule;

impl Rule for HostileRule {
    fn apply(batch: &Batch) -> Result<Vec<Verdict>, PluginError> {
        match settings::get("behaviour").as_deref() {
            Some("burn") => {
                let mut x: u64 = 1;
                loop {
                    x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
                }
            }
            Some("wrong-count") => Ok(vec![Verdict::Keep]),
            // An 8 MB reason per record, with escapes and line breaks.
            Some("huge-reason") => Ok(batch
                .records()
                .map(|_| {
                    Verdict::Drop(format!(
                        "\u{1b}[2J\r\nnot wanted: {}",
                        "because ".repeat(1024 * 1024)
                    ))
                })
                .collect()),
            // A replacement with a value far past the host's cap.
            Some("huge-value") => Ok(batch
                .records()
                .map(|r| {
                    let mut e = r.to_entity();
                    e.set("email", Value::Text("x".repeat(1024 * 1024)));
                    Verdict::Replace(e)
                })
                .collect()),
            Some("rename") => Ok(batch
                .records()
                .map(|r| {
                    let mut e = r.to_entity();
                    e.source_id.push_str("-renamed");
                    Verdict::Replace(e)
                })
                .collect()),
            Some("peek") => Ok(batch
                .records()
                .map(|r| {
                    let names: Vec<&str> = r.attributes().map(|(name, _)| name).collect();
                    Verdict::Drop(format!("saw {}", names.join(",")))
                })
                .collect()),
            _ => Ok(batch
                .records()
                .map(|r| match r.text("email") {
                    Some(email) if email != email.to_lowercase() => {
                        let mut e = r.to_entity();
                        e.set("email", Value::Text(email.to_lowercase()));
                        Verdict::Replace(e)
                    }
                    _ => Verdict::Keep,
                })
                .collect()),
        }
    }
}

homeroom_sdk::export_rule!(HostileRule);
