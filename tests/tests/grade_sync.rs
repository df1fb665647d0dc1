//! The two-way grade loop of the grade-sync article (issue 14): a SIS
//! (the OneRoster mock, 1.2 rostering and gradebook) and Google Classroom
//! (the mock written from its discovery document), both as two-way
//! integrations of one organization. The roster goes from the SIS to
//! Classroom as courses, members and topics; a teacher grades in
//! Classroom; the next sync reads the coursework and grades back and
//! writes them to the SIS's gradebook under the SIS's own ids. A second
//! sync changes nothing anywhere. On SQLite and PostgreSQL.

use std::collections::BTreeMap;

use homeroom_host::config::{DistrictConfig, MasterField, Organization, SourceConfig, SyncMode};
use homeroom_host::pipeline::export::ExportOptions;
use homeroom_host::pipeline::{Engine, ImportOptions};
use homeroom_host::secret::Secret;
use homeroom_host::store::{Run, RunStatus};
use homeroom_tests::classroom_mock::{self, MockClassroom};
use homeroom_tests::oneroster_mock::{self, Dataset, MockOneRoster, Version};
use homeroom_tests::support::{count, database_urls, engine, org_id};
use serde_json::{Value as Json, json};

fn sis(mock: &MockOneRoster) -> SourceConfig {
    let mut s = SourceConfig::new("sis", "oneroster");
    s.sync_mode = SyncMode::Sync;
    s.settings
        .insert("service_url".into(), mock.service_url(Version::V1p2));
    s.settings.insert("version".into(), "1.2".into());
    s.settings
        .insert("auth".into(), "oauth2-client-credentials".into());
    s.settings
        .insert("client_id".into(), oneroster_mock::CLIENT_ID.into());
    s.settings.insert("token_url".into(), mock.token_url());
    s.advanced.auto_commit = true;
    // The roster, and the district's gradebook categories, come from the
    // SIS: it is master of every field of them.
    for kind in [
        "org",
        "academic-session",
        "course",
        "class",
        "user",
        "category",
    ] {
        s.master_fields.push(MasterField {
            kind: kind.into(),
            attribute: "*".into(),
            source: "sis".into(),
        });
    }
    s
}

fn classroom(mock: &MockClassroom) -> SourceConfig {
    let mut s = SourceConfig::new("classroom", "google-classroom");
    s.sync_mode = SyncMode::Sync;
    s.settings.insert("service_url".into(), mock.base_url());
    s.settings.insert("token_url".into(), mock.token_url());
    s.settings
        .insert("client_id".into(), classroom_mock::CLIENT_ID.into());
    s.settings
        .insert("owner".into(), classroom_mock::ADMIN_EMAIL.into());
    s.advanced.auto_commit = true;
    // Line items and results are Classroom's.
    for kind in ["line-item", "result"] {
        s.master_fields.push(MasterField {
            kind: kind.into(),
            attribute: "*".into(),
            source: "classroom".into(),
        });
    }
    s
}

fn secrets(source: &str) -> BTreeMap<String, Secret> {
    let s = |v: &str| Secret::new(v.to_string());
    match source {
        "sis" => BTreeMap::from([(
            "client_secret".to_string(),
            s(oneroster_mock::CLIENT_SECRET),
        )]),
        _ => BTreeMap::from([
            (
                "client_secret".to_string(),
                s(classroom_mock::CLIENT_SECRET),
            ),
            (
                "refresh_token".to_string(),
                s(classroom_mock::REFRESH_TOKEN),
            ),
        ]),
    }
}

/// The district's Google Workspace: every person of the SIS, by email.
async fn workspace(dataset: &Dataset) -> MockClassroom {
    let mock = MockClassroom::start().await.unwrap();
    for (i, user) in dataset.records("users").iter().enumerate() {
        if let Some(email) = user.get("email").and_then(Json::as_str) {
            mock.add_user(email, &format!("3{i:020}"), email);
        }
    }
    mock
}

struct District {
    engine: Engine,
    org: String,
}

impl District {
    async fn import(&self, source: &str) -> Run {
        let run = self
            .engine
            .import(
                &self.org,
                source,
                ImportOptions {
                    secrets: Some(secrets(source)),
                    ..Default::default()
                },
            )
            .await
            .expect("the import runs");
        assert_eq!(
            run.status,
            RunStatus::Committed,
            "{source}: {:?} {:?}",
            run.report.failure,
            run.report.errors.first()
        );
        run
    }

    async fn export(&self, destination: &str) -> Run {
        let run = self
            .engine
            .export(
                &self.org,
                destination,
                ExportOptions {
                    trigger: "commit".into(),
                    by: "test".into(),
                    secrets: Some(secrets(destination)),
                    ..Default::default()
                },
            )
            .await
            .expect("the export runs");
        assert_eq!(
            run.status,
            RunStatus::Committed,
            "{destination}: {:?}",
            run.report.failure
        );
        run
    }

    /// What a sync of the organization does: each integration is read,
    /// and each commit sends every destination what changed for it.
    async fn sync(&self) -> Vec<Run> {
        let mut runs = Vec::new();
        for source in ["sis", "classroom"] {
            runs.push(self.import(source).await);
            for destination in ["classroom", "sis"] {
                runs.push(self.export(destination).await);
            }
        }
        runs
    }
}

fn changed(run: &Run) -> u64 {
    run.report
        .total(|c| c.add + c.update + c.delete + c.errors + c.retry)
}

#[tokio::test]
async fn grades_made_in_classroom_reach_the_sis_gradebook_and_a_second_sync_changes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    for url in database_urls(tmp.path()) {
        let dataset = Dataset::sample();
        let sis_mock = MockOneRoster::start(dataset.clone()).await.unwrap();
        let gc = workspace(&dataset).await;
        let district = District {
            engine: engine(&url).await,
            org: org_id("grades"),
        };
        district
            .engine
            .apply_config(&DistrictConfig {
                organization: Organization {
                    id: district.org.clone(),
                    name: "Springfield".into(),
                    ..Default::default()
                },
                sources: vec![sis(&sis_mock), classroom(&gc)],
                vendors: Vec::new(),
            })
            .await
            .expect("apply");

        // 1. The roster goes from the SIS to Classroom.
        let first = district.import("sis").await;
        assert_eq!(count(&first, "class", |c| c.add), 3, "{url}");
        assert_eq!(
            count(&first, "line-item", |c| c.read),
            0,
            "{url}: the SIS's line items are not read back: grades are Classroom's"
        );
        let to_classroom = district.export("classroom").await;
        assert_eq!(count(&to_classroom, "class", |c| c.add), 3, "{url}");
        assert_eq!(
            count(&to_classroom, "category", |c| c.add),
            2,
            "{url}: {:?}",
            to_classroom.report.errors
        );
        let to_sis = district.export("sis").await;
        assert_eq!(changed(&to_sis), 0, "{url}: nothing for the SIS yet");

        let algebra = gc
            .courses()
            .into_iter()
            .find(|c| c.name == "Algebra I - P1")
            .expect("the Algebra class is a course");
        let topics = gc.topics(&algebra.id);
        let tests_topic = topics
            .iter()
            .find(|t| t.name == "Tests")
            .unwrap_or_else(|| panic!("{url}: the SIS's categories are topics: {topics:?}"));
        let students = gc.students(&algebra.id);
        assert!(students.len() >= 2, "{url}: {students:?}");

        // 2. A teacher sets a quiz under the Tests topic and grades two students.
        let work = gc
            .act(
                "POST",
                &format!("/v1/courses/{}/courseWork", algebra.id),
                Some(json!({
                    "title": "Quiz 2", "workType": "ASSIGNMENT", "state": "PUBLISHED",
                    "maxPoints": 10.0, "topicId": tests_topic.topic_id,
                    "dueDate": {"year": 2024, "month": 10, "day": 4},
                    "dueTime": {"hours": 23, "minutes": 59},
                })),
            )
            .expect("coursework is made");
        let work_id = work["id"].as_str().unwrap().to_string();
        let graded: Vec<(String, f64)> = students
            .iter()
            .take(2)
            .zip([8.5, 6.0])
            .map(|(s, g)| (s.email.clone(), g))
            .collect();
        for (email, grade) in &graded {
            gc.set_assigned_grade(&algebra.id, &work_id, email, *grade)
                .expect("graded");
        }

        // 3. The next sync reads them back and writes them to the SIS.
        let puts_before = sis_mock.requests_to("lineItems") + sis_mock.requests_to("results");
        let runs = district.sync().await;
        let read_back = &runs[3];
        assert_eq!(read_back.source_id, "classroom");
        assert_eq!(count(read_back, "line-item", |c| c.add), 1, "{url}");
        assert_eq!(count(read_back, "result", |c| c.add), 2, "{url}");
        let to_sis = &runs[5];
        assert_eq!(to_sis.source_id, "sis");
        assert_eq!(
            count(to_sis, "line-item", |c| c.add),
            1,
            "{url}: {:?}",
            to_sis.report.errors
        );
        assert_eq!(
            count(to_sis, "result", |c| c.add),
            2,
            "{url}: {:?} {:?}",
            to_sis.report.errors,
            to_sis.report.warnings
        );
        assert!(
            sis_mock.requests_to("lineItems") + sis_mock.requests_to("results") > puts_before,
            "{url}"
        );

        // In the SIS's gradebook, under the SIS's ids of the class, its
        // category and its students.
        let quiz = sis_mock
            .records("lineItems")
            .into_iter()
            .find(|l| l["title"] == "Quiz 2")
            .unwrap_or_else(|| panic!("{url}: the quiz is in the SIS"));
        assert_eq!(quiz["class"]["sourcedId"], "c-alg-1", "{url}: {quiz}");
        assert_eq!(quiz["category"]["sourcedId"], "cat-test", "{url}: {quiz}");
        assert_eq!(quiz["school"]["sourcedId"], "s1", "{url}: {quiz}");
        assert_eq!(quiz["resultValueMax"], 10.0, "{url}: {quiz}");
        let quiz_id = quiz["sourcedId"].as_str().unwrap().to_string();
        let results: Vec<Json> = sis_mock
            .records("results")
            .into_iter()
            .filter(|r| r["lineItem"]["sourcedId"] == quiz_id.as_str())
            .collect();
        assert_eq!(results.len(), 2, "{url}: {results:?}");
        let by_email: BTreeMap<String, String> = dataset
            .records("users")
            .iter()
            .filter_map(|u| {
                Some((
                    u["email"].as_str()?.to_string(),
                    u["sourcedId"].as_str()?.to_string(),
                ))
            })
            .collect();
        for (email, grade) in &graded {
            let student = &by_email[email];
            let r = results
                .iter()
                .find(|r| r["student"]["sourcedId"] == student.as_str())
                .unwrap_or_else(|| panic!("{url}: {email}'s grade is in the SIS: {results:?}"));
            assert_eq!(r["score"], *grade, "{url}: {r}");
            assert_eq!(r["scoreStatus"], "fully graded", "{url}: {r}");
        }

        // A homework without a due date: the SIS cannot take it, and says
        // why; its grade waits for it while the rest goes. Given a due
        // date, both go at the next sync.
        let homework = gc
            .act(
                "POST",
                &format!("/v1/courses/{}/courseWork", algebra.id),
                Some(json!({
                    "title": "Homework 3", "workType": "ASSIGNMENT", "state": "PUBLISHED",
                    "maxPoints": 5.0, "topicId": tests_topic.topic_id,
                })),
            )
            .expect("coursework is made");
        let homework_id = homework["id"].as_str().unwrap().to_string();
        gc.set_assigned_grade(&algebra.id, &homework_id, &graded[0].0, 4.0)
            .expect("graded");
        gc.set_assigned_grade(&algebra.id, &work_id, &graded[1].0, 7.0)
            .expect("regraded");
        let runs = district.sync().await;
        let to_sis = &runs[5];
        assert_eq!(
            count(to_sis, "line-item", |c| c.errors),
            1,
            "{url}: {:?}",
            to_sis.report.counts
        );
        let refused = &to_sis.report.errors[0];
        assert!(
            refused.message.contains("dueDate") && refused.message.contains("due date"),
            "{url}: the SIS's reason is the admin's: {refused:?}"
        );
        assert_eq!(
            count(to_sis, "result", |c| c.retry),
            1,
            "{url}: the homework's grade waits"
        );
        assert_eq!(
            count(to_sis, "result", |c| c.update),
            1,
            "{url}: the regrade goes"
        );
        assert!(
            to_sis
                .report
                .warnings
                .iter()
                .any(|w| w.message.contains("waits for its `lineItem`")),
            "{url}: {:?}",
            to_sis.report.warnings
        );
        assert!(
            sis_mock
                .records("lineItems")
                .iter()
                .all(|l| l["title"] != "Homework 3"),
            "{url}"
        );
        gc.act(
            "PATCH",
            &format!(
                "/v1/courses/{}/courseWork/{homework_id}?updateMask=dueDate,dueTime",
                algebra.id
            ),
            Some(json!({"dueDate": {"year": 2024, "month": 10, "day": 11},
                "dueTime": {"hours": 17, "minutes": 0}})),
        )
        .expect("the teacher gives it a due date");
        let runs = district.sync().await;
        let to_sis = &runs[5];
        assert_eq!(
            (
                count(to_sis, "line-item", |c| c.add),
                count(to_sis, "result", |c| c.add)
            ),
            (1, 1),
            "{url}: {:?} {:?}",
            to_sis.report.counts,
            to_sis.report.errors
        );
        let score_of = |email: &str, title: &str| -> Option<Json> {
            let li = sis_mock
                .records("lineItems")
                .into_iter()
                .find(|l| l["title"] == title)?;
            let student = by_email.get(email)?;
            sis_mock
                .records("results")
                .into_iter()
                .find(|r| {
                    r["lineItem"]["sourcedId"] == li["sourcedId"]
                        && r["student"]["sourcedId"] == student.as_str()
                })
                .map(|r| r["score"].clone())
        };
        assert_eq!(
            score_of(&graded[0].0, "Homework 3"),
            Some(json!(4.0)),
            "{url}"
        );
        assert_eq!(score_of(&graded[1].0, "Quiz 2"), Some(json!(7.0)), "{url}");

        // 4. A second sync changes nothing anywhere.
        let writes = |m: &MockClassroom| {
            m.calls()
                .iter()
                .filter(|c| c.method != "GET" && !c.pattern.contains("token"))
                .count()
        };
        let classroom_writes = writes(&gc);
        let sis_writes = sis_mock
            .request_log()
            .iter()
            .filter(|r| r.method != "GET")
            .count();
        for run in district.sync().await {
            assert_eq!(
                changed(&run),
                0,
                "{url}: {} {} changed: {:?} {:?}",
                run.mode,
                run.source_id,
                run.report.counts,
                run.report.warnings
            );
        }
        assert_eq!(
            writes(&gc),
            classroom_writes,
            "{url}: nothing more is written to Classroom"
        );
        assert_eq!(
            sis_mock
                .request_log()
                .iter()
                .filter(|r| r.method != "GET")
                .count(),
            sis_writes,
            "{url}: nothing more is written to the SIS"
        );
    }
}
