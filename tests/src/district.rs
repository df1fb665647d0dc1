//! A synthetic school district written as a OneRoster CSV package: the sample
//! district in `examples/sample-district`, the packages the CSV connector's
//! tests read, and (scaled up) the packages the benchmarks read.
//!
//! It owns the district's shape and nothing else: one district org, elementary
//! schools (grades KG-05, one homeroom per class of about 24) and high schools
//! (grades 09-12, 6-8 sections each, with periods), one school year with two
//! semesters and four grading periods, teachers, principals, 1-2 guardians per
//! family (siblings share them, and so their email), demographics, and a small
//! gradebook (categories, line items, results). Names are made up from lists of
//! common names; no real person's record is in it.
//!
//! Everything is drawn from a seeded generator and computed per record from its
//! index, so the output is byte-for-byte the same for the same options, and a
//! million students stream to disk in flat memory: only the plan (schools,
//! courses, section counts, teachers) is held.
//!
//! Deliberate collisions, as real districts have them: students 0 and 20 are
//! both "Sofia Martinez" in kindergarten; siblings list the same guardians;
//! in some families both guardians share one household email address.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, BufWriter};
use std::path::Path;

/// The file of each kind the generator writes, as the run report names the kind.
pub const KIND_FILES: &[(&str, &str)] = &[
    ("org", "orgs.csv"),
    ("academic-session", "academicSessions.csv"),
    ("course", "courses.csv"),
    ("class", "classes.csv"),
    ("user", "users.csv"),
    ("demographics", "demographics.csv"),
    ("enrollment", "enrollments.csv"),
    ("category", "categories.csv"),
    ("line-item", "lineItems.csv"),
    ("result", "results.csv"),
];

/// Which OneRoster CSV binding to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    V1_1,
    V1_2,
}

impl Version {
    pub fn label(self) -> &'static str {
        match self {
            Version::V1_1 => "1.1",
            Version::V1_2 => "1.2",
        }
    }

    pub fn parse(text: &str) -> Option<Version> {
        match text.trim() {
            "1.1" => Some(Version::V1_1),
            "1.2" => Some(Version::V1_2),
            _ => None,
        }
    }
}

/// What to generate.
#[derive(Debug, Clone)]
pub struct Options {
    pub students: u64,
    pub seed: u64,
    pub version: Version,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            students: 360,
            seed: 20_240_819,
            version: Version::V1_2,
        }
    }
}

/// Rows written per file (header excluded), and the district's head counts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    pub rows: BTreeMap<&'static str, u64>,
    pub schools: u64,
    pub students: u64,
    pub teachers: u64,
    pub administrators: u64,
    pub guardians: u64,
}

impl Summary {
    /// Data rows of one file (0 when the file was not written).
    pub fn rows(&self, file: &str) -> u64 {
        self.rows.get(file).copied().unwrap_or(0)
    }
}

// ---------------------------------------------------------------------------
// Deterministic randomness

/// SplitMix64: tiny, fast, and stable across Rust and crate versions.
#[derive(Clone)]
struct Rng(u64);

fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

impl Rng {
    /// A stream for one record: `tag` names the record kind, `index` the record.
    fn of(seed: u64, tag: u64, index: u64) -> Rng {
        Rng(mix(
            seed ^ mix(tag.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ mix(index))
        ))
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        mix(self.0)
    }

    fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.next() % n }
    }

    fn percent(&mut self, p: u64) -> bool {
        self.below(100) < p
    }

    fn pick<'a>(&mut self, list: &[&'a str]) -> &'a str {
        list[self.below(list.len() as u64) as usize]
    }
}

const TAG_STUDENT: u64 = 1;
const TAG_FAMILY: u64 = 2;
const TAG_COURSE: u64 = 3;
const TAG_TEACHER: u64 = 4;
const TAG_GUARDIAN: u64 = 5;
const TAG_RESULT: u64 = 6;

// ---------------------------------------------------------------------------
// Names and places (made up; common names only)

#[rustfmt::skip]
const GIVEN_F: &[&str] = &[
    "Sofia", "Olivia", "Emma", "Ava", "Isabella", "Mia", "Amelia", "Harper", "Evelyn", "Abigail",
    "Emily", "Ella", "Elizabeth", "Camila", "Luna", "Sofía", "Avery", "Mila", "Aria", "Scarlett",
    "Penelope", "Layla", "Chloé", "Victoria", "Madison", "Eleanor", "Grace", "Nora", "Riley", "Zoë",
    "Hannah", "Hazel", "Lily", "Ellie", "Violet", "Lillian", "Zoey", "Stella", "Aurora", "Natalie",
    "Emilia", "Everly", "Leah", "Aubrey", "Willow", "Addison", "Lucy", "Audrey", "Bella", "Nova",
    "Brooklyn", "Paisley", "Savannah", "Claire", "Skylar", "Isla", "Genesis", "Naomi", "Elena",
    "Caroline", "Eliana", "Anna", "Maya", "Valentina", "Ruby", "Kennedy", "Ivy", "Ariana",
    "Aaliyah", "Cora", "Madelyn", "Alice", "Kinsley", "Hailey", "Gabriella", "Allison", "Gianna",
    "Serenity", "Samantha", "Sarah", "Autumn", "Quinn", "Eva", "Piper", "Sophie", "Sadie",
    "Delilah", "Josephine", "Nevaeh", "Adeline", "Arya", "Emery", "Lydia", "Clara", "Vivian",
    "Madeline", "Peyton", "Julia", "Rylee", "Mei", "Priya", "Aisha", "Yuna", "Fatima", "Ximena",
    "Renée", "Mary-Kate", "Anaïs", "Ngozi", "Siobhan",
];

#[rustfmt::skip]
const GIVEN_M: &[&str] = &[
    "Liam", "Noah", "Oliver", "Elijah", "James", "William", "Benjamin", "Lucas", "Henry",
    "Theodore", "Jack", "Levi", "Alexander", "Jackson", "Mateo", "Daniel", "Michael", "Mason",
    "Sebastian", "Ethan", "Logan", "Owen", "Samuel", "Jacob", "Asher", "Aiden", "John", "Joseph",
    "Wyatt", "David", "Leo", "Luke", "Julian", "Hudson", "Grayson", "Matthew", "Ezra", "Gabriel",
    "Carter", "Isaac", "Jayden", "Luca", "Anthony", "Dylan", "Lincoln", "Thomas", "Maverick",
    "Elias", "Josiah", "Charles", "Caleb", "Christopher", "Ezekiel", "Miles", "Jaxon", "Isaiah",
    "Andrew", "Joshua", "Nathan", "Nolan", "Adrian", "Cameron", "Santiago", "Eli", "Aaron", "Ryan",
    "Angel", "Cooper", "Waylon", "Easton", "Kai", "Christian", "Landon", "Colton", "Roman", "Axel",
    "Brooks", "Jonathan", "Robert", "Jameson", "Ian", "Everett", "Greyson", "Wesley", "Jeremiah",
    "Hunter", "Leonardo", "Jordan", "Jose", "Bennett", "Silas", "Nicholas", "Parker", "Beau",
    "Weston", "Austin", "Connor", "Carson", "Dominic", "Xavier", "José", "Minh", "Arjun", "Kenji",
    "Omar", "Tomás", "Søren", "Kwame", "Rafael", "Dmitri",
];

#[rustfmt::skip]
const FAMILY: &[&str] = &[
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez",
    "Martinez", "Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson", "Thomas", "Taylor", "Moore",
    "Jackson", "Martin", "Lee", "Perez", "Thompson", "White", "Harris", "Sanchez", "Clark",
    "Ramirez", "Lewis", "Robinson", "Walker", "Young", "Allen", "King", "Wright", "Scott", "Torres",
    "Nguyen", "Hill", "Flores", "Green", "Adams", "Nelson", "Baker", "Hall", "Rivera", "Campbell",
    "Mitchell", "Carter", "Roberts", "Gomez", "Phillips", "Evans", "Turner", "Diaz", "Parker",
    "Cruz", "Edwards", "Collins", "Reyes", "Stewart", "Morris", "Morales", "Murphy", "Cook",
    "Rogers", "Gutierrez", "Ortiz", "Morgan", "Cooper", "Peterson", "Bailey", "Reed", "Kelly",
    "Howard", "Ramos", "Kim", "Cox", "Ward", "Richardson", "Watson", "Brooks", "Chavez", "Wood",
    "James", "Bennett", "Gray", "Mendoza", "Ruiz", "Hughes", "Price", "Alvarez", "Castillo",
    "Sanders", "Patel", "Myers", "Long", "Ross", "Foster", "Jimenez", "O'Brien", "García-López",
    "Muñoz", "Peña", "Nowak", "Kowalski", "Okafor", "Tanaka", "Haddad", "Ibrahim", "Chen", "Wang",
    "Singh", "Søndergaard", "Dubois", "MacDonald", "Van der Berg", "Çelik",
];

/// Nicknames some students go by (their `preferredGivenName`).
#[rustfmt::skip]
const NICKNAMES: &[(&str, &str)] = &[
    ("Alexander", "Alex"), ("Benjamin", "Ben"), ("Elizabeth", "Liz"), ("William", "Will"),
    ("Samuel", "Sam"), ("Theodore", "Teddy"), ("Gabriella", "Gabi"), ("Josephine", "Josie"),
    ("Christopher", "Chris"), ("Nicholas", "Nick"), ("Madeline", "Maddie"), ("Victoria", "Tori"),
];

#[rustfmt::skip]
const CITIES: &[(&str, &str)] = &[
    ("Maplewood", "OR"), ("Maplewood", "OR"), ("Maplewood", "OR"), ("Salem", "OR"),
    ("Eugene", "OR"), ("Boise", "ID"), ("Sacramento", "CA"), ("Tacoma", "WA"), ("Reno", "NV"),
];

#[rustfmt::skip]
const ES_NAMES: &[&str] = &[
    "Cedar Grove", "Willow Creek", "Pine Hollow", "Aspen Ridge", "Birchwood", "Fox Meadow",
    "Juniper", "Clearwater", "Stony Brook", "Hawthorne",
];

const HS_NAMES: &[&str] = &["Maplewood", "Riverside", "Summit", "Lakeview", "Northgate"];

const DISTRICT_ID: &str = "org-district";
const DISTRICT_NAME: &str = "Maplewood Unified School District";
const STUDENT_DOMAIN: &str = "students.maplewood.example.org";
const STAFF_DOMAIN: &str = "maplewood.example.org";

/// Grades in student-index order: index `i` is in grade `GRADES[i % 10]`.
const GRADES: [&str; 10] = ["KG", "01", "02", "03", "04", "05", "09", "10", "11", "12"];

fn grade_number(grade: &str) -> u64 {
    if grade == "KG" {
        0
    } else {
        grade.parse().unwrap_or(0)
    }
}

/// Strip what an email address or username cannot hold.
fn ascii_fold(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars() {
        let folded = match c {
            'á' | 'à' | 'ä' | 'â' | 'ã' => "a",
            'é' | 'è' | 'ë' | 'ê' => "e",
            'í' | 'ì' | 'ï' | 'î' => "i",
            'ó' | 'ò' | 'ö' | 'ô' | 'õ' | 'ø' => "o",
            'ú' | 'ù' | 'ü' | 'û' => "u",
            'ñ' => "n",
            'ç' | 'Ç' => "c",
            'Ø' => "o",
            c if c.is_ascii_alphanumeric() => {
                out.push(c.to_ascii_lowercase());
                continue;
            }
            _ => "",
        };
        out.push_str(folded);
    }
    out
}

// ---------------------------------------------------------------------------
// Dates (proleptic Gregorian, as days since 1970-01-01)

fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

fn date_text(days: i64) -> String {
    let (y, m, d) = civil_from_days(days);
    format!("{y:04}-{m:02}-{d:02}")
}

// ---------------------------------------------------------------------------
// The school year

const YEAR_ID: &str = "as-2025";
const FALL_ID: &str = "as-2025-s1";
const SPRING_ID: &str = "as-2025-s2";

struct Session {
    id: &'static str,
    title: &'static str,
    kind: &'static str,
    start: &'static str,
    end: &'static str,
    parent: &'static str,
}

#[rustfmt::skip]
const SESSIONS: &[Session] = &[
    Session { id: YEAR_ID, title: "2024-2025", kind: "schoolYear", start: "2024-08-19", end: "2025-06-06", parent: "" },
    Session { id: FALL_ID, title: "Fall 2024", kind: "semester", start: "2024-08-19", end: "2024-12-20", parent: YEAR_ID },
    Session { id: SPRING_ID, title: "Spring 2025", kind: "semester", start: "2025-01-06", end: "2025-06-06", parent: YEAR_ID },
    Session { id: "as-2025-q1", title: "Quarter 1", kind: "gradingPeriod", start: "2024-08-19", end: "2024-10-18", parent: FALL_ID },
    Session { id: "as-2025-q2", title: "Quarter 2", kind: "gradingPeriod", start: "2024-10-21", end: "2024-12-20", parent: FALL_ID },
    Session { id: "as-2025-q3", title: "Quarter 3", kind: "gradingPeriod", start: "2025-01-06", end: "2025-03-14", parent: SPRING_ID },
    Session { id: "as-2025-q4", title: "Quarter 4", kind: "gradingPeriod", start: "2025-03-17", end: "2025-06-06", parent: SPRING_ID },
];

#[derive(Clone, Copy, PartialEq, Eq)]
enum Term {
    Year,
    Fall,
    Spring,
}

impl Term {
    fn session(self) -> &'static Session {
        match self {
            Term::Year => &SESSIONS[0],
            Term::Fall => &SESSIONS[1],
            Term::Spring => &SESSIONS[2],
        }
    }
}

/// A high-school course: who takes it, and when.
struct CourseSpec {
    code: &'static str,
    title: &'static str,
    grades: &'static [&'static str],
    subject: &'static str,
    sced: &'static str,
    term: Term,
    /// Percent of eligible students who take it (100 = everyone).
    take: u64,
}

#[rustfmt::skip]
const HS_COURSES: &[CourseSpec] = &[
    CourseSpec { code: "ENG9", title: "English 9", grades: &["09"], subject: "English Language and Literature", sced: "01001", term: Term::Year, take: 100 },
    CourseSpec { code: "ENG10", title: "English 10", grades: &["10"], subject: "English Language and Literature", sced: "01002", term: Term::Year, take: 100 },
    CourseSpec { code: "ENG11", title: "English 11", grades: &["11"], subject: "English Language and Literature", sced: "01003", term: Term::Year, take: 100 },
    CourseSpec { code: "ENG12", title: "English 12", grades: &["12"], subject: "English Language and Literature", sced: "01004", term: Term::Year, take: 100 },
    CourseSpec { code: "ALG1", title: "Algebra I", grades: &["09"], subject: "Mathematics", sced: "02052", term: Term::Year, take: 100 },
    CourseSpec { code: "GEOM", title: "Geometry", grades: &["10"], subject: "Mathematics", sced: "02072", term: Term::Year, take: 100 },
    CourseSpec { code: "ALG2", title: "Algebra II", grades: &["11"], subject: "Mathematics", sced: "02056", term: Term::Year, take: 100 },
    CourseSpec { code: "PRECALC", title: "Pre-Calculus", grades: &["12"], subject: "Mathematics", sced: "02110", term: Term::Year, take: 100 },
    CourseSpec { code: "BIO", title: "Biology", grades: &["09"], subject: "Life and Physical Sciences", sced: "03051", term: Term::Year, take: 100 },
    CourseSpec { code: "CHEM", title: "Chemistry", grades: &["10"], subject: "Life and Physical Sciences", sced: "03101", term: Term::Year, take: 100 },
    CourseSpec { code: "PHYS", title: "Physics", grades: &["11"], subject: "Life and Physical Sciences", sced: "03151", term: Term::Year, take: 100 },
    CourseSpec { code: "ENVSCI", title: "Environmental Science", grades: &["12"], subject: "Life and Physical Sciences", sced: "03003", term: Term::Year, take: 100 },
    CourseSpec { code: "WGEO", title: "World Geography", grades: &["09"], subject: "Social Sciences and History", sced: "04001", term: Term::Year, take: 100 },
    CourseSpec { code: "WHIST", title: "World History", grades: &["10"], subject: "Social Sciences and History", sced: "04051", term: Term::Year, take: 100 },
    CourseSpec { code: "USHIST", title: "U.S. History", grades: &["11"], subject: "Social Sciences and History", sced: "04101", term: Term::Year, take: 100 },
    CourseSpec { code: "GOV", title: "U.S. Government", grades: &["12"], subject: "Social Sciences and History", sced: "04151", term: Term::Fall, take: 100 },
    CourseSpec { code: "ECON", title: "Economics", grades: &["12"], subject: "Social Sciences and History", sced: "04201", term: Term::Spring, take: 100 },
    CourseSpec { code: "SPAN1", title: "Spanish I", grades: &["09", "10"], subject: "World Languages", sced: "06101", term: Term::Year, take: 100 },
    CourseSpec { code: "SPAN2", title: "Spanish II", grades: &["11", "12"], subject: "World Languages", sced: "06102", term: Term::Year, take: 100 },
    CourseSpec { code: "PE", title: "Physical Education", grades: &["09", "10", "11"], subject: "Physical Education and Health", sced: "08001", term: Term::Year, take: 100 },
    CourseSpec { code: "ART", title: "Art: Drawing, Painting & Design", grades: &["09", "10", "11", "12"], subject: "Fine and Performing Arts", sced: "05154", term: Term::Year, take: 50 },
    CourseSpec { code: "CS", title: "Computer Science Principles", grades: &["09", "10", "11", "12"], subject: "Computer and Information Sciences", sced: "10019", term: Term::Year, take: 35 },
];

const SECTION_SIZE: u64 = 28;
const HOMEROOM_SIZE: u64 = 24;
const SECTIONS_PER_TEACHER: u64 = 5;

// ---------------------------------------------------------------------------
// The plan: everything that is not per student

#[derive(Clone, Copy, PartialEq, Eq)]
enum Level {
    Elementary,
    High,
}

struct School {
    id: String,
    name: String,
    identifier: String,
    level: Level,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum StaffRole {
    Teacher,
    Principal,
    DistrictAdmin,
}

struct Staff {
    id: String,
    given: String,
    family: String,
    middle: String,
    username: String,
    email: String,
    role: StaffRole,
    /// Index into `Plan::schools` (none for the district administrator).
    school: Option<usize>,
    /// A second school this person also works at (a secondary role).
    also: Option<usize>,
    enabled: bool,
}

struct Plan {
    opts: Options,
    schools: Vec<School>,
    es: Vec<usize>,
    hs: Vec<usize>,
    /// Homerooms per elementary school (by position in `es`) and grade KG..05.
    homerooms: Vec<[u64; 6]>,
    /// Teacher (index into `staff`) of each homeroom.
    homeroom_teacher: Vec<[Vec<usize>; 6]>,
    /// The specialist teacher of each elementary school, in every homeroom.
    specialist: Vec<usize>,
    /// Sections per high school (by position in `hs`) and course.
    sections: Vec<Vec<u64>>,
    section_teacher: Vec<Vec<Vec<usize>>>,
    staff: Vec<Staff>,
}

/// A student, computed from its index.
struct Student {
    index: u64,
    id: String,
    given: String,
    middle: String,
    family: String,
    preferred: String,
    grade: &'static str,
    sex: &'static str,
    birth: String,
    /// Index into `Plan::schools`.
    school: usize,
    /// Position of the school in `es` or `hs`, and the student's ordinal in it per grade.
    level_school: usize,
    ordinal: u64,
    username: String,
    family_start: u64,
}

/// Family shapes of each block of four consecutive students.
#[rustfmt::skip]
const FAMILY_PATTERNS: &[&[u64]] = &[
    &[1, 1, 1, 1], &[2, 1, 1], &[1, 2, 1], &[1, 1, 2], &[2, 2], &[3, 1], &[1, 3], &[1, 1, 1, 1],
];

/// The students forced to share one name (same grade, same first school).
const TWINS_BY_NAME: [u64; 2] = [0, 20];

impl Plan {
    fn new(opts: &Options) -> Plan {
        let n = opts.students;
        let es_count = (n * 6 / 10).div_ceil(2_400).max(1) as usize;
        let hs_count = (n * 4 / 10).div_ceil(3_200).max(1) as usize;
        let mut schools = Vec::new();
        let mut es = Vec::new();
        let mut hs = Vec::new();
        for k in 0..es_count {
            let base = ES_NAMES[k % ES_NAMES.len()];
            let name = if k < ES_NAMES.len() {
                format!("{base} Elementary School")
            } else {
                format!("{base} Elementary School No. {}", k / ES_NAMES.len() + 1)
            };
            es.push(schools.len());
            schools.push(School {
                id: format!("org-es{}", k + 1),
                name,
                identifier: format!("{}", 1100 + k),
                level: Level::Elementary,
            });
        }
        for k in 0..hs_count {
            let base = HS_NAMES[k % HS_NAMES.len()];
            let name = if k < HS_NAMES.len() {
                format!("{base} High School")
            } else {
                format!("{base} High School No. {}", k / HS_NAMES.len() + 1)
            };
            hs.push(schools.len());
            schools.push(School {
                id: format!("org-hs{}", k + 1),
                name,
                identifier: format!("{}", 3100 + k),
                level: Level::High,
            });
        }
        let mut plan = Plan {
            opts: opts.clone(),
            schools,
            es,
            hs,
            homerooms: Vec::new(),
            homeroom_teacher: Vec::new(),
            specialist: Vec::new(),
            sections: Vec::new(),
            section_teacher: Vec::new(),
            staff: Vec::new(),
        };

        // Head counts per school and grade, and demand per course.
        let mut es_counts = vec![[0u64; 6]; plan.es.len()];
        let mut demand = vec![vec![0u64; HS_COURSES.len()]; plan.hs.len()];
        for i in 0..n {
            let (level, school, _) = plan.placement(i);
            let grade = GRADES[(i % 10) as usize];
            match level {
                Level::Elementary => es_counts[school][(i % 10) as usize] += 1,
                Level::High => {
                    for (c, course) in HS_COURSES.iter().enumerate() {
                        if takes(opts.seed, i, c, course, grade) {
                            demand[school][c] += 1;
                        }
                    }
                }
            }
        }

        plan.staff
            .push(plan.staff_member(0, StaffRole::DistrictAdmin, None));
        for k in 0..plan.schools.len() {
            let idx = plan.staff.len() as u64;
            let p = plan.staff_member(idx, StaffRole::Principal, Some(k));
            plan.staff.push(p);
        }
        for (pos, counts) in es_counts.iter().enumerate() {
            let school = plan.es[pos];
            let mut rooms = [0u64; 6];
            let mut teachers: [Vec<usize>; 6] = Default::default();
            for g in 0..6 {
                rooms[g] = counts[g].div_ceil(HOMEROOM_SIZE);
                for _ in 0..rooms[g] {
                    teachers[g].push(plan.add_teacher(Some(school)));
                }
            }
            plan.homerooms.push(rooms);
            plan.homeroom_teacher.push(teachers);
            let specialist = plan.add_teacher(Some(school));
            plan.specialist.push(specialist);
        }
        // The first specialist also works at the first high school.
        if let (Some(&first), Some(&hs0)) = (plan.specialist.first(), plan.hs.first()) {
            plan.staff[first].also = Some(hs0);
        }
        for (pos, per_course) in demand.iter().enumerate() {
            let school = plan.hs[pos];
            let counts: Vec<u64> = per_course
                .iter()
                .map(|d| d.div_ceil(SECTION_SIZE))
                .collect();
            let mut teachers = Vec::new();
            let mut ordinal = 0u64;
            let mut current = None;
            for &count in &counts {
                let mut of_course = Vec::new();
                for _ in 0..count {
                    if ordinal % SECTIONS_PER_TEACHER == 0 {
                        current = Some(plan.add_teacher(Some(school)));
                    }
                    of_course.push(current.unwrap_or(0));
                    ordinal += 1;
                }
                teachers.push(of_course);
            }
            plan.sections.push(counts);
            plan.section_teacher.push(teachers);
        }
        // One teacher has left but is still on file, disabled.
        if let Some(last) = plan
            .staff
            .iter()
            .rposition(|s| s.role == StaffRole::Teacher)
        {
            plan.staff[last].enabled = false;
        }
        plan
    }

    /// Elementary or high school, the school's position in its list, and the
    /// student's ordinal among the students of that school and grade.
    fn placement(&self, i: u64) -> (Level, usize, u64) {
        let j = i / 10;
        if i % 10 < 6 {
            let n = self.es.len() as u64;
            (Level::Elementary, (j % n) as usize, j / n)
        } else {
            let n = self.hs.len() as u64;
            (Level::High, (j % n) as usize, j / n)
        }
    }

    fn add_teacher(&mut self, school: Option<usize>) -> usize {
        let idx = self.staff.len();
        let t = self.staff_member(idx as u64, StaffRole::Teacher, school);
        self.staff.push(t);
        idx
    }

    fn staff_member(&self, idx: u64, role: StaffRole, school: Option<usize>) -> Staff {
        let mut rng = Rng::of(self.opts.seed, TAG_TEACHER, idx);
        let female = rng.percent(70);
        let given = rng.pick(if female { GIVEN_F } else { GIVEN_M }).to_string();
        let family = rng.pick(FAMILY).to_string();
        let middle = if rng.percent(50) {
            rng.pick(if female { GIVEN_F } else { GIVEN_M }).to_string()
        } else {
            String::new()
        };
        let username = format!("{}.{}{}", ascii_fold(&given), ascii_fold(&family), idx + 1);
        let id = match role {
            StaffRole::DistrictAdmin => "staff-admin".to_string(),
            _ => format!("staff-{:05}", idx + 1),
        };
        let email = format!("{username}@{STAFF_DOMAIN}");
        Staff {
            id,
            given,
            family,
            middle,
            username,
            email,
            role,
            school,
            also: None,
            enabled: true,
        }
    }

    fn family_of(&self, i: u64) -> (u64, u64) {
        let block = i / 4;
        let pattern = FAMILY_PATTERNS[(Rng::of(self.opts.seed, TAG_FAMILY, block)
            .below(FAMILY_PATTERNS.len() as u64)) as usize];
        let mut start = block * 4;
        for &size in pattern {
            if i < start + size {
                let end = (start + size).min(self.opts.students);
                return (start, end - start);
            }
            start += size;
        }
        (i, 1)
    }

    fn family_name(&self, family_start: u64) -> &'static str {
        if TWINS_BY_NAME.contains(&family_start) && self.opts.students > TWINS_BY_NAME[1] {
            return "Martinez";
        }
        Rng::of(self.opts.seed, TAG_FAMILY, family_start ^ 0xfa11).pick(FAMILY)
    }

    fn student(&self, i: u64) -> Student {
        let mut rng = Rng::of(self.opts.seed, TAG_STUDENT, i);
        let grade = GRADES[(i % 10) as usize];
        let (level, level_school, ordinal) = self.placement(i);
        let school = match level {
            Level::Elementary => self.es[level_school],
            Level::High => self.hs[level_school],
        };
        let female = rng.percent(50);
        let mut given = rng.pick(if female { GIVEN_F } else { GIVEN_M }).to_string();
        let middle = if rng.percent(60) {
            rng.pick(if female { GIVEN_F } else { GIVEN_M }).to_string()
        } else {
            String::new()
        };
        let (family_start, _) = self.family_of(i);
        let family = self.family_name(family_start).to_string();
        let twin = TWINS_BY_NAME.contains(&i) && self.opts.students > TWINS_BY_NAME[1];
        if twin {
            given = "Sofia".to_string();
        }
        let female = female || twin;
        let preferred = NICKNAMES
            .iter()
            .find(|(full, _)| *full == given)
            .filter(|_| rng.percent(60))
            .map(|(_, nick)| nick.to_string())
            .unwrap_or_default();
        let sex = if rng.percent(1) {
            "unspecified"
        } else if female {
            "female"
        } else {
            "male"
        };
        // Age 5 on 1 September 2024 in kindergarten, one more per grade.
        let born_from = days_from_civil(2018 - grade_number(grade) as i64, 9, 2);
        let birth = date_text(born_from + rng.below(365) as i64);
        let initial: String = given.chars().take(1).collect();
        let username = format!("{}{}{}", ascii_fold(&initial), ascii_fold(&family), i + 1);
        Student {
            index: i,
            id: format!("stu-{:06}", i + 1),
            given,
            middle,
            family,
            preferred,
            grade,
            sex,
            birth,
            school,
            level_school,
            ordinal,
            username,
            family_start,
        }
    }

    /// The guardians of the family whose first child is student `start`.
    fn guardians(&self, start: u64) -> Vec<Guardian> {
        let mut rng = Rng::of(self.opts.seed, TAG_GUARDIAN, start);
        let family = self.family_name(start);
        let count = if rng.percent(65) { 2 } else { 1 };
        let shared_email = count == 2 && rng.percent(20);
        let household = format!("the{}family{}@example.net", ascii_fold(family), start + 1);
        (0..count)
            .map(|k| {
                let female = if count == 2 { k == 0 } else { rng.percent(70) };
                let given = rng.pick(if female { GIVEN_F } else { GIVEN_M }).to_string();
                let surname = if k == 1 && rng.percent(25) {
                    rng.pick(FAMILY).to_string()
                } else {
                    family.to_string()
                };
                let email = if shared_email {
                    household.clone()
                } else {
                    format!(
                        "{}.{}{}@example.com",
                        ascii_fold(&given),
                        ascii_fold(&surname),
                        start + 1
                    )
                };
                let role = if rng.percent(90) {
                    "parent"
                } else {
                    "guardian"
                };
                Guardian {
                    id: format!("grd-{:06}-{}", start + 1, k + 1),
                    username: format!(
                        "{}.{}.{}{}",
                        ascii_fold(&given),
                        ascii_fold(&surname),
                        start + 1,
                        k + 1
                    ),
                    given,
                    family: surname,
                    email,
                    phone: format!("555-01{:02}", rng.below(100)),
                    role,
                }
            })
            .collect()
    }

    /// The high-school sections a student takes: (course index, section).
    fn schedule(&self, s: &Student) -> Vec<(usize, u64)> {
        let mut out = Vec::new();
        if self.schools[s.school].level != Level::High {
            return out;
        }
        for (c, course) in HS_COURSES.iter().enumerate() {
            if takes(self.opts.seed, s.index, c, course, s.grade) {
                let count = self.sections[s.level_school][c].max(1);
                let section =
                    Rng::of(self.opts.seed, TAG_COURSE, s.index * 64 + c as u64).below(count);
                out.push((c, section));
            }
        }
        out
    }

    fn homeroom(&self, s: &Student) -> Option<(usize, u64)> {
        if self.schools[s.school].level != Level::Elementary {
            return None;
        }
        let g = (s.index % 10) as usize;
        let rooms = self.homerooms[s.level_school][g].max(1);
        Some((g, s.ordinal % rooms))
    }

    fn course_id(&self, school: usize, code: &str) -> String {
        format!(
            "crs-{}-{}",
            self.schools[school].id.trim_start_matches("org-"),
            code.to_ascii_lowercase()
        )
    }

    fn section_id(&self, school: usize, code: &str, section: u64) -> String {
        format!(
            "cls-{}-{}-{:02}",
            self.schools[school].id.trim_start_matches("org-"),
            code.to_ascii_lowercase(),
            section + 1
        )
    }

    fn homeroom_id(&self, school: usize, grade: usize, room: u64) -> String {
        format!(
            "cls-{}-hr-{}-{}",
            self.schools[school].id.trim_start_matches("org-"),
            GRADES[grade].to_ascii_lowercase(),
            (b'a' + room as u8 % 26) as char
        )
    }
}

struct Guardian {
    id: String,
    username: String,
    given: String,
    family: String,
    email: String,
    phone: String,
    role: &'static str,
}

fn takes(seed: u64, student: u64, c: usize, course: &CourseSpec, grade: &str) -> bool {
    if !course.grades.contains(&grade) {
        return false;
    }
    course.take >= 100
        || Rng::of(seed, TAG_COURSE ^ 0x7a6e, student * 64 + c as u64).percent(course.take)
}

fn elementary_grade_title(g: usize) -> String {
    if g == 0 {
        "Kindergarten".to_string()
    } else {
        format!("Grade {g}")
    }
}

// ---------------------------------------------------------------------------
// Writing

struct Out {
    writer: csv::Writer<BufWriter<File>>,
    rows: u64,
    name: &'static str,
}

impl Out {
    fn create(dir: &Path, name: &'static str, header: &[&str]) -> io::Result<Out> {
        let file = File::create(dir.join(name))?;
        let mut writer = csv::WriterBuilder::new().from_writer(BufWriter::new(file));
        writer.write_record(header).map_err(io::Error::other)?;
        Ok(Out {
            writer,
            rows: 0,
            name,
        })
    }

    fn row(&mut self, fields: &[&str]) -> io::Result<()> {
        self.rows += 1;
        self.writer.write_record(fields).map_err(io::Error::other)
    }

    fn finish(mut self, summary: &mut Summary) -> io::Result<()> {
        self.writer.flush()?;
        summary.rows.insert(self.name, self.rows);
        Ok(())
    }
}

#[rustfmt::skip]
const ORGS: &[&str] = &[
    "sourcedId", "status", "dateLastModified", "name", "type", "identifier", "parentSourcedId",
];
#[rustfmt::skip]
const SESSIONS_HEADER: &[&str] = &[
    "sourcedId", "status", "dateLastModified", "title", "type", "startDate", "endDate",
    "parentSourcedId", "schoolYear",
];
#[rustfmt::skip]
const COURSES: &[&str] = &[
    "sourcedId", "status", "dateLastModified", "schoolYearSourcedId", "title", "courseCode",
    "grades", "orgSourcedId", "subjects", "subjectCodes",
];
#[rustfmt::skip]
const CLASSES: &[&str] = &[
    "sourcedId", "status", "dateLastModified", "title", "grades", "courseSourcedId", "classCode",
    "classType", "location", "schoolSourcedId", "termSourcedIds", "subjects", "subjectCodes",
    "periods",
];
#[rustfmt::skip]
const USERS_1_1: &[&str] = &[
    "sourcedId", "status", "dateLastModified", "enabledUser", "orgSourcedIds", "role", "username",
    "userIds", "givenName", "familyName", "middleName", "identifier", "email", "sms", "phone",
    "agentSourcedIds", "grades", "password",
];
#[rustfmt::skip]
const USERS_1_2: &[&str] = &[
    "sourcedId", "status", "dateLastModified", "enabledUser", "username", "userIds", "givenName",
    "familyName", "middleName", "identifier", "email", "sms", "phone", "agentSourcedIds", "grades",
    "password", "userMasterIdentifier", "resourceSourcedIds", "preferredGivenName",
    "preferredMiddleName", "preferredFamilyName", "primaryOrgSourcedId", "pronouns",
];
#[rustfmt::skip]
const ROLES: &[&str] = &[
    "sourcedId", "status", "dateLastModified", "userSourcedId", "roleType", "role", "beginDate",
    "endDate", "orgSourcedId", "userProfileSourcedId",
];
#[rustfmt::skip]
const PROFILES: &[&str] = &[
    "sourcedId", "status", "dateLastModified", "userSourcedId", "profileType", "vendorId",
    "applicationId", "description", "credentialType", "username", "password",
];
#[rustfmt::skip]
const ENROLLMENTS: &[&str] = &[
    "sourcedId", "status", "dateLastModified", "classSourcedId", "schoolSourcedId", "userSourcedId",
    "role", "primary", "beginDate", "endDate",
];
#[rustfmt::skip]
const DEMOGRAPHICS: &[&str] = &[
    "sourcedId", "status", "dateLastModified", "birthDate", "sex", "americanIndianOrAlaskaNative",
    "asian", "blackOrAfricanAmerican", "nativeHawaiianOrOtherPacificIslander", "white",
    "demographicRaceTwoOrMoreRaces", "hispanicOrLatinoEthnicity", "countryOfBirthCode",
    "stateOfBirthAbbreviation", "cityOfBirth", "publicSchoolResidenceStatus",
];
const CATEGORIES_1_1: &[&str] = &["sourcedId", "status", "dateLastModified", "title"];
const CATEGORIES_1_2: &[&str] = &["sourcedId", "status", "dateLastModified", "title", "weight"];
#[rustfmt::skip]
const LINE_ITEMS: &[&str] = &[
    "sourcedId", "status", "dateLastModified", "title", "description", "assignDate", "dueDate",
    "classSourcedId", "categorySourcedId", "gradingPeriodSourcedId", "resultValueMin",
    "resultValueMax",
];
#[rustfmt::skip]
const RESULTS: &[&str] = &[
    "sourcedId", "status", "dateLastModified", "lineItemSourcedId", "studentSourcedId",
    "scoreStatus", "score", "scoreDate", "comment",
];

/// Write the package into `dir` (created if missing; files of the same names
/// are overwritten).
pub fn write_package(opts: &Options, dir: &Path) -> io::Result<Summary> {
    std::fs::create_dir_all(dir)?;
    let plan = Plan::new(opts);
    let v12 = opts.version == Version::V1_2;
    let mut summary = Summary {
        schools: plan.schools.len() as u64,
        students: opts.students,
        ..Summary::default()
    };

    // orgs.csv
    let mut out = Out::create(dir, "orgs.csv", ORGS)?;
    out.row(&[DISTRICT_ID, "", "", DISTRICT_NAME, "district", "MUSD", ""])?;
    for s in &plan.schools {
        out.row(&[&s.id, "", "", &s.name, "school", &s.identifier, DISTRICT_ID])?;
    }
    out.finish(&mut summary)?;

    // academicSessions.csv
    let mut out = Out::create(dir, "academicSessions.csv", SESSIONS_HEADER)?;
    for s in SESSIONS {
        out.row(&[
            s.id, "", "", s.title, s.kind, s.start, s.end, s.parent, "2025",
        ])?;
    }
    out.finish(&mut summary)?;

    // courses.csv
    let mut out = Out::create(dir, "courses.csv", COURSES)?;
    for (pos, &school) in plan.es.iter().enumerate() {
        for g in 0..6 {
            if plan.homerooms[pos][g] == 0 {
                continue;
            }
            let code = format!("HR-{}", GRADES[g]);
            out.row(&[
                &plan.course_id(school, &code),
                "",
                "",
                YEAR_ID,
                &format!("{} Homeroom", elementary_grade_title(g)),
                &code,
                GRADES[g],
                &plan.schools[school].id,
                "Homeroom",
                "",
            ])?;
        }
    }
    for (pos, &school) in plan.hs.iter().enumerate() {
        for (c, course) in HS_COURSES.iter().enumerate() {
            if plan.sections[pos][c] == 0 {
                continue;
            }
            out.row(&[
                &plan.course_id(school, course.code),
                "",
                "",
                YEAR_ID,
                course.title,
                course.code,
                &course.grades.join(","),
                &plan.schools[school].id,
                course.subject,
                course.sced,
            ])?;
        }
    }
    out.finish(&mut summary)?;

    // classes.csv
    let mut out = Out::create(dir, "classes.csv", CLASSES)?;
    for (pos, &school) in plan.es.iter().enumerate() {
        for g in 0..6 {
            for room in 0..plan.homerooms[pos][g] {
                let teacher = &plan.staff[plan.homeroom_teacher[pos][g][room as usize]];
                let code = format!("HR-{}", GRADES[g]);
                out.row(&[
                    &plan.homeroom_id(school, g, room),
                    "",
                    "",
                    &format!(
                        "{} Homeroom - {}",
                        elementary_grade_title(g),
                        teacher.family
                    ),
                    GRADES[g],
                    &plan.course_id(school, &code),
                    &format!("{code}-{}", (b'A' + room as u8 % 26) as char),
                    "homeroom",
                    &format!("Room {}", 100 + g as u64 * 10 + room),
                    &plan.schools[school].id,
                    YEAR_ID,
                    "Homeroom",
                    "",
                    "",
                ])?;
            }
        }
    }
    for (pos, &school) in plan.hs.iter().enumerate() {
        for (c, course) in HS_COURSES.iter().enumerate() {
            for section in 0..plan.sections[pos][c] {
                let period = ((c as u64 * 3 + section) % 7) + 1;
                let location = if course.code == "ART" {
                    format!("Art Studio {}, Building B", section + 1)
                } else {
                    format!(
                        "Room {}",
                        200 + plan.section_teacher[pos][c][section as usize] % 300
                    )
                };
                out.row(&[
                    &plan.section_id(school, course.code, section),
                    "",
                    "",
                    &format!("{} - Period {period}", course.title),
                    &course.grades.join(","),
                    &plan.course_id(school, course.code),
                    &format!("{}-{:02}", course.code, section + 1),
                    "scheduled",
                    &location,
                    &plan.schools[school].id,
                    course.term.session().id,
                    course.subject,
                    course.sced,
                    &period.to_string(),
                ])?;
            }
        }
    }
    out.finish(&mut summary)?;

    write_users(&plan, dir, &mut summary)?;
    if v12 {
        write_roles(&plan, dir, &mut summary)?;
    }
    write_enrollments(&plan, dir, &mut summary)?;
    write_demographics(&plan, dir, &mut summary)?;
    write_gradebook(&plan, dir, &mut summary)?;
    write_manifest(opts.version, dir)?;
    Ok(summary)
}

fn staff_role_name(role: StaffRole, v12: bool) -> &'static str {
    match (role, v12) {
        (StaffRole::Teacher, _) => "teacher",
        (StaffRole::Principal, true) => "principal",
        (StaffRole::DistrictAdmin, true) => "districtAdministrator",
        (_, false) => "administrator",
    }
}

fn write_users(plan: &Plan, dir: &Path, summary: &mut Summary) -> io::Result<()> {
    let v12 = plan.opts.version == Version::V1_2;
    let header = if v12 { USERS_1_2 } else { USERS_1_1 };
    let mut out = Out::create(dir, "users.csv", header)?;
    let row = |out: &mut Out, u: UserRow<'_>| -> io::Result<()> {
        let enabled = if u.enabled { "true" } else { "false" };
        if v12 {
            out.row(&[
                u.id,
                "",
                "",
                enabled,
                u.username,
                u.user_ids,
                u.given,
                u.family,
                u.middle,
                u.identifier,
                u.email,
                u.sms,
                u.phone,
                u.agents,
                u.grades,
                "",
                u.master,
                "",
                u.preferred,
                "",
                "",
                u.primary_org,
                "",
            ])
        } else {
            out.row(&[
                u.id,
                "",
                "",
                enabled,
                u.orgs,
                u.role_1_1,
                u.username,
                u.user_ids,
                u.given,
                u.family,
                u.middle,
                u.identifier,
                u.email,
                u.sms,
                u.phone,
                u.agents,
                u.grades,
                "",
            ])
        }
    };
    for (k, s) in plan.staff.iter().enumerate() {
        let org = s
            .school
            .map_or(DISTRICT_ID, |k| plan.schools[k].id.as_str());
        let orgs = match s.also {
            Some(k) => format!("{org},{}", plan.schools[k].id),
            None => org.to_string(),
        };
        if s.role == StaffRole::Teacher {
            summary.teachers += 1;
        } else {
            summary.administrators += 1;
        }
        row(
            &mut out,
            UserRow {
                id: &s.id,
                enabled: s.enabled,
                orgs: &orgs,
                role_1_1: staff_role_name(s.role, false),
                username: &s.username,
                user_ids: &format!("{{LDAP:{}}}", s.username),
                given: &s.given,
                family: &s.family,
                middle: &s.middle,
                identifier: &format!("E{:05}", k + 1),
                email: &s.email,
                sms: "",
                phone: "",
                agents: "",
                grades: "",
                master: "",
                preferred: "",
                primary_org: org,
            },
        )?;
    }
    for i in 0..plan.opts.students {
        let s = plan.student(i);
        let guardians: Vec<String> = plan
            .guardians(s.family_start)
            .into_iter()
            .map(|g| g.id)
            .collect();
        let number = format!("{}", 100_000 + i + 1);
        let state_id = format!("{}", 9_000_000_000 + mix(plan.opts.seed ^ i) % 999_999_999);
        row(
            &mut out,
            UserRow {
                id: &s.id,
                enabled: true,
                orgs: &plan.schools[s.school].id,
                role_1_1: "student",
                username: &s.username,
                user_ids: &format!("{{SIS:{number}}},{{State:{state_id}}}"),
                given: &s.given,
                family: &s.family,
                middle: &s.middle,
                identifier: &number,
                email: &format!("{}@{STUDENT_DOMAIN}", s.username),
                sms: "",
                phone: "",
                agents: &guardians.join(","),
                grades: s.grade,
                master: &state_id,
                preferred: &s.preferred,
                primary_org: &plan.schools[s.school].id,
            },
        )?;
    }
    for i in 0..plan.opts.students {
        let (start, size) = plan.family_of(i);
        if start != i {
            continue;
        }
        let children: Vec<String> = (start..start + size)
            .map(|k| format!("stu-{:06}", k + 1))
            .collect();
        let school = &plan.schools[plan.student(start).school].id;
        for g in plan.guardians(start) {
            summary.guardians += 1;
            row(
                &mut out,
                UserRow {
                    id: &g.id,
                    enabled: true,
                    orgs: school,
                    role_1_1: g.role,
                    username: &g.username,
                    user_ids: "",
                    given: &g.given,
                    family: &g.family,
                    middle: "",
                    identifier: "",
                    email: &g.email,
                    sms: &g.phone,
                    phone: &g.phone,
                    agents: &children.join(","),
                    grades: "",
                    master: "",
                    preferred: "",
                    primary_org: school,
                },
            )?;
        }
    }
    out.finish(summary)?;

    if plan.opts.version == Version::V1_2 {
        let mut out = Out::create(dir, "userProfiles.csv", PROFILES)?;
        for s in plan.staff.iter().filter(|s| s.role == StaffRole::Teacher) {
            out.row(&[
                &format!("prof-{}", s.id),
                "",
                "",
                &s.id,
                "lms",
                "example-lms",
                "gradebook",
                "Teacher account in the district LMS",
                "username",
                &s.username,
                "",
            ])?;
        }
        out.finish(summary)?;
    }
    Ok(())
}

struct UserRow<'a> {
    id: &'a str,
    enabled: bool,
    orgs: &'a str,
    role_1_1: &'a str,
    username: &'a str,
    user_ids: &'a str,
    given: &'a str,
    family: &'a str,
    middle: &'a str,
    identifier: &'a str,
    email: &'a str,
    sms: &'a str,
    phone: &'a str,
    agents: &'a str,
    grades: &'a str,
    master: &'a str,
    preferred: &'a str,
    primary_org: &'a str,
}

fn write_roles(plan: &Plan, dir: &Path, summary: &mut Summary) -> io::Result<()> {
    let mut out = Out::create(dir, "roles.csv", ROLES)?;
    let year = &SESSIONS[0];
    for s in &plan.staff {
        let org = s
            .school
            .map_or(DISTRICT_ID, |k| plan.schools[k].id.as_str());
        let profile = if s.role == StaffRole::Teacher {
            format!("prof-{}", s.id)
        } else {
            String::new()
        };
        out.row(&[
            &format!("role-{}-{org}", s.id),
            "",
            "",
            &s.id,
            "primary",
            staff_role_name(s.role, true),
            year.start,
            "",
            org,
            &profile,
        ])?;
        if let Some(k) = s.also {
            let also = &plan.schools[k].id;
            out.row(&[
                &format!("role-{}-{also}", s.id),
                "",
                "",
                &s.id,
                "secondary",
                "teacher",
                year.start,
                year.end,
                also,
                "",
            ])?;
        }
    }
    for i in 0..plan.opts.students {
        let s = plan.student(i);
        let org = &plan.schools[s.school].id;
        out.row(&[
            &format!("role-{}-{org}", s.id),
            "",
            "",
            &s.id,
            "primary",
            "student",
            year.start,
            year.end,
            org,
            "",
        ])?;
    }
    for i in 0..plan.opts.students {
        let (start, _) = plan.family_of(i);
        if start != i {
            continue;
        }
        let org = &plan.schools[plan.student(start).school].id;
        for g in plan.guardians(start) {
            out.row(&[
                &format!("role-{}-{org}", g.id),
                "",
                "",
                &g.id,
                "primary",
                g.role,
                "",
                "",
                org,
                "",
            ])?;
        }
    }
    out.finish(summary)
}

fn write_enrollments(plan: &Plan, dir: &Path, summary: &mut Summary) -> io::Result<()> {
    let mut out = Out::create(dir, "enrollments.csv", ENROLLMENTS)?;
    let year = &SESSIONS[0];
    // Teachers first: each class's teacher, and the specialists in every homeroom.
    for (pos, &school) in plan.es.iter().enumerate() {
        let org = &plan.schools[school].id;
        for g in 0..6 {
            for room in 0..plan.homerooms[pos][g] {
                let class = plan.homeroom_id(school, g, room);
                let teacher = &plan.staff[plan.homeroom_teacher[pos][g][room as usize]];
                let specialist = &plan.staff[plan.specialist[pos]];
                for (t, primary) in [(teacher, "true"), (specialist, "false")] {
                    out.row(&[
                        &format!("enr-{class}-{}", t.id),
                        "",
                        "",
                        &class,
                        org,
                        &t.id,
                        "teacher",
                        primary,
                        year.start,
                        year.end,
                    ])?;
                }
            }
        }
    }
    for (pos, &school) in plan.hs.iter().enumerate() {
        let org = &plan.schools[school].id;
        for (c, course) in HS_COURSES.iter().enumerate() {
            let term = course.term.session();
            for section in 0..plan.sections[pos][c] {
                let class = plan.section_id(school, course.code, section);
                let t = &plan.staff[plan.section_teacher[pos][c][section as usize]];
                out.row(&[
                    &format!("enr-{class}-{}", t.id),
                    "",
                    "",
                    &class,
                    org,
                    &t.id,
                    "teacher",
                    "true",
                    term.start,
                    term.end,
                ])?;
            }
        }
    }
    for i in 0..plan.opts.students {
        let s = plan.student(i);
        let org = &plan.schools[s.school].id;
        if let Some((g, room)) = plan.homeroom(&s) {
            let class = plan.homeroom_id(s.school, g, room);
            out.row(&[
                &format!("enr-{class}-{}", s.id),
                "",
                "",
                &class,
                org,
                &s.id,
                "student",
                "false",
                year.start,
                year.end,
            ])?;
        }
        for (c, section) in plan.schedule(&s) {
            let course = &HS_COURSES[c];
            let class = plan.section_id(s.school, course.code, section);
            let term = course.term.session();
            out.row(&[
                &format!("enr-{class}-{}", s.id),
                "",
                "",
                &class,
                org,
                &s.id,
                "student",
                "false",
                term.start,
                term.end,
            ])?;
        }
    }
    out.finish(summary)
}

fn write_demographics(plan: &Plan, dir: &Path, summary: &mut Summary) -> io::Result<()> {
    let mut out = Out::create(dir, "demographics.csv", DEMOGRAPHICS)?;
    for i in 0..plan.opts.students {
        let s = plan.student(i);
        let mut rng = Rng::of(plan.opts.seed, TAG_STUDENT ^ 0xde30, i);
        let race = rng.below(100);
        let flag = |on: bool| if on { "true" } else { "false" };
        let (native, asian, black, pacific, white, two) = match race {
            0..=1 => (true, false, false, false, false, false),
            2..=9 => (false, true, false, false, false, false),
            10..=19 => (false, false, true, false, false, false),
            20 => (false, false, false, true, false, false),
            21..=28 => (false, false, false, false, false, true),
            _ => (false, false, false, false, true, false),
        };
        let hispanic = rng.percent(27);
        let (city, state) = CITIES[rng.below(CITIES.len() as u64) as usize];
        let (country, state, city) = if rng.percent(6) {
            ("MX", "", "Guadalajara")
        } else {
            ("US", state, city)
        };
        out.row(&[
            &s.id,
            "",
            "",
            &s.birth,
            s.sex,
            flag(native),
            flag(asian),
            flag(black),
            flag(pacific),
            flag(white || two),
            flag(two),
            flag(hispanic),
            country,
            state,
            city,
            "01652",
        ])?;
    }
    out.finish(summary)
}

/// The first high school's first two Algebra I sections keep a gradebook.
fn write_gradebook(plan: &Plan, dir: &Path, summary: &mut Summary) -> io::Result<()> {
    let v12 = plan.opts.version == Version::V1_2;
    let mut out = Out::create(
        dir,
        "categories.csv",
        if v12 { CATEGORIES_1_2 } else { CATEGORIES_1_1 },
    )?;
    let categories = [
        ("cat-homework", "Homework", "0.3"),
        ("cat-tests", "Quizzes and Tests", "0.5"),
        ("cat-projects", "Projects", "0.2"),
    ];
    for (id, title, weight) in categories {
        if v12 {
            out.row(&[id, "", "", title, weight])?;
        } else {
            out.row(&[id, "", "", title])?;
        }
    }
    out.finish(summary)?;

    let alg1 = HS_COURSES
        .iter()
        .position(|c| c.code == "ALG1")
        .unwrap_or(0);
    let graded: Vec<(usize, u64)> = match plan.hs.first() {
        Some(&school) => (0..plan.sections[0][alg1].min(2))
            .map(|s| (school, s))
            .collect(),
        None => Vec::new(),
    };
    let items = [
        (
            "quiz1",
            "Unit 1 Quiz",
            "Linear equations and inequalities.",
            "cat-tests",
            "2024-09-16",
            "2024-09-20",
        ),
        (
            "hw1",
            "Chapter 1 Review",
            "Problems 1-20 on page 42.\nShow your work, and check each answer.",
            "cat-homework",
            "2024-09-09",
            "2024-09-13",
        ),
    ];
    let mut out = Out::create(dir, "lineItems.csv", LINE_ITEMS)?;
    for &(school, section) in &graded {
        let class = plan.section_id(school, "ALG1", section);
        for (key, title, description, category, assign, due) in items {
            out.row(&[
                &format!("li-{class}-{key}"),
                "",
                "",
                title,
                description,
                assign,
                due,
                &class,
                category,
                "as-2025-q1",
                "0",
                "100",
            ])?;
        }
    }
    out.finish(summary)?;

    let mut out = Out::create(dir, "results.csv", RESULTS)?;
    for i in 0..plan.opts.students {
        let s = plan.student(i);
        for (c, section) in plan.schedule(&s) {
            if c != alg1 || !graded.contains(&(s.school, section)) {
                continue;
            }
            let class = plan.section_id(s.school, "ALG1", section);
            for (key, _, _, _, _, due) in items {
                let mut rng = Rng::of(plan.opts.seed, TAG_RESULT, i * 8 + key.len() as u64);
                let score = 55 + rng.below(46);
                let comment = match score {
                    95.. => "Excellent work, keep it up!",
                    70..=94 => "",
                    _ => "Please see me about retaking this.",
                };
                let (status, score_text) = if rng.percent(4) {
                    ("not submitted", String::new())
                } else {
                    ("fully graded", format!("{score}.0"))
                };
                out.row(&[
                    &format!("res-{class}-{key}-{}", s.id),
                    "",
                    "",
                    &format!("li-{class}-{key}"),
                    &s.id,
                    status,
                    &score_text,
                    due,
                    comment,
                ])?;
            }
        }
    }
    out.finish(summary)
}

fn write_manifest(version: Version, dir: &Path) -> io::Result<()> {
    let mut files: Vec<(&str, &str)> = vec![
        ("academicSessions", "bulk"),
        ("categories", "bulk"),
        ("classes", "bulk"),
        ("classResources", "absent"),
        ("courses", "bulk"),
        ("courseResources", "absent"),
        ("demographics", "bulk"),
        ("enrollments", "bulk"),
        ("lineItems", "bulk"),
        ("orgs", "bulk"),
        ("resources", "absent"),
        ("results", "bulk"),
        ("users", "bulk"),
    ];
    if version == Version::V1_2 {
        files.extend([
            ("lineItemLearningObjectiveIds", "absent"),
            ("lineItemScoreScales", "absent"),
            ("resultLearningObjectiveIds", "absent"),
            ("resultScoreScales", "absent"),
            ("roles", "bulk"),
            ("scoreScales", "absent"),
            ("userProfiles", "bulk"),
            ("userResources", "absent"),
        ]);
        files.sort();
    }
    let mut writer = csv::WriterBuilder::new()
        .from_writer(BufWriter::new(File::create(dir.join("manifest.csv"))?));
    writer
        .write_record(["propertyName", "value"])
        .map_err(io::Error::other)?;
    writer
        .write_record(["manifest.version", "1.0"])
        .map_err(io::Error::other)?;
    writer
        .write_record(["oneroster.version", version.label()])
        .map_err(io::Error::other)?;
    for (name, mode) in files {
        writer
            .write_record([format!("file.{name}").as_str(), mode])
            .map_err(io::Error::other)?;
    }
    writer
        .write_record(["source.systemName", "Homeroom sample district generator"])
        .map_err(io::Error::other)?;
    writer
        .write_record(["source.systemCode", "homeroom-district"])
        .map_err(io::Error::other)?;
    writer.flush()?;
    Ok(())
}

/// What `gen-district` is asked to write.
#[derive(Debug, Clone)]
pub struct Args {
    pub options: Options,
    pub out: std::path::PathBuf,
    /// Mix in the defects of real exports (`crate::defects`).
    pub defects: bool,
}

/// Parse `gen-district` arguments: `--students N --out DIR [--seed S] [--version 1.1|1.2] [--defects]`.
pub fn parse_args(args: &[String]) -> Result<Args, String> {
    let mut opts = Options::default();
    let mut out = None;
    let mut defects = false;
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        let mut value = || {
            it.next()
                .cloned()
                .ok_or_else(|| format!("{flag} needs a value"))
        };
        match flag.as_str() {
            "--students" => {
                let v = value()?;
                opts.students = v
                    .parse()
                    .map_err(|_| format!("--students wants a number, not `{v}`"))?;
            }
            "--seed" => {
                let v = value()?;
                opts.seed = v
                    .parse()
                    .map_err(|_| format!("--seed wants a number, not `{v}`"))?;
            }
            "--version" | "--oneroster" => {
                let v = value()?;
                opts.version = Version::parse(&v)
                    .ok_or_else(|| format!("--version is 1.1 or 1.2, not `{v}`"))?;
            }
            "--out" => out = Some(std::path::PathBuf::from(value()?)),
            "--defects" => defects = true,
            other => return Err(format!("unknown argument `{other}`")),
        }
    }
    if opts.students == 0 {
        return Err("--students must be at least 1".into());
    }
    let out = out.ok_or("--out DIR is required")?;
    Ok(Args {
        options: opts,
        out,
        defects,
    })
}

/// A line per file, for the generator's output.
pub fn describe(summary: &Summary) -> String {
    let mut text = format!(
        "{} schools, {} students, {} teachers, {} administrators, {} guardians\n",
        summary.schools,
        summary.students,
        summary.teachers,
        summary.administrators,
        summary.guardians
    );
    for (file, rows) in &summary.rows {
        text.push_str(&format!("  {file:<22} {rows:>10} rows\n"));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_round_trip() {
        for days in [-1000, 0, 19_000, 20_000, 20_089] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
        assert_eq!(date_text(days_from_civil(2024, 2, 29) + 1), "2024-03-01");
    }

    #[test]
    fn families_cover_every_student_once() {
        let plan = Plan::new(&Options {
            students: 103,
            ..Options::default()
        });
        let mut seen = vec![0u32; 103];
        for i in 0..103 {
            let (start, size) = plan.family_of(i);
            assert!(
                start <= i && i < start + size,
                "student {i} in family {start}+{size}"
            );
            if start == i {
                for k in start..start + size {
                    seen[k as usize] += 1;
                }
            }
        }
        assert!(seen.iter().all(|&n| n == 1));
    }

    #[test]
    fn the_sample_district_is_what_the_generator_writes() {
        let tmp = tempfile::tempdir().unwrap();
        let summary = write_package(&Options::default(), tmp.path()).unwrap();
        assert_eq!((summary.schools, summary.students), (2, 360));
        assert!(
            (18..=26).contains(&summary.teachers),
            "{} teachers",
            summary.teachers
        );
        let sample = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/sample-district");
        let mut names: Vec<_> = std::fs::read_dir(tmp.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        names.sort();
        assert_eq!(names.len(), 13, "{names:?}");
        for name in names {
            let fresh = std::fs::read(tmp.path().join(&name)).unwrap();
            let kept = std::fs::read(sample.join(&name)).unwrap_or_default();
            assert!(
                fresh == kept,
                "examples/sample-district/{} is not what the generator writes: regenerate it with \
                 `cargo run -p homeroom-tests --example gen-district -- --students 360 --out examples/sample-district`",
                name.to_string_lossy()
            );
        }
    }

    #[test]
    fn high_school_students_take_six_to_eight_classes() {
        let plan = Plan::new(&Options::default());
        for i in 0..360 {
            let s = plan.student(i);
            let n = plan.schedule(&s).len();
            match plan.schools[s.school].level {
                Level::High => assert!(
                    (6..=8).contains(&n),
                    "student {i} in grade {} takes {n}",
                    s.grade
                ),
                Level::Elementary => assert!(plan.homeroom(&s).is_some() && n == 0),
            }
        }
    }
}
