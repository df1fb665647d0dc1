//! The mock's stored Classroom data, and how the API presents it: the
//! schemas of the discovery document (`Course`, `Teacher`, `Student`,
//! `UserProfile`, `Topic`, `CourseWork`, `StudentSubmission`, `Invitation`)
//! in proto3 JSON, where empty strings, `false`, `0` and empty lists are left
//! out of an answer.

use std::collections::BTreeMap;

use serde_json::{Map, Value as Json, json};

/// A user of the mock's Workspace directory.
#[derive(Debug, Clone, PartialEq)]
pub struct MockUser {
    /// The numeric identifier (a string, as Classroom gives it).
    pub id: String,
    pub email: String,
    pub given_name: String,
    pub family_name: String,
    /// The `CREATE_COURSE` global permission (true for users added by
    /// [`MockUser::new`]).
    pub can_create_courses: bool,
}

impl MockUser {
    /// A user with a full name (the last word is the family name).
    pub fn new(email: &str, id: &str, full_name: &str) -> MockUser {
        let full = full_name.split_whitespace().collect::<Vec<_>>();
        let (given, family) = match full.split_last() {
            Some((last, rest)) if !rest.is_empty() => (rest.join(" "), last.to_string()),
            Some((only, _)) => (only.to_string(), String::new()),
            None => (String::new(), String::new()),
        };
        MockUser {
            id: id.to_string(),
            email: email.to_string(),
            given_name: given,
            family_name: family,
            can_create_courses: true,
        }
    }

    pub fn full_name(&self) -> String {
        [self.given_name.as_str(), self.family_name.as_str()]
            .iter()
            .filter(|s| !s.is_empty())
            .copied()
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// The `UserProfile` (with `emailAddress` only when the token has the
    /// `classroom.profile.emails` scope, as Classroom answers).
    pub fn profile(&self, emails: bool) -> Json {
        let mut name = Map::new();
        put(&mut name, "givenName", &self.given_name);
        put(&mut name, "familyName", &self.family_name);
        put(&mut name, "fullName", &self.full_name());
        let mut p = Map::new();
        put(&mut p, "id", &self.id);
        p.insert("name".into(), Json::Object(name));
        if emails {
            put(&mut p, "emailAddress", &self.email);
        }
        if self.can_create_courses {
            p.insert(
                "permissions".into(),
                json!([{"permission": "CREATE_COURSE"}]),
            );
        }
        Json::Object(p)
    }
}

/// A teacher or student of a course.
#[derive(Debug, Clone, PartialEq)]
pub struct Member {
    pub user_id: String,
    pub(crate) seq: u64,
}

/// A course with everything in it.
#[derive(Debug, Clone, PartialEq)]
pub struct Course {
    /// The Classroom-assigned identifier.
    pub id: String,
    /// `d:…` and `p:…` aliases, oldest first.
    pub aliases: Vec<String>,
    pub name: String,
    /// Empty is unset (proto3), for this and the other optional strings.
    pub section: String,
    pub description_heading: String,
    pub description: String,
    pub room: String,
    pub subject: String,
    pub levels: String,
    pub owner_id: String,
    pub course_state: String,
    pub creation_time: String,
    pub update_time: String,
    pub enrollment_code: String,
    pub teacher_group_email: String,
    pub course_group_email: String,
    /// In the order they joined.
    pub teachers: Vec<Member>,
    pub students: Vec<Member>,
    pub topics: Vec<Topic>,
    pub course_work: Vec<CourseWork>,
    pub submissions: Vec<Submission>,
    pub(crate) seq: u64,
}

impl Course {
    pub fn is_teacher(&self, user_id: &str) -> bool {
        self.teachers.iter().any(|m| m.user_id == user_id)
    }

    pub fn is_student(&self, user_id: &str) -> bool {
        self.students.iter().any(|m| m.user_id == user_id)
    }

    pub fn teacher_ids(&self) -> Vec<String> {
        self.teachers.iter().map(|m| m.user_id.clone()).collect()
    }

    pub fn student_ids(&self) -> Vec<String> {
        self.students.iter().map(|m| m.user_id.clone()).collect()
    }

    pub fn topic_names(&self) -> Vec<String> {
        self.topics.iter().map(|t| t.name.clone()).collect()
    }

    /// The `Course` resource.
    pub fn to_json(&self) -> Json {
        let mut c = Map::new();
        put(&mut c, "id", &self.id);
        put(&mut c, "name", &self.name);
        put(&mut c, "section", &self.section);
        put(&mut c, "descriptionHeading", &self.description_heading);
        put(&mut c, "description", &self.description);
        put(&mut c, "room", &self.room);
        put(&mut c, "ownerId", &self.owner_id);
        put(&mut c, "creationTime", &self.creation_time);
        put(&mut c, "updateTime", &self.update_time);
        put(&mut c, "enrollmentCode", &self.enrollment_code);
        put(&mut c, "courseState", &self.course_state);
        put(
            &mut c,
            "alternateLink",
            &format!("https://classroom.google.com/c/{}", link_code(&self.id)),
        );
        put(&mut c, "teacherGroupEmail", &self.teacher_group_email);
        put(&mut c, "courseGroupEmail", &self.course_group_email);
        put(&mut c, "subject", &self.subject);
        put(&mut c, "levels", &self.levels);
        Json::Object(c)
    }
}

/// The code Classroom's web links carry for an id.
pub(crate) fn link_code(id: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(id.as_bytes())
}

#[derive(Debug, Clone, PartialEq)]
pub struct Topic {
    pub topic_id: String,
    pub course_id: String,
    pub name: String,
    pub update_time: String,
    pub(crate) seq: u64,
}

impl Topic {
    pub fn to_json(&self) -> Json {
        json!({
            "courseId": self.course_id,
            "topicId": self.topic_id,
            "name": self.name,
            "updateTime": self.update_time,
        })
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct CourseWork {
    pub id: String,
    pub course_id: String,
    pub title: String,
    pub description: String,
    /// `PUBLISHED` or `DRAFT`.
    pub state: String,
    pub work_type: String,
    /// 0 is ungraded.
    pub max_points: f64,
    pub topic_id: String,
    /// A `Date` object, as given.
    pub due_date: Option<Json>,
    /// A `TimeOfDay` object, as given.
    pub due_time: Option<Json>,
    pub scheduled_time: String,
    pub assignee_mode: String,
    /// With `INDIVIDUAL_STUDENTS`: who it is assigned to.
    pub student_ids: Vec<String>,
    pub submission_modification_mode: String,
    pub creator_user_id: String,
    pub creation_time: String,
    pub update_time: String,
    /// Created through the API by the mock's Developer Console project (the
    /// OAuth client): only such course work and its submissions may be
    /// changed through the API. Course work made by a teacher in the web UI
    /// (the handle) is not.
    pub associated_with_developer: bool,
    pub materials: Vec<Json>,
    pub multiple_choice_question: Option<Json>,
    pub grading_period_id: String,
    pub(crate) seq: u64,
}

impl CourseWork {
    pub fn to_json(&self) -> Json {
        let mut w = Map::new();
        put(&mut w, "courseId", &self.course_id);
        put(&mut w, "id", &self.id);
        put(&mut w, "title", &self.title);
        put(&mut w, "description", &self.description);
        if !self.materials.is_empty() {
            w.insert("materials".into(), Json::Array(self.materials.clone()));
        }
        put(&mut w, "state", &self.state);
        if self.state == "PUBLISHED" {
            put(
                &mut w,
                "alternateLink",
                &format!(
                    "https://classroom.google.com/c/{}/a/{}/details",
                    link_code(&self.course_id),
                    link_code(&self.id)
                ),
            );
        }
        put(&mut w, "creationTime", &self.creation_time);
        put(&mut w, "updateTime", &self.update_time);
        if let Some(d) = &self.due_date {
            w.insert("dueDate".into(), d.clone());
        }
        if let Some(t) = &self.due_time {
            w.insert("dueTime".into(), t.clone());
        }
        put(&mut w, "scheduledTime", &self.scheduled_time);
        if self.max_points != 0.0 {
            w.insert("maxPoints".into(), json!(self.max_points));
        }
        put(&mut w, "workType", &self.work_type);
        if self.work_type == "ASSIGNMENT" {
            w.insert("assignment".into(), json!({}));
        }
        if let Some(q) = &self.multiple_choice_question {
            w.insert("multipleChoiceQuestion".into(), q.clone());
        }
        if self.associated_with_developer {
            w.insert("associatedWithDeveloper".into(), json!(true));
        }
        put(&mut w, "assigneeMode", &self.assignee_mode);
        if self.assignee_mode == "INDIVIDUAL_STUDENTS" {
            w.insert(
                "individualStudentsOptions".into(),
                json!({"studentIds": self.student_ids}),
            );
        }
        put(
            &mut w,
            "submissionModificationMode",
            &self.submission_modification_mode,
        );
        put(&mut w, "creatorUserId", &self.creator_user_id);
        put(&mut w, "topicId", &self.topic_id);
        put(&mut w, "gradingPeriodId", &self.grading_period_id);
        Json::Object(w)
    }

    /// When it is due, in milliseconds since the epoch (UTC), if it has a
    /// due date.
    pub(crate) fn due_millis(&self) -> Option<i64> {
        let d = self.due_date.as_ref()?;
        let field = |j: &Json, k: &str| j.get(k).and_then(Json::as_i64).unwrap_or(0);
        let date = chrono::NaiveDate::from_ymd_opt(
            field(d, "year") as i32,
            field(d, "month").max(1) as u32,
            field(d, "day").max(1) as u32,
        )?;
        let t = self.due_time.clone().unwrap_or_else(|| json!({}));
        let time = chrono::NaiveTime::from_hms_opt(
            field(&t, "hours") as u32,
            field(&t, "minutes") as u32,
            field(&t, "seconds") as u32,
        )?;
        Some(date.and_time(time).and_utc().timestamp_millis())
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Submission {
    pub id: String,
    pub course_id: String,
    pub course_work_id: String,
    pub user_id: String,
    /// `CREATED` when made; `RETURNED` after [`super::MockClassroom::return_submission`].
    pub state: String,
    pub assigned_grade: Option<f64>,
    pub draft_grade: Option<f64>,
    pub creation_time: String,
    pub update_time: String,
    pub course_work_type: String,
    pub associated_with_developer: bool,
    /// `SubmissionHistory` entries, oldest first.
    pub history: Vec<Json>,
    /// Whether it is past due (worked out when the course work is due).
    pub late: bool,
    pub(crate) seq: u64,
}

impl Submission {
    pub fn to_json(&self) -> Json {
        let mut s = Map::new();
        put(&mut s, "courseId", &self.course_id);
        put(&mut s, "courseWorkId", &self.course_work_id);
        put(&mut s, "id", &self.id);
        put(&mut s, "userId", &self.user_id);
        put(&mut s, "creationTime", &self.creation_time);
        put(&mut s, "updateTime", &self.update_time);
        put(&mut s, "state", &self.state);
        if self.late {
            s.insert("late".into(), json!(true));
        }
        if let Some(g) = self.draft_grade {
            s.insert("draftGrade".into(), json!(g));
        }
        if let Some(g) = self.assigned_grade {
            s.insert("assignedGrade".into(), json!(g));
        }
        put(
            &mut s,
            "alternateLink",
            &format!(
                "https://classroom.google.com/c/{}/a/{}/submissions/by-status/and-sort-first-name/student/{}",
                link_code(&self.course_id),
                link_code(&self.course_work_id),
                link_code(&self.user_id)
            ),
        );
        put(&mut s, "courseWorkType", &self.course_work_type);
        if self.associated_with_developer {
            s.insert("associatedWithDeveloper".into(), json!(true));
        }
        match self.course_work_type.as_str() {
            "ASSIGNMENT" => {
                s.insert("assignmentSubmission".into(), json!({}));
            }
            "SHORT_ANSWER_QUESTION" => {
                s.insert("shortAnswerSubmission".into(), json!({}));
            }
            "MULTIPLE_CHOICE_QUESTION" => {
                s.insert("multipleChoiceSubmission".into(), json!({}));
            }
            _ => {}
        }
        if !self.history.is_empty() {
            s.insert(
                "submissionHistory".into(),
                Json::Array(self.history.clone()),
            );
        }
        Json::Object(s)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Invitation {
    pub id: String,
    pub course_id: String,
    pub user_id: String,
    /// `STUDENT`, `TEACHER` or `OWNER`.
    pub role: String,
    pub(crate) seq: u64,
}

impl Invitation {
    pub fn to_json(&self) -> Json {
        json!({
            "id": self.id,
            "userId": self.user_id,
            "courseId": self.course_id,
            "role": self.role,
        })
    }
}

/// Everything the mock holds, at one moment.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    pub users: Vec<MockUser>,
    /// Oldest first.
    pub courses: Vec<Course>,
    pub invitations: Vec<Invitation>,
}

impl Snapshot {
    /// A course by id or alias.
    pub fn course(&self, id_or_alias: &str) -> Option<&Course> {
        self.courses
            .iter()
            .find(|c| c.id == id_or_alias || c.aliases.iter().any(|a| a == id_or_alias))
    }

    /// Groups (two or more) of course ids that share name, section and
    /// owner: what a non-idempotent export leaves behind. Members, topics
    /// and aliases cannot repeat (the mock refuses them as Classroom does).
    pub fn duplicate_courses(&self) -> Vec<Vec<String>> {
        let mut groups: BTreeMap<(String, String, String), Vec<String>> = BTreeMap::new();
        for c in &self.courses {
            groups
                .entry((c.name.clone(), c.section.clone(), c.owner_id.clone()))
                .or_default()
                .push(c.id.clone());
        }
        groups.into_values().filter(|g| g.len() > 1).collect()
    }

    /// All of it as JSON: each course as the API gives it, with its
    /// `aliases`, `teachers` and `students` (user ids), `topics`,
    /// `courseWork` and `studentSubmissions`.
    pub fn to_json(&self) -> Json {
        let courses = self
            .courses
            .iter()
            .map(|c| {
                let mut j = c.to_json();
                if let Some(o) = j.as_object_mut() {
                    o.insert("aliases".into(), json!(c.aliases));
                    o.insert("teachers".into(), json!(c.teacher_ids()));
                    o.insert("students".into(), json!(c.student_ids()));
                    o.insert(
                        "topics".into(),
                        Json::Array(c.topics.iter().map(Topic::to_json).collect()),
                    );
                    o.insert(
                        "courseWork".into(),
                        Json::Array(c.course_work.iter().map(CourseWork::to_json).collect()),
                    );
                    o.insert(
                        "studentSubmissions".into(),
                        Json::Array(c.submissions.iter().map(Submission::to_json).collect()),
                    );
                }
                j
            })
            .collect::<Vec<_>>();
        json!({
            "users": self.users.iter().map(|u| u.profile(true)).collect::<Vec<_>>(),
            "courses": courses,
            "invitations": self.invitations.iter().map(Invitation::to_json).collect::<Vec<_>>(),
        })
    }
}

/// Insert a string field unless it is empty (proto3 leaves defaults out).
pub(crate) fn put(map: &mut Map<String, Json>, key: &str, value: &str) {
    if !value.is_empty() {
        map.insert(key.to_string(), Json::String(value.to_string()));
    }
}
