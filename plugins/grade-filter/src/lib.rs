//! Example filter rule: keeps students whose grade is within a range.
//!
//! A rule gets a batch of records and answers one verdict per record. This
//! one reads two settings (`min_grade`, `max_grade`), looks at each student's
//! `grades` attribute and drops the student when no grade falls in range.
//! Its manifest declares `reads = ["role", "grades"]`, so the host sends it
//! those two attributes of each record and nothing else.

use homeroom_sdk::prelude::*;

/// CEDS grade levels in school order.
const GRADES: [&str; 20] = [
    "IT", "PR", "PK", "TK", "KG", "01", "02", "03", "04", "05", "06", "07", "08", "09", "10", "11",
    "12", "13", "PS", "UG",
];

/// The position of a grade code in school order (accepts `1` for `01`, and
/// any case). Allocates nothing: it runs for every student.
pub fn grade_rank(code: &str) -> Option<usize> {
    let code = code.trim();
    match code.as_bytes() {
        [d] if d.is_ascii_digit() => GRADES.iter().position(|g| g.as_bytes() == [b'0', *d]),
        _ => GRADES.iter().position(|g| g.eq_ignore_ascii_case(code)),
    }
}

/// Decide for one record, given the range as ranks.
pub fn decide(record: &RecordRef<'_>, min: usize, max: usize, keep_without: bool) -> Verdict {
    if record.kind() != EntityKind::User || record.text("role") != Some("student") {
        return Verdict::Keep;
    }
    let in_range = |g: &str| grade_rank(g).is_some_and(|r| r >= min && r <= max);
    // Whether the student has a grade, and whether one is in range.
    let (any, kept) = match record.get("grades") {
        Some(ValueRef::Texts(list)) => {
            let any = list.len() > 0;
            (any, list.clone().any(in_range))
        }
        Some(ValueRef::Text(one)) => (true, one.split(',').any(in_range)),
        _ => (false, false),
    };
    if !any {
        return if keep_without {
            Verdict::Keep
        } else {
            Verdict::Drop("student has no grade".into())
        };
    }
    if kept {
        return Verdict::Keep;
    }
    // Only a dropped student costs an allocation: the reason.
    let mut why = String::with_capacity(40);
    why.push_str("grade ");
    match record.get("grades") {
        Some(ValueRef::Texts(list)) => {
            for (i, g) in list.enumerate() {
                if i > 0 {
                    why.push(',');
                }
                why.push_str(g);
            }
        }
        Some(ValueRef::Text(one)) => why.push_str(one),
        _ => {}
    }
    why.push_str(" is outside ");
    why.push_str(GRADES[min]);
    why.push_str("..");
    why.push_str(GRADES[max]);
    Verdict::Drop(why)
}

struct GradeFilter;

impl Rule for GradeFilter {
    fn apply(batch: &Batch) -> Result<Vec<Verdict>, PluginError> {
        let min_code = settings::get("min_grade").unwrap_or_else(|| "KG".into());
        let max_code = settings::get("max_grade").unwrap_or_else(|| "12".into());
        let bad =
            |c: &str| PluginError::Config(format!("`{c}` is not a grade code; use KG, 01 ... 12"));
        let min = grade_rank(&min_code).ok_or_else(|| bad(&min_code))?;
        let max = grade_rank(&max_code).ok_or_else(|| bad(&max_code))?;
        let keep_without = settings::get("keep_without_grade").as_deref() == Some("true");
        Ok(batch
            .records()
            .map(|r| decide(&r, min, max, keep_without))
            .collect())
    }
}

homeroom_sdk::export_rule!(GradeFilter);

#[cfg(test)]
mod tests {
    use super::*;

    fn student(grade: &str) -> Entity {
        Entity::new(EntityKind::User, "s1")
            .with_text("role", "student")
            .with("grades", Value::Texts(vec![grade.to_string()]))
    }

    fn verdicts(batch: &[Entity]) -> Vec<Verdict> {
        let (kg, g5) = (grade_rank("KG").unwrap(), grade_rank("5").unwrap());
        let batch = Batch::from_entities(batch);
        batch.records().map(|r| decide(&r, kg, g5, false)).collect()
    }

    #[test]
    fn keeps_in_range_and_drops_the_rest() {
        let teacher = Entity::new(EntityKind::User, "t1").with_text("role", "teacher");
        let v = verdicts(&[student("03"), student("09"), teacher]);
        assert!(matches!(v[0], Verdict::Keep));
        assert!(matches!(&v[1], Verdict::Drop(r) if r.contains("09")));
        assert!(matches!(v[2], Verdict::Keep));
    }

    #[test]
    fn reasons_name_the_grades_and_the_range() {
        let mut two = student("07");
        two.set("grades", Value::Texts(vec!["07".into(), "08".into()]));
        let mut text = student("x");
        text.set("grades", Value::Text("9,10".into()));
        let none = Entity::new(EntityKind::User, "s2").with_text("role", "student");
        let v = verdicts(&[two, text, none]);
        assert!(matches!(&v[0], Verdict::Drop(r) if r == "grade 07,08 is outside KG..05"));
        assert!(matches!(&v[1], Verdict::Drop(r) if r == "grade 9,10 is outside KG..05"));
        assert!(matches!(&v[2], Verdict::Drop(r) if r == "student has no grade"));
        assert_eq!(grade_rank(" kg "), grade_rank("KG"));
        assert_eq!(grade_rank("3"), grade_rank("03"));
        assert_eq!(grade_rank("99"), None);
    }
}
