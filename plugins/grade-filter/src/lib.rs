//! Example filter rule: keeps students whose grade is within a range.
//!
//! A rule gets a batch of records and answers one verdict per record. This
//! one reads two settings (`min_grade`, `max_grade`), looks at each student's
//! `grades` attribute and drops the student when no grade falls in range.

use homeroom_sdk::prelude::*;

/// CEDS grade levels in school order.
const GRADES: [&str; 20] = [
    "IT", "PR", "PK", "TK", "KG", "01", "02", "03", "04", "05", "06", "07", "08", "09", "10", "11",
    "12", "13", "PS", "UG",
];

/// The position of a grade code in school order (accepts `1` for `01`).
pub fn grade_rank(code: &str) -> Option<usize> {
    let code = code.trim().to_ascii_uppercase();
    let padded = if code.len() == 1 && code.as_bytes()[0].is_ascii_digit() {
        format!("0{code}")
    } else {
        code
    };
    GRADES.iter().position(|g| *g == padded)
}

/// Decide for one record, given the range as ranks.
pub fn decide(entity: &Entity, min: usize, max: usize, keep_without: bool) -> Verdict {
    if entity.kind != EntityKind::User || entity.text("role") != Some("student") {
        return Verdict::Keep;
    }
    let grades: Vec<&str> = match entity.get("grades") {
        Some(Value::Texts(list)) => list.iter().map(String::as_str).collect(),
        Some(Value::Text(one)) => one.split(',').collect(),
        _ => Vec::new(),
    };
    if grades.is_empty() {
        return if keep_without {
            Verdict::Keep
        } else {
            Verdict::Drop("student has no grade".into())
        };
    }
    let in_range = grades
        .iter()
        .filter_map(|g| grade_rank(g))
        .any(|r| r >= min && r <= max);
    if in_range {
        Verdict::Keep
    } else {
        Verdict::Drop(format!(
            "grade {} is outside {}..{}",
            grades.join(","),
            GRADES[min],
            GRADES[max]
        ))
    }
}

struct GradeFilter;

impl Rule for GradeFilter {
    fn apply(batch: Vec<Entity>) -> Result<Vec<Verdict>, PluginError> {
        let min_code = settings::get("min_grade").unwrap_or_else(|| "KG".into());
        let max_code = settings::get("max_grade").unwrap_or_else(|| "12".into());
        let bad =
            |c: &str| PluginError::Config(format!("`{c}` is not a grade code; use KG, 01 ... 12"));
        let min = grade_rank(&min_code).ok_or_else(|| bad(&min_code))?;
        let max = grade_rank(&max_code).ok_or_else(|| bad(&max_code))?;
        let keep_without = settings::get("keep_without_grade").as_deref() == Some("true");
        Ok(batch
            .iter()
            .map(|e| decide(e, min, max, keep_without))
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

    #[test]
    fn keeps_in_range_and_drops_the_rest() {
        let (kg, g5) = (grade_rank("KG").unwrap(), grade_rank("5").unwrap());
        assert!(matches!(
            decide(&student("03"), kg, g5, false),
            Verdict::Keep
        ));
        assert!(
            matches!(decide(&student("09"), kg, g5, false), Verdict::Drop(r) if r.contains("09"))
        );
        let teacher = Entity::new(EntityKind::User, "t1").with_text("role", "teacher");
        assert!(matches!(decide(&teacher, kg, g5, false), Verdict::Keep));
    }
}
