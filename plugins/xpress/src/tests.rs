//! Unit tests of the mapping: what a district admin would see of an xPress
//! roster, student and contact as records.

use homeroom_sdk::{EntityKind, Value};
use serde_json::json;

use crate::map::{self, Collection};

#[test]
fn a_roster_is_a_class_with_its_term_and_enrollments_for_students_and_staff() {
    let roster = json!({
        "refId": "r1", "courseRefId": "c1", "courseTitle": "Algebra I", "schoolRefId": "s1",
        "schoolSectionId": "ALG-1", "subject": "Mathematics",
        "meetingTimes": {"meetingTime": {"schoolCalendarRefId": "cal1", "sessionCode": "S1"}},
        "students": {"studentReference": [{"refId": "st1"}, {"refId": "st2"}]},
        "primaryStaff": {"staffPersonReference": {"refId": "t1"}, "teacherOfRecord": true},
        "otherStaffs": {"otherStaff": [{"staffPersonReference": {"refId": "t2"}}]}
    });
    let class = map::entities(EntityKind::Class, Collection::Rosters, &roster, &[]).unwrap();
    assert_eq!(class[0].text("title"), Some("Algebra I (ALG-1)"));
    assert!(
        matches!(class[0].get("terms"), Some(Value::References(r)) if r[0].source_id == "cal1:S1")
    );
    let e = map::entities(EntityKind::Enrollment, Collection::Rosters, &roster, &[]).unwrap();
    let ids: Vec<&str> = e.iter().map(|e| e.source_id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "r1-student-st1",
            "r1-student-st2",
            "r1-teacher-t1",
            "r1-teacher-t2"
        ]
    );
    assert!(matches!(e[2].get("primary"), Some(Value::Boolean(true))));
    assert!(matches!(e[3].get("primary"), Some(Value::Boolean(false))));
}

#[test]
fn people_carry_their_ids_schools_and_relations() {
    let student = json!({"refId": "st1", "localId": "1001", "stateProvinceId": "NY-9",
        "name": {"givenName": "Ana", "familyName": "Diaz"},
        "email": {"emailType": "Organizational", "emailAddress": "ana@d.org"},
        "enrollment": {"schoolRefId": "s1", "gradeLevel": "09"},
        "studentContacts": {"contactPersonRefId": ["k1"]}});
    let u = &map::entities(EntityKind::User, Collection::Students, &student, &[]).unwrap()[0];
    assert_eq!(
        (u.text("role"), u.text("identifier"), u.text("email")),
        (Some("student"), Some("1001"), Some("ana@d.org"))
    );
    assert!(
        matches!(u.get("userIds"), Some(Value::Texts(ids)) if ids == &["xpress:st1", "local_id:1001", "state_id:NY-9"]),
        "{:?}",
        u.get("userIds")
    );
    let contact = json!({"refId": "k1", "name": {"givenName": "Luz", "familyName": "Diaz"},
        "relationships": {"relationship": [{"studentRefId": "st1", "relationshipCode": "Mother"}]}});
    let k = &map::entities(
        EntityKind::User,
        Collection::Contacts,
        &contact,
        &["lea1".into()],
    )
    .unwrap()[0];
    assert_eq!(k.text("role"), Some("parent"));
    assert!(matches!(k.get("orgs"), Some(Value::References(r)) if r[0].source_id == "lea1"));
    let staff = json!({"refId": "t9", "primaryAssignment": {"schoolRefId": "s1", "jobFunction": "Principal"}});
    let s = &map::entities(EntityKind::User, Collection::Staffs, &staff, &[]).unwrap()[0];
    assert_eq!(s.text("role"), Some("administrator"));
    assert!(
        map::entities(
            EntityKind::User,
            Collection::Staffs,
            &json!({"name": {}}),
            &[]
        )
        .is_err()
    );
}
