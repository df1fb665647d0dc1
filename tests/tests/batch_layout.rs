//! The packed batch a rule gets (`rule-api.batch` in `wit/0.1.0/rule.wit`)
//! is written by the host (`homeroom_host::runtime::wire`) and read by the
//! SDK (`homeroom_sdk::rule::wire`), two copies of one layout on the two
//! sides of the boundary. These tests hold both to the WIT: the words per
//! row its comments state, the case order of `value` and `entity-kind` in
//! `types.wit`, and a page packed by the host read back by the SDK.

use homeroom_host::bindings::types as host;
use homeroom_host::model::record::Record;
use homeroom_host::runtime::{RuleSession, wire as host_wire};
use homeroom_sdk::rule::wire as sdk_wire;
use serde_json::json;

fn wit(file: &str) -> String {
    let path = format!("{}/../wit/0.1.0/{file}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The number in "N words per WHAT" of `rule.wit`'s batch comments.
fn words_per(what: &str) -> usize {
    let text = wit("rule.wit");
    let needle = format!(" words per {what}");
    let at = text
        .find(&needle)
        .unwrap_or_else(|| panic!("rule.wit says nothing of words per {what}"));
    let digits: String = text[..at]
        .chars()
        .rev()
        .take_while(char::is_ascii_digit)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    digits.parse().expect("a number of words")
}

/// The case names of `variant NAME` or `enum NAME` in `types.wit`, in order.
fn cases(decl: &str) -> Vec<String> {
    let text = wit("types.wit");
    let start = text
        .find(&format!("{decl} {{"))
        .unwrap_or_else(|| panic!("types.wit has no `{decl}`"));
    let body = &text[start + decl.len() + 2..];
    let body = &body[..body.find('}').expect("the declaration ends")];
    body.split(',')
        .map(|c| {
            let c = c.trim();
            let c = c.split('(').next().unwrap_or(c);
            c.trim_start_matches('%').to_string()
        })
        .filter(|c| !c.is_empty())
        .collect()
}

#[test]
fn words_per_row_are_the_wits_on_both_sides() {
    let wit = (
        words_per("record"),
        words_per("attribute"),
        words_per("item"),
    );
    assert_eq!(
        wit,
        (
            host_wire::ENTITY_WORDS,
            host_wire::ATTRIBUTE_WORDS,
            host_wire::ITEM_WORDS
        ),
        "the host's rows"
    );
    assert_eq!(
        wit,
        (
            sdk_wire::ENTITY_WORDS,
            sdk_wire::ATTRIBUTE_WORDS,
            sdk_wire::ITEM_WORDS
        ),
        "the SDK's rows"
    );
    assert_eq!(host_wire::NONE, sdk_wire::NONE);
}

#[test]
fn value_tags_are_the_case_order_of_value() {
    let order = cases("variant value");
    let index = |name: &str| {
        order
            .iter()
            .position(|c| c == name)
            .unwrap_or_else(|| panic!("`value` has no case {name}: {order:?}")) as u32
    };
    let host_tags = [
        ("null", host_wire::tag::NULL),
        ("text", host_wire::tag::TEXT),
        ("integer", host_wire::tag::INTEGER),
        ("number", host_wire::tag::NUMBER),
        ("boolean", host_wire::tag::BOOLEAN),
        ("texts", host_wire::tag::TEXTS),
        ("reference", host_wire::tag::REFERENCE),
        ("references", host_wire::tag::REFERENCES),
    ];
    for (name, tag) in host_tags {
        assert_eq!(tag, index(name), "the host's tag of {name}");
    }
    let sdk_tags = [
        ("null", sdk_wire::tag::NULL),
        ("text", sdk_wire::tag::TEXT),
        ("integer", sdk_wire::tag::INTEGER),
        ("number", sdk_wire::tag::NUMBER),
        ("boolean", sdk_wire::tag::BOOLEAN),
        ("date", sdk_wire::tag::DATE),
        ("date-time", sdk_wire::tag::DATE_TIME),
        ("texts", sdk_wire::tag::TEXTS),
        ("reference", sdk_wire::tag::REFERENCE),
        ("references", sdk_wire::tag::REFERENCES),
    ];
    assert_eq!(sdk_tags.len(), order.len(), "the SDK reads every case");
    for (name, tag) in sdk_tags {
        assert_eq!(tag, index(name), "the SDK's tag of {name}");
    }
}

#[test]
fn kind_indices_are_the_case_order_of_entity_kind() {
    let order = cases("enum entity-kind");
    assert_eq!(order.len(), host::EntityKind::ALL.len());
    for kind in host::EntityKind::ALL {
        let name = kind.cli_name();
        let wit_index = order
            .iter()
            .position(|c| c == name)
            .unwrap_or_else(|| panic!("`entity-kind` has no case {name}"));
        assert_eq!(
            host_wire::kind_index(kind) as usize,
            wit_index,
            "the host's index of {name}"
        );
        assert_eq!(
            format!("{:?}", sdk_wire::KINDS[wit_index]),
            format!("{kind:?}"),
            "the SDK's kind at index {wit_index}"
        );
    }
}

/// A page with every kind of value the host sends, packed by the host and
/// read by the SDK, gives back each record as it was.
#[test]
fn a_page_the_host_packs_reads_back_in_the_sdk() {
    let records: Vec<Record> = [
        (
            host::EntityKind::User,
            "u-1",
            false,
            Some("2025-01-15T10:00:00Z"),
            json!({
                "givenName": "Ada", "enabledUser": true, "grades": ["05", "06"],
                "orgs": [{"kind": "org", "id": "s-1"}, {"kind": "org", "id": "s-2"}],
                "primaryOrg": {"kind": "org", "id": "s-1"}, "identifier": null,
                "middleName": "Ünïcødé ✓",
            }),
        ),
        (
            host::EntityKind::LineItem,
            "li-9",
            false,
            None,
            json!({
                "resultValueMax": 12.5, "weight": -3, "title": "",
            }),
        ),
        (host::EntityKind::Enrollment, "e-3", true, None, json!({})),
    ]
    .into_iter()
    .map(|(kind, id, deleted, modified, attrs)| Record {
        kind,
        source_id: id.into(),
        deleted,
        modified: modified.map(str::to_string),
        attrs: attrs
            .as_object()
            .map(|o| o.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default(),
    })
    .collect();
    let packed = RuleSession::pack(&records, None).expect("the host packs the page");
    let batch = homeroom_sdk::Batch::from_wire(sdk_wire::Batch {
        names: packed.names.clone(),
        entities: packed.entities.clone(),
        attributes: packed.attributes.clone(),
        items: packed.items.clone(),
        text: packed.text.clone(),
    });
    assert_eq!(batch.len(), records.len());
    for (record, read) in records.iter().zip(batch.records()) {
        let back = Record::from_entity(host_entity(read.to_entity()));
        assert_eq!(
            &back, record,
            "the SDK read {} as the host packed it",
            record.source_id
        );
    }
}

/// An SDK entity in the host's types, case by case.
fn host_entity(e: homeroom_sdk::Entity) -> host::Entity {
    use homeroom_sdk::Value as V;
    let kind = |k: homeroom_sdk::EntityKind| {
        let index = sdk_wire::KINDS
            .iter()
            .position(|x| *x == k)
            .expect("a kind the SDK knows");
        host::EntityKind::ALL
            .into_iter()
            .find(|h| host_wire::kind_index(*h) as usize == index)
            .expect("a kind the host knows")
    };
    let reference = |r: homeroom_sdk::Reference| host::Reference {
        kind: kind(r.kind),
        source_id: r.source_id,
    };
    host::Entity {
        kind: kind(e.kind),
        source_id: e.source_id,
        status: match e.status {
            homeroom_sdk::Status::Active => host::Status::Active,
            homeroom_sdk::Status::ToBeDeleted => host::Status::ToBeDeleted,
        },
        date_last_modified: e.date_last_modified,
        attributes: e
            .attributes
            .into_iter()
            .map(|a| host::Attribute {
                name: a.name,
                value: match a.value {
                    V::Null => host::Value::Null,
                    V::Text(t) => host::Value::Text(t),
                    V::Integer(i) => host::Value::Integer(i),
                    V::Number(n) => host::Value::Number(n),
                    V::Boolean(b) => host::Value::Boolean(b),
                    V::Date(d) => host::Value::Date(d),
                    V::DateTime(d) => host::Value::DateTime(d),
                    V::Texts(t) => host::Value::Texts(t),
                    V::Reference(r) => host::Value::Reference(reference(r)),
                    V::References(rs) => {
                        host::Value::References(rs.into_iter().map(reference).collect())
                    }
                },
            })
            .collect(),
    }
}
