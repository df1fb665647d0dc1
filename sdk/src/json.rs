//! Reading the JSON records of a source's API field by field, for a
//! connector's mapping: a trimmed, non-empty string, the strings of a list,
//! a value down a path of keys. What it must not do: know any one source's
//! field names, or build entities (see [`crate::Entity`]'s builders).

use serde_json::Value as Json;

/// A non-empty, trimmed string field.
pub fn text(record: &Json, key: &str) -> Option<String> {
    record
        .get(key)
        .and_then(Json::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

/// The value down `path` (`["name", "familyName"]`), none when a step is
/// missing.
pub fn at<'a>(record: &'a Json, path: &[&str]) -> Option<&'a Json> {
    path.iter().try_fold(record, |value, key| value.get(*key))
}

/// A non-empty, trimmed string down `path`.
pub fn text_at(record: &Json, path: &[&str]) -> Option<String> {
    let (last, parents) = path.split_last()?;
    text(at(record, parents)?, last)
}

/// The items down `path`: a list's items, or a lone object as one item (an
/// XML-born JSON, such as SIF's, writes a list of one as the object itself).
pub fn items<'a>(record: &'a Json, path: &[&str]) -> Vec<&'a Json> {
    match at(record, path) {
        Some(Json::Array(list)) => list.iter().collect(),
        Some(Json::Null) | None => Vec::new(),
        Some(one) => vec![one],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn fields_are_read_trimmed_and_lists_of_one_are_lists() {
        let r = json!({"name": {"familyName": " Rivera ", "givenName": ""},
                       "one": {"refId": "a"}, "many": [{"refId": "b"}, {"refId": "c"}]});
        assert_eq!(
            text_at(&r, &["name", "familyName"]).as_deref(),
            Some("Rivera")
        );
        assert_eq!(text_at(&r, &["name", "givenName"]), None);
        assert_eq!(text_at(&r, &["nothing", "here"]), None);
        assert_eq!(items(&r, &["one"]).len(), 1);
        assert_eq!(items(&r, &["many"]).len(), 2);
        assert!(items(&r, &["none"]).is_empty());
    }
}
