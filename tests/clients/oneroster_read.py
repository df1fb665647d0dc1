#!/usr/bin/env python3
"""A OneRoster client written apart from the hub, as a vendor would write one:
plain `requests`, following the OneRoster 1.1 / 1.2 REST binding (OAuth 2.0
client credentials, limit/offset paging by the `Link` header, `X-Total-Count`).

It reads every collection of one version, checks what a client relies on
(each page's records have sourcedId, status and dateLastModified; the pages
add up to X-Total-Count; no record comes twice; every relationship it follows
answers), and prints one JSON object with what it read.

    oneroster_read.py BASE_URL CLIENT_ID CLIENT_SECRET {1.1|1.2} [PAGE_SIZE]
"""

import json
import sys

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
    base, client_id, secret, version = sys.argv[1:5]
    page_size = int(sys.argv[5]) if len(sys.argv) > 5 else 100
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
    print(json.dumps(out))


if __name__ == "__main__":
    main()
