//! Delta cursors kept in plugin storage, for sources that say what changed as
//! a stream of events or a change marker (Clever's events API, a
//! `changesSinceMarker`, a Graph `deltaLink`) rather than by a modification
//! date a read can filter on.
//!
//! The host asks for a delta with `since`, the start of the last committed
//! run, and says nothing about runs that read but did not commit. So a
//! connector must not start its next delta where its last read ended (that
//! read may have been discarded): it keeps [`Checkpoints`], positions in the
//! stream each with the time of what it names, and starts from the latest
//! one at or before `since` ([`Checkpoints::at_or_before`]). Reading an event
//! twice is harmless; missing one is not, so every choice here errs on the
//! side of reading more.
//!
//! What this module owns: the checkpoints, their stored form, and RFC 3339
//! times as seconds. What it must not do: call the host. A connector loads
//! and stores the bytes through its own storage.

use serde::{Deserialize, Serialize};

/// Checkpoints kept per stream: enough for weeks of runs that never commit.
pub const MAX_CHECKPOINTS: usize = 64;

/// One position in a change stream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// Where to go on from (an event id; empty: the start of the stream).
    pub position: String,
    /// When what `position` names happened, in seconds since 1970.
    pub at: i64,
}

/// The checkpoints of one stream, oldest first.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoints {
    marks: Vec<Checkpoint>,
}

impl Checkpoints {
    /// What [`Checkpoints::to_bytes`] stored; empty when nothing (or
    /// something unreadable) was.
    pub fn from_bytes(bytes: Option<&[u8]>) -> Checkpoints {
        bytes
            .and_then(|b| serde_json::from_slice(b).ok())
            .unwrap_or_default()
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    pub fn is_empty(&self) -> bool {
        self.marks.is_empty()
    }

    /// Keep `position`, reached at `at`. Kept in order of time; the oldest go
    /// past [`MAX_CHECKPOINTS`].
    pub fn record(&mut self, position: impl Into<String>, at: i64) {
        let position = position.into();
        if self
            .marks
            .iter()
            .any(|m| m.position == position && m.at == at)
        {
            return;
        }
        let index = self.marks.partition_point(|m| m.at <= at);
        self.marks.insert(index, Checkpoint { position, at });
        if self.marks.len() > MAX_CHECKPOINTS {
            let extra = self.marks.len() - MAX_CHECKPOINTS;
            self.marks.drain(..extra);
        }
    }

    /// The latest checkpoint at or before `at`: everything up to it was
    /// seen by a run that began after it. None when every checkpoint is
    /// later (or there are none): the stream cannot say what changed, and
    /// the connector reads everything.
    pub fn at_or_before(&self, at: i64) -> Option<&Checkpoint> {
        self.marks.iter().rev().find(|m| m.at <= at)
    }

    /// The earliest checkpoint at or after `at`, for streams whose positions
    /// carry no time of their own (a Graph deltaLink), kept with the time the
    /// connector took them (the server's `Date`): the first one a run that
    /// began at `at` took.
    /// Runs of a source never overlap, so every later one belongs to a run
    /// that began later and may never have committed.
    pub fn first_at_or_after(&self, at: i64) -> Option<&Checkpoint> {
        self.marks.iter().find(|m| m.at >= at)
    }
}

/// An RFC 3339 date-time (or a bare date) as seconds since 1970, UTC.
pub fn unix_seconds(text: &str) -> Option<i64> {
    let text = text.trim();
    let number = |s: &str| -> Option<i64> {
        (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse().ok())
            .flatten()
    };
    let date = text.get(..10)?;
    let mut parts = date.split('-');
    let (y, m, d) = (
        number(parts.next()?)?,
        number(parts.next()?)?,
        number(parts.next()?)?,
    );
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    let days = days_from_civil(y, m, d);
    let rest = &text[10..];
    if rest.is_empty() {
        return Some(days * 86_400);
    }
    let rest = rest.strip_prefix(['T', 't', ' '])?;
    let (h, min, s) = (
        number(rest.get(..2)?)?,
        number(rest.get(3..5)?)?,
        number(rest.get(6..8)?)?,
    );
    let mut zone = &rest[8..];
    if let Some(fraction) = zone.strip_prefix('.') {
        zone = fraction.trim_start_matches(|c: char| c.is_ascii_digit());
    }
    let offset = match zone {
        "Z" | "z" => 0,
        _ => {
            let sign = match zone.as_bytes().first()? {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            let oh = number(zone.get(1..3)?)?;
            let om = number(zone.get(4..6)?)?;
            sign * (oh * 3600 + om * 60)
        }
    };
    Some(days * 86_400 + h * 3600 + min * 60 + s - offset)
}

/// An HTTP date (IMF-fixdate, `Fri, 04 Dec 2026 02:56:55 GMT`: the `Date`
/// header, the server's clock where the sandbox's is frozen) as seconds
/// since 1970.
pub fn http_date_seconds(text: &str) -> Option<i64> {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let mut parts = text.split_once(',')?.1.split_whitespace();
    let day: i64 = parts.next()?.parse().ok()?;
    let month = parts.next()?;
    let month = MONTHS.iter().position(|m| *m == month)? as i64 + 1;
    let year = parts.next()?;
    let time = parts.next()?;
    (parts.next() == Some("GMT")).then_some(())?;
    unix_seconds(&format!("{year}-{month:02}-{day:02}T{time}Z"))
}

/// Days since 1970-01-01 of a proleptic Gregorian date.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_read_as_seconds() {
        assert_eq!(unix_seconds("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(
            unix_seconds("2024-08-01T12:30:05.123Z"),
            Some(1_722_515_405)
        );
        assert_eq!(
            unix_seconds("2024-08-01T14:30:05+02:00"),
            Some(1_722_515_405)
        );
        assert_eq!(unix_seconds("2024-08-01"), Some(1_722_470_400));
        assert_eq!(unix_seconds("2024-13-01"), None);
        assert_eq!(unix_seconds("yesterday"), None);
        assert_eq!(unix_seconds("2024-08-01T12:30"), None);
        assert_eq!(
            http_date_seconds("Thu, 01 Aug 2024 12:30:05 GMT"),
            Some(1_722_515_405)
        );
        assert_eq!(http_date_seconds("Thu, 01 Aug 2024 12:30:05 PST"), None);
        assert_eq!(http_date_seconds("yesterday"), None);
    }

    #[test]
    fn the_checkpoint_before_a_run_is_chosen() {
        let mut c = Checkpoints::default();
        assert_eq!(c.at_or_before(100), None);
        c.record("e5", 500);
        c.record("e1", 100);
        c.record("e3", 300);
        c.record("e3", 300);
        assert_eq!(c.at_or_before(99), None);
        assert_eq!(c.at_or_before(100).unwrap().position, "e1");
        assert_eq!(c.at_or_before(450).unwrap().position, "e3");
        assert_eq!(c.at_or_before(i64::MAX).unwrap().position, "e5");
        assert_eq!(c.first_at_or_after(101).unwrap().position, "e3");
        assert_eq!(c.first_at_or_after(501), None);
        let back = Checkpoints::from_bytes(Some(&c.to_bytes()));
        assert_eq!(back, c);
        assert!(Checkpoints::from_bytes(Some(b"garbage")).is_empty());
        for i in 0..100 {
            c.record(format!("n{i}"), 1000 + i);
        }
        assert_eq!(c.marks.len(), MAX_CHECKPOINTS);
        assert_eq!(c.at_or_before(500), None);
    }
}
