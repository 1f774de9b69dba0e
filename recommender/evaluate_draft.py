"""How well a drafted KB recovers the hand-built one: the seed policy drafted by `features.draft`
and aligned record by record with `data/kb/` (chains, segments, named places with the right city,
rules). `make eval` adds the result to reports/eval.json as `draft_kb`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from features.draft.build import draft_kb
from features.draft.compare import (
    Alignment,
    align,
    align_segments,
    same_name,
    same_place,
    same_rule,
)
from features.kb import DATA_DIR, load_kb

SEED = "reference/hebei-industrial-upgrading-guidance.txt"
FLOORS = {"chains": (1.0, 0.9), "segments": (0.9, 0.9), "places": (0.85, 0.9), "rules": (0.7, 0.9)}


def _gold(data_dir: Path) -> dict[str, list[dict[str, Any]]]:
    kb_dir = data_dir / "kb"
    return {
        k: yaml.safe_load((kb_dir / f"{k}.yaml").read_text(encoding="utf-8"))
        for k in ("zones", "chains", "parks", "rules")
    }


def _row(a: Alignment) -> dict[str, Any]:
    return {
        "matched": a.matched,
        "draft": a.n_draft,
        "gold": a.n_kb,
        "recall": round(a.recall, 4),
        "precision": round(a.precision, 4),
    }


def evaluate_draft_both(data_dir: Path = DATA_DIR) -> dict[str, Any]:
    """With the KB's vocabulary in the tokenizer (as `make draft-kb` runs) and without it, which
    shows what the counts owe to the hand-built KB's words."""
    res = evaluate_draft(data_dir, use_kb_terms=True)
    bare = evaluate_draft(data_dir, use_kb_terms=False)
    res["without_kb_vocabulary"] = {
        "table": bare["table"],
        "place_chain_agreement": bare["place_chain_agreement"],
    }
    return res


def evaluate_draft(data_dir: Path = DATA_DIR, use_kb_terms: bool = True) -> dict[str, Any]:
    """Draft the seed policy and compare it with the hand-built KB, kind by kind."""
    kb = load_kb(data_dir)
    text = (data_dir / SEED).read_bytes()
    draft = draft_kb(text, kb, data_dir=data_dir, use_kb_terms=use_kb_terms)
    gold = _gold(data_dir)
    places = align(draft.parks, gold["parks"], same_place)
    table = {
        "chains": _row(align(draft.chains, gold["chains"], same_name)),
        "segments": _row(align_segments(draft.chains, gold["chains"])),
        "places": _row(places),
        "rules": _row(align(draft.rules, gold["rules"], same_rule)),
        "zones": _row(align(draft.zones, gold["zones"], same_name)),
    }
    # Of the places found with the right city, how many the draft puts on a chain the KB names.
    on_chain = sum(
        bool(
            {r["chain_id"] for r in draft.parks[i]["chains"]}
            & {r["chain_id"] for r in gold["parks"][j]["chains"]}
        )
        for i, j, _ in places.pairs
    )
    decoded = text.decode("utf-8")
    return {
        "place_chain_agreement": round(on_chain / places.matched, 4) if places.matched else 0.0,
        "document": "hebei-industrial-upgrading-guidance.txt",
        "kb_vocabulary": use_kb_terms,
        "table": table,
        "sources_verbatim": all(s in decoded for s in draft.sources()),
        "floors": {k: {"recall": r, "precision": p} for k, (r, p) in FLOORS.items()},
        "matching": "chains/zones by name; segments within the matched chain by name or source "
        "sentence; places by city and name without division and kind words; rules by effect and "
        "source sentence; one-to-one",
    }


def markdown(result: dict[str, Any]) -> str:
    lines = [
        "## Draft KB from the seed policy vs the hand-built KB",
        "",
        "| kind | matched | draft | gold | recall | precision |",
        "|---|---|---|---|---|---|",
    ]
    for kind, r in result["table"].items():
        lines.append(
            f"| {kind} | {r['matched']} | {r['draft']} | {r['gold']} | {r['recall']:.3f} | {r['precision']:.3f} |"
        )
    lines += [
        "",
        f"Matching: {result['matching']}. Of the places found, "
        f"{result['place_chain_agreement']:.1%} are put on a chain the hand-built KB gives them.",
        "",
    ]
    bare = result.get("without_kb_vocabulary")
    if bare:
        counts = ", ".join(
            f"{k} {r['recall']:.3f}/{r['precision']:.3f}" for k, r in bare["table"].items()
        )
        lines += [
            "Without the hand-built KB's vocabulary in the tokenizer (recall/precision): "
            f"{counts}; places on a chain the KB gives them: {bare['place_chain_agreement']:.1%}.",
            "",
        ]
    return "\n".join(lines)


if __name__ == "__main__":
    res = evaluate_draft_both()
    print(markdown(res))
