//! Paging helpers: the cursor a connector hands back to the host is opaque to
//! the host, so a connector can keep whatever it needs in it.

use crate::wit::types::PluginError;

/// Limit/offset paging (OneRoster REST): the cursor is the next offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Offset {
    pub offset: u64,
    pub limit: u64,
}

impl Offset {
    /// The first page when `cursor` is none, else the page the cursor names.
    pub fn from_cursor(cursor: Option<&str>, limit: u64) -> Result<Offset, PluginError> {
        let offset = match cursor {
            None => 0,
            Some(c) => c.parse().map_err(|_| {
                PluginError::InvalidData(format!("the paging cursor `{c}` is not an offset"))
            })?,
        };
        Ok(Offset { offset, limit })
    }

    /// The cursor of the following page, or none when `received` records show
    /// this was the last page. `total`, when the source sends one, ends the read
    /// as soon as it is reached, but a short page always ends it.
    pub fn next_cursor(&self, received: u64, total: Option<u64>) -> Option<String> {
        let next = self.offset + received;
        if received == 0 || received < self.limit {
            return None;
        }
        if let Some(total) = total {
            if next >= total {
                return None;
            }
        }
        Some(next.to_string())
    }
}

/// Cursor paging (Clever `starting_after`): the cursor is the last id seen.
pub fn after(cursor: Option<&str>) -> Option<&str> {
    cursor.filter(|c| !c.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offset_paging_stops_on_short_page_or_total() {
        let p = Offset::from_cursor(None, 100).unwrap();
        assert_eq!(p.next_cursor(100, None).as_deref(), Some("100"));
        assert_eq!(p.next_cursor(40, None), None);
        assert_eq!(p.next_cursor(100, Some(100)), None);
        let p = Offset::from_cursor(Some("200"), 100).unwrap();
        assert_eq!(p.offset, 200);
        assert!(Offset::from_cursor(Some("x"), 100).is_err());
    }
}
