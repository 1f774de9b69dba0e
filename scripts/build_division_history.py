"""Build data/reference/hebei_division_history.csv: every Hebei county-level (code, name) that the
NBS statistical division codes used from 2015 to 2023, and the 2023 division each one became.

A 统一社会信用代码 keeps the division code of the authority that issued it (codes exist since
October 2015), so a firm registered in 满城县 in 2015 carries 130621, retired when 满城县 became
满城区 (130607). Registry addresses keep old names just as long. This table lets the import read both.

Input: a clone of github.com/modood/Administrative-divisions-of-China (WTFPL), whose history holds
each NBS release. Usage: python scripts/build_division_history.py /path/to/clone > out.csv
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys

# (commit, NBS cut-off date) of each release in the upstream history, oldest first.
RELEASES = [
    ("a7a85c0", "2015-09-30"),
    ("d5a8cf3", "2016-07-31"),
    ("c893e3b", "2017-10-31"),
    ("31aaa3c", "2018-10-31"),
    ("2824502", "2019-10-31"),
    ("78b6f36", "2020-06-30"),
    ("0b7fd75", "2021-10-31"),
    ("d33ad30", "2022-10-31"),
    ("5739d76", "2023-06-30"),
]
SUFFIXES = ("自治县", "县", "区", "市")
# Renamed to a name with another stem; named in data/reference/SOURCE.md (hebei_city_county.csv).
RENAMED = {"滦县": "滦州市", "任县": "任泽区"}


def _show(repo: str, commit: str, path: str) -> str:
    return subprocess.run(
        ["git", "-C", repo, "show", f"{commit}:{path}"], check=True, capture_output=True, text=True
    ).stdout


def hebei_areas(repo: str, commit: str) -> dict[str, str]:
    rows = json.loads(_show(repo, commit, "dist/areas.json"))
    return {r["code"]: r["name"] for r in rows if r["code"].startswith("13")}


def stem(name: str) -> str:
    for s in SUFFIXES:
        if name.endswith(s) and len(name) - len(s) >= 2:
            return name[: -len(s)]
    return name


def main(repo: str) -> None:
    seen: dict[tuple[str, str], list[str]] = {}
    for commit, cutoff in RELEASES:
        for code, name in hebei_areas(repo, commit).items():
            seen.setdefault((code, name), []).append(cutoff)
    latest = hebei_areas(repo, RELEASES[-1][0])
    by_city_stem = {(c[:4], stem(n)): c for c, n in latest.items()}
    by_stem = {stem(n): c for c, n in latest.items() if n != "市辖区"}
    by_name = {n: c for c, n in latest.items()}
    out = csv.writer(sys.stdout, lineterminator="\n")
    out.writerow(
        ["code", "name", "first_seen", "last_seen", "code_2023", "name_2023", "successor_by"]
    )
    for (code, name), dates in sorted(seen.items()):
        if latest.get(code) == name:
            successor, how = code, "current"
        elif code in latest:
            successor, how = code, "same_code"  # renamed in place, e.g. 邢台 桥东区 → 襄都区
        elif (code[:4], stem(name)) in by_city_stem:
            successor, how = by_city_stem[(code[:4], stem(name))], "same_name_stem"
        elif name in RENAMED and RENAMED[name] in by_name:
            successor, how = by_name[RENAMED[name]], "renamed"
        elif name != "市辖区" and stem(name) in by_stem:
            # e.g. 定州市 139001 → 130682: province-administered codes filed under a city since 2017
            successor, how = by_stem[stem(name)], "same_name_stem"
        else:
            successor, how = "", "none"  # abolished and split: only the city is certain
        out.writerow([code, name, dates[0], dates[-1], successor, latest.get(successor, ""), how])


if __name__ == "__main__":
    main(sys.argv[1])
