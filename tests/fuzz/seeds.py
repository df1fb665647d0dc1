#!/usr/bin/env python3
"""Writes the seed corpora in corpus/<target>/ (run from anywhere:
`python3 tests/fuzz/seeds.py`). The seeds are committed; this script is how
they were made, and what to change when an input format changes.

- csv_package: every file of the small package in base/ (both versions, as
  bulk and as delta, small pages), the manifests, and the package zipped
  (deflated and stored). The first three bytes are the harness's choices
  (see fuzz_targets/csv_package.rs).
- district_config: examples/springfield.toml and a few configurations that
  use every section.
- boundary_validation: pages in the harness's byte format (see
  fuzz_targets/boundary_validation.rs), encoded by the functions below.
"""

import io
import os
import shutil
import struct
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
CORPUS = os.path.join(HERE, "corpus")

# schema::FILES, in order.
FILES = [
    "orgs.csv", "academicSessions.csv", "courses.csv", "classes.csv", "users.csv",
    "roles.csv", "userProfiles.csv", "enrollments.csv", "demographics.csv",
    "categories.csv", "lineItems.csv", "results.csv",
]


def fresh(target):
    d = os.path.join(CORPUS, target)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    return d


def put(d, name, data):
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def base(version):
    d = os.path.join(HERE, "base", version)
    return {f: open(os.path.join(d, f), "rb").read() for f in FILES if os.path.exists(os.path.join(d, f))}


def manifest(version, files):
    lines = ["propertyName,value", "manifest.version,1.0", f"oneroster.version,{version}"]
    lines += [f"file.{f[:-4]},bulk" for f in files]
    return ("\n".join(lines) + "\n").encode()


def csv_package():
    d = fresh("csv_package")
    for version, bit in (("v1p1", 0x00), ("v1p2", 0x10)):
        files = base(version)
        for i, name in enumerate(FILES):
            if name not in files:
                continue
            # bulk, pages of 2, no seek, the whole package read; delta, pages
            # of 1, a cursor at byte 40, only the payload's kind read.
            put(d, f"{version}-{name}", bytes([bit | i, 1, 0]) + files[name])
            put(d, f"{version}-delta-{name}", bytes([bit | 0x20 | i, 0x10, 40]) + files[name])
        label = "1.1" if version == "v1p1" else "1.2"
        put(d, f"{version}-manifest.csv", bytes([0x80 | bit, 3, 0]) + manifest(label, files))
        for method, tag in ((zipfile.ZIP_DEFLATED, "deflated"), (zipfile.ZIP_STORED, "stored")):
            buf = io.BytesIO()
            with zipfile.ZipFile(buf, "w", method) as z:
                z.writestr("manifest.csv", manifest(label, files))
                for name, data in files.items():
                    z.writestr(name, data)
            put(d, f"{version}-{tag}.zip", bytes([0x40 | bit, 2, 0]) + buf.getvalue())
    # The sample district's manifest, with its absent files and source lines.
    sample = open(os.path.join(ROOT, "examples", "sample-district", "manifest.csv"), "rb").read()
    put(d, "sample-manifest.csv", bytes([0x90, 15, 0]) + sample)


DISTRICT_CONFIGS = {
    "every-section.toml": '''
[organization]
id = "springfield"
name = "Springfield Public Schools"

[[source]]
id = "sis"
plugin = "oneroster-csv"
name = "SIS"
folder = "examples/sample-district"
settings = { path = "sample", page_size = "500" }
secrets = { client_secret = "HOMEROOM_SIS_SECRET" }
advanced = { preview = true, sis_id_prefix = "sis", kinds = ["org", "user"] }
schools = { mode = "selected", selected = ["s1"] }
schedule = { every = "week", at = "02:30", weekday = "monday", expires = "2026-06-30", mode = "quick" }

[[source.mapping]]
kind = "user"
target = "email"
fn = "template"
template = "{givenName}.{familyName}@springfield.org"
then = ["lower"]

[[source.mapping]]
kind = "user"
target = "username"
fn = "regex-replace"
from = "email"
pattern = "@.*$"
replacement = ""

[[source.requirements]]
kind = "student"
attribute = "email"
action = "report"

[[source.filters]]
kind = "student"
template = "grade-range"
min = "KG"
max = "05"

[[source.domains]]
kind = "user"
attributes = ["email"]
mode = "manual"

[[source.master_fields]]
kind = "user"
attribute = "email"
source = "sis"

[[source.mapping]]
kind = "user"
target = "grades"
fn = "value-map"
from = "grades"
map = { K = "KG", "0" = "KG" }
default = "other"

[[source.mapping]]
kind = "user"
target = "birthDate"
fn = "date-format"
from = "birthDate"
input = "%m/%d/%Y"
output = "%Y-%m-%d"

[[source.filters]]
kind = "class"
template = "custom"
all = [{ attribute = "title", op = "matches", value = "^Algebra" }]
any = [{ attribute = "grades", op = "in", values = ["09", "10"] }, { attribute = "location", op = "is-empty" }]

[[source.rules]]
plugin = "grade-filter"
settings = { min = "KG", max = "05" }

[source.advanced.hold]
updated_share = 0.5
deleted_share = 0.2

[source.advanced.match_keys]
user = ["identifier"]
class = ["classCode", "title"]
''',
    "two-sources.toml": '''
[organization]
id = "d1"
name = "District One"

[[source]]
id = "rest"
plugin = "oneroster"
enabled = false
settings = { base_url = "https://sis.example.org/ims/oneroster/v1p1" }
domains = []

[[source]]
id = "csv_2"
plugin = "oneroster-csv"
folder = "/srv/drop"
schedule = { every = "day", at = "23:59" }
''',
    "organization-only.toml": '''
[organization]
id = "o"
name = "O"
''',
}


def district_config():
    d = fresh("district_config")
    shutil.copy(os.path.join(ROOT, "examples", "springfield.toml"), os.path.join(d, "springfield.toml"))
    for name, text in DISTRICT_CONFIGS.items():
        put(d, name, text.lstrip().encode())


# boundary_validation's byte format.
KINDS = ["org", "academic-session", "course", "class", "user", "enrollment",
         "demographics", "user-agent", "category", "line-item", "result"]  # WIT order


def kind(name):
    return bytes([KINDS.index(name)])


def s(text):
    b = text.encode()
    assert len(b) < 0xFF
    return bytes([len(b)]) + b


def lst(items):
    assert len(items) < 255
    return bytes([len(items)]) + b"".join(items)


def value(tag, *parts):
    return bytes([tag]) + b"".join(parts)


def entity(source_id, attrs, dlm=None, deleted=False, other_kind=None):
    out = bytes([0xC0 + KINDS.index(other_kind)]) if other_kind else b"\x00"
    out += s(source_id) + bytes([1 if deleted else 0])
    out += (b"\x01" + s(dlm)) if dlm is not None else b"\x00"
    out += lst([s(n) + v for n, v in attrs])
    return out


def page(k, entities, cursor=None, nxt=None, total=None, ahead=(), names=True, cap=0, verdicts=b"\x00"):
    flags = (1 if cursor is not None else 0) | (2 if nxt is not None else 0) \
        | (4 if total is not None else 0) | (8 if names else 0) | (cap << 4)
    out = kind(k) + bytes([flags])
    if cursor is not None:
        out += s(cursor)
    if nxt is not None:
        out += s(nxt)
    if total is not None:
        out += struct.pack("<Q", total)
    out += lst([s(c) for c in ahead]) + lst(entities) + verdicts
    return out


def boundary_validation():
    d = fresh("boundary_validation")
    every_value = [
        ("nothing", value(0)),
        ("givenName", value(1, s("Ada"))),
        ("grade", value(2, struct.pack("<q", 5))),
        ("gpa", value(3, struct.pack("<d", 3.75))),
        ("enabledUser", value(4, b"\x01")),
        ("birthDate", value(5, s("2012-02-29"))),
        ("lastLogin", value(6, s("2024-08-19T14:30:00Z"))),
        ("grades", value(7, lst([s("KG"), s("01")]))),
        ("primaryOrg", value(8, kind("org"), s("org-es1"))),
        ("orgs", value(9, lst([kind("org") + s("org-es1"), kind("org") + s("org-hs1")]))),
        ("Home Room", value(1, s("Room 101"))),
    ]
    put(d, "user-every-value", page("user", [
        entity("stu-000001", every_value, dlm="2024-08-19T14:30:00+02:00"),
        entity("stu-000002", [("givenName", value(1, s("Grace")))], deleted=True),
    ], nxt="5:6:4:0", total=1200))
    put(d, "paged-ahead", page("enrollment", [
        entity("enr-1", [("user", value(8, kind("user"), s("stu-000001"))),
                         ("class", value(8, kind("class"), s("cls-1"))),
                         ("beginDate", value(5, s("2024-08-19")))]),
    ], cursor="offset:0", nxt="offset:100", ahead=["offset:200", "offset:300"], total=400))
    put(d, "repeated-ids", page("org", [
        entity("org-1", [("name", value(1, s("Cedar Grove")))]),
        entity("org-1", [("name", value(1, s("Cedar Grove Elementary")))]),
        entity("org-2", []),
        entity("org-2", []),
    ]))
    put(d, "refused-wrong-kind", page("class", [entity("crs-1", [], other_kind="course")]))
    put(d, "refused-bad-date", page("academic-session", [
        entity("as-2025", [("startDate", value(5, s("2024-02-30")))]),
    ]))
    put(d, "refused-control-id", page("user", [entity("u1\r\n\x1b[31mred", [])]))
    put(d, "refused-same-cursor", page("result", [], cursor="7", nxt="7"))
    put(d, "rule-verdicts", page("user", [
        entity("u1", [("grade", value(1, s("05")))]),
        entity("u2", []),
        entity("u3", []),
    ], names=False, verdicts=b"\x00" + b"\x00" + b"\x01" + s("not in the grade range") + b"\x02"))
    put(d, "small-value-cap", page("line-item", [
        entity("li-1", [("title", value(1, s("Unit 1 Quiz")))]),
    ], cap=3))


if __name__ == "__main__":
    csv_package()
    district_config()
    boundary_validation()
    for t in sorted(os.listdir(CORPUS)):
        print(f"corpus/{t}: {len(os.listdir(os.path.join(CORPUS, t)))} seeds")
