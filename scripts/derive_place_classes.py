"""Derive the GB/T 4754 classes of every place into data/kb/place_classes.yaml.

Each place's own words go through the industry classifier (trained on the official notes, the
business-scope catalogue and the 战新 key products): a named base's or cluster's product words, a
catalogue zone's 主导产业 items, a public-list cluster's products. A class is kept when the
classifier is confident enough relative to its best answer for that word. Records marked
`reviewed: true` (checked by hand) are kept as they are.

    .venv/bin/python scripts/derive_place_classes.py            # rewrite, keeping reviewed records
    .venv/bin/python scripts/derive_place_classes.py --dry-run  # print what would change
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from features.kb import DATA_DIR, ChainRef, KnowledgeBase, Park, load_kb  # noqa: E402
from recommender.industry import fit_official  # noqa: E402

OUT = DATA_DIR / "kb" / "place_classes.yaml"
PER_WORD = 3  # classes considered per word
SPECIFIC = 0.5  # a word whose best class reaches this probability names a product
MIN_SHARE = 0.35  # of the word's best class probability
MAX_CLASSES = 10
SERVICE_CHAINS = {
    "industrial_design",
    "it_services",
    "ecommerce",
    "modern_logistics",
    "industrial_tourism",
}

HEADER = """\
# place_classes.yaml — GB/T 4754-2017 codes each place hosts, with provenance.
# code: a 4-digit class (小类), or a 3-digit group / 2-digit division for a broad 主导产业.
# via: classifier = the industry classifier (recommender/industry.py, trained on the official GB/T
#        notes, the business-scope catalogue and the 战新 key products) read the word in `basis`;
#      chain_map = `basis` is a broad term (装备制造, 生物医药) the classifier cannot place on one
#        class: the codes gbt_chain_map.yaml maps to the term's chain or segment;
#      reviewed = checked or set by hand (the script keeps reviewed records as they are).
# weight: the classifier's probability relative to its best class for that word (1 = best).
# Written by scripts/derive_place_classes.py; the content fit compares an enterprise's class
# distribution with these codes, backing off class → group → division (recommender/classfit.py).
"""


def place_words(p: Park) -> list[str]:
    words = list(p.leading_industries) if p.from_catalogue else list(p.keywords)
    return list(dict.fromkeys(w for w in words if len(w.strip()) >= 2))


def chain_codes(kb: KnowledgeBase, refs: tuple[ChainRef, ...]) -> list[str]:
    """The GB/T codes gbt_chain_map.yaml maps to these chains or segments (most specific kept)."""
    want = {(r.chain_id, r.segment_id) for r in refs}
    chains = {r.chain_id for r in refs if r.segment_id is None}
    codes = [
        m.code
        for m in kb.gbt_map
        if any((c.chain_id, c.segment_id) in want or c.chain_id in chains for c in m.chains)
    ]
    return codes


def industrial(code: str) -> bool:
    """Mining, manufacturing and utilities (divisions 06–46), or farming (01–05) for 特色农产品."""
    return 1 <= int(code[:2]) <= 46


def classify(word: str, clf, service: bool) -> list[tuple[str, float]]:  # type: ignore[no-untyped-def]
    """The classifier's reading of a place word. A producing place's word names a product made
    there: it is read among the producing classes only (汽车 → 汽车制造, not 汽车零售; 标准件 →
    紧固件, not 标准化服务), as the word alone and as 「…制造」, whichever is surer."""
    variants = [word] if service else [word, word + "制造"]
    best: list[tuple[str, float]] = []
    for v in variants:
        ranked = clf.rank(v, k=PER_WORD * 4)
        if not service:
            ranked = [(c, p) for c, p in ranked if industrial(c)]
        ranked = ranked[:PER_WORD]
        if ranked and (not best or ranked[0][1] > best[0][1]):
            best = ranked
    return best


def derive(p: Park, kb: KnowledgeBase, terms: dict, clf) -> list[dict]:  # type: ignore[no-untyped-def]
    service = bool(p.chains) and all(r.chain_id in SERVICE_CHAINS for r in p.chains)
    best: dict[str, dict] = {}

    def keep(code: str, weight: float, via: str, basis: str) -> None:
        if code not in best or best[code]["weight"] < weight:
            best[code] = {"code": code, "weight": round(weight, 2), "via": via, "basis": basis}

    for word in place_words(p):
        ranked = classify(word, clf, service)
        if ranked and ranked[0][1] >= SPECIFIC:
            top = ranked[0][1]
            for code, prob in ranked:
                if prob >= MIN_SHARE * top:
                    keep(code, prob / top, "classifier", word)
            continue
        refs = terms.get(word) if p.from_catalogue else p.chains
        for code in chain_codes(kb, tuple(refs or ())):
            keep(code, 1.0, "chain_map", word)
    ranked_codes = sorted(best.values(), key=lambda r: (-r["weight"], r["code"]))
    return ranked_codes[:MAX_CLASSES]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dry-run", action="store_true")
    args = ap.parse_args(argv)
    kb = load_kb()
    clf = fit_official()
    raw_terms = yaml.safe_load(
        (DATA_DIR / "kb" / "industry_terms.yaml").read_text(encoding="utf-8")
    )
    terms = {
        str(t): tuple(ChainRef.model_validate(r) for r in (refs or []))
        for t, refs in raw_terms.items()
    }
    old = {}
    if OUT.exists():
        old = {r["place_id"]: r for r in yaml.safe_load(OUT.read_text(encoding="utf-8")) or []}
    records = []
    changed = 0
    for p in kb.parks:
        if p.kind == "county":
            continue  # a county's classes are those of the places in it
        prev = old.get(p.park_id)
        if prev and prev.get("reviewed"):
            records.append(prev)
            continue
        classes = derive(p, kb, terms, clf)
        if not classes:
            continue
        rec = {"place_id": p.park_id, "classes": classes, "reviewed": False}
        if prev != rec:
            changed += 1
        records.append(rec)
    print(f"{len(records)} places with classes, {changed} changed", file=sys.stderr)
    if args.dry_run:
        return 0
    body = yaml.safe_dump(records, allow_unicode=True, sort_keys=False, width=120)
    OUT.write_text(HEADER + "\n" + body, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
