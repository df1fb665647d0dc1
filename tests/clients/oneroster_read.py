#!/usr/bin/env python3
"""A OneRoster client written apart from the hub, as a vendor would write one:
plain `requests`, following the OneRoster 1.1 / 1.2 REST binding (OAuth 2.0
client credentials, limit/offset paging by the `Link` header, `X-Total-Count`).

It reads every collection of one version, checks what a client relies on
(each page's records have sourcedId, status and dateLastModified; the pages
add up to X-Total-Count; no record comes twice; every relationship it follows
answers), and prints one JSON object with what it read.

With --grade it then writes back as a gradebook vendor does: a line item
for the first class (PUT lineItems/{id}) and a score for that class's first
student (PUT results/{id}), each answered 201, then reads both back.

    oneroster_read.py BASE_URL CLIENT_ID CLIENT_SECRET {1.1|1.2} [PAGE_SIZE] [--grade]
"""

import json
import sys
import uuid

import requests

ROSTERING = [
    "orgs", "schools", "academicSessions", "terms", "gradingPeriods",
    "courses", "classes", "users", "students", "teachers", "enrollments",
    "demographics",
]
GRADEBOOK = ["categories", "lineItems", "results"]
ENVELOPE = {
    "schools": "orgs", "terms": "academicSessions",
    "gradingPeriods": "academicSessions", "students": "users",
    "teachers": "users",
}


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    base, client_id, secret, version = args[:4]
    page_size = int(args[4]) if len(args) > 4 else 100
    session = requests.Session()
    answer = session.post(
        f"{base}/ims/oneroster/token",
        auth=(client_id, secret),
        data={"grant_type": "client_credentials"},
        timeout=30,
    )
    answer.raise_for_status()
    token = answer.json()["access_token"]
    session.headers["Authorization"] = f"Bearer {token}"
    if version == "1.1":
        bases = {c: f"{base}/ims/oneroster/v1p1" for c in ROSTERING + GRADEBOOK}
    else:
        bases = {c: f"{base}/ims/oneroster/rostering/v1p2" for c in ROSTERING}
        bases.update({c: f"{base}/ims/oneroster/gradebook/v1p2" for c in GRADEBOOK})

    out = {"counts": {}, "totals": {}, "problems": [], "requests": 0, "ids": {}}

    def walk(collection, url):
        """Every record of a collection, page by page along rel=next."""
        envelope = ENVELOPE.get(collection, collection)
        records, seen, total = [], set(), None
        url = f"{url}?limit={page_size}&offset=0"
        while url:
            r = session.get(url, timeout=60)
            out["requests"] += 1
            if r.status_code != 200:
                out["problems"].append(f"{url}: HTTP {r.status_code} {r.text[:200]}")
                return records
            if total is None:
                total = int(r.headers["X-Total-Count"])
            for record in r.json()[envelope]:
                for field in ("sourcedId", "status", "dateLastModified"):
                    if field not in record:
                        out["problems"].append(f"{collection}: a record without {field}")
                if record["sourcedId"] in seen:
                    out["problems"].append(f"{collection}: {record['sourcedId']} came twice")
                seen.add(record["sourcedId"])
                records.append(record)
            url = r.links.get("next", {}).get("url")
        out["totals"][collection] = total
        if total != len(records):
            out["problems"].append(f"{collection}: X-Total-Count {total}, read {len(records)}")
        return records

    read = {}
    for collection, url in bases.items():
        read[collection] = walk(collection, f"{url}/{collection}")
        out["counts"][collection] = len(read[collection])
        out["ids"][collection] = sorted(r["sourcedId"] for r in read[collection])

    # Relationships a roster sync follows: each class's students, each
    # school's teachers; they add up to what the enrollments say.
    rostering = bases["classes"]
    in_classes = 0
    for klass in read["classes"]:
        students = walk("students", f"{rostering}/classes/{klass['sourcedId']}/students")
        in_classes += len(students)
    out["students_in_classes"] = in_classes
    out["student_enrollments"] = len({
        (e["class"]["sourcedId"], e["user"]["sourcedId"])
        for e in read["enrollments"] if e.get("role") == "student"
    })
    teachers = 0
    for school in read["schools"]:
        teachers += len(walk("teachers", f"{rostering}/schools/{school['sourcedId']}/teachers"))
    out["teachers_in_schools"] = teachers
    single = read["users"][0]["sourcedId"] if read["users"] else None
    if single:
        r = session.get(f"{rostering}/users/{single}", timeout=30)
        out["requests"] += 1
        if r.status_code != 200 or r.json()["user"]["sourcedId"] != single:
            out["problems"].append(f"users/{single}: HTTP {r.status_code}")
    if "--grade" in sys.argv:
        out["graded"] = grade(session, bases, read, version, rostering, out)
    print(json.dumps(out))


def grade(session, bases, read, version, rostering, out):
    """A line item for the first class with students, and one score."""
    gradebook = bases["lineItems"]
    for klass in read["classes"]:
        r = session.get(f"{rostering}/classes/{klass['sourcedId']}/students", timeout=30)
        students = r.json().get("users", []) if r.status_code == 200 else []
        if students:
            break
    else:
        out["problems"].append("no class has students to grade")
        return None
    student = students[0]["sourcedId"]
    tag = uuid.uuid4().hex
    line_item, result = f"py-li-{tag}", f"py-r-{tag}"
    item = {
        "sourcedId": line_item,
        "status": "active",
        "title": f"Python quiz ({version})",
        "assignDate": "2024-10-01",
        "dueDate": "2024-10-08",
        "class": {"sourcedId": klass["sourcedId"], "type": "class"},
        "resultValueMin": 0.0,
        "resultValueMax": 20.0,
    }
    score = {
        "sourcedId": result,
        "status": "active",
        "lineItem": {"sourcedId": line_item, "type": "lineItem"},
        "student": {"sourcedId": student, "type": "user"},
        "score": 17.5,
        "scoreStatus": "fully graded",
        "scoreDate": "2024-10-09",
    }
    for path, envelope, body in (
        (f"lineItems/{line_item}", "lineItem", item),
        (f"results/{result}", "result", score),
    ):
        r = session.put(f"{gradebook}/{path}", json={envelope: body}, timeout=30)
        out["requests"] += 1
        if r.status_code != 201:
            out["problems"].append(f"PUT {path}: HTTP {r.status_code} {r.text[:300]}")
            return None
    r = session.get(f"{gradebook}/results/{result}", timeout=30)
    served = r.json().get("result", {}) if r.status_code == 200 else {}
    return {
        "lineItem": line_item,
        "result": result,
        "class": klass["sourcedId"],
        "student": student,
        "score": served.get("score"),
    }


if __name__ == "__main__":
    main()
