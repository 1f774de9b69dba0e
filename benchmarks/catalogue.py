"""Synthetic park catalogues (3,000 and 30,000 parks) built from the KB's real parks, for the
benchmark: the scale of all China's development zones and beyond, served by `Matcher.set_parks`.

Each synthetic park copies a real park of a kind drawn in the KB's own proportions, gets a new id
and name, is moved to a real city (drawn in the KB's proportions, with that city's zone) and has its
chains perturbed (a segment swapped within its chain, a reference dropped or another chain added).
Parks unseen in training are represented by LightFM through their features (zone, city, kind, chains).
"""

from __future__ import annotations

from collections import Counter

import numpy as np

from features.kb import ChainRef, KnowledgeBase, Park

P_SWAP_SEGMENT = 0.3  # a named segment becomes another segment of the same chain
P_DROP_REF = 0.15  # one chain reference is dropped (never the last one)
P_ADD_CHAIN = 0.25  # another chain (or one of its segments) is added
P_KEEP_KEYWORDS = 0.7  # the template's product words are kept (the keyword bonus stays exercised)


def city_zones(kb: KnowledgeBase) -> dict[str, str]:
    """Each city's zone, as the KB's zones list them."""
    return {city: z.zone_id for z in kb.zones for city in z.cities}


def _perturb_chains(
    rng: np.random.Generator, kb: KnowledgeBase, chains: tuple[ChainRef, ...]
) -> tuple[ChainRef, ...]:
    refs = list(chains)
    for i, ref in enumerate(refs):
        if ref.segment_id and rng.random() < P_SWAP_SEGMENT:
            segs = kb.chain_by_id[ref.chain_id].segments
            refs[i] = ChainRef(
                chain_id=ref.chain_id, segment_id=segs[int(rng.integers(len(segs)))].segment_id
            )
    if len(refs) > 1 and rng.random() < P_DROP_REF:
        refs.pop(int(rng.integers(len(refs))))
    if rng.random() < P_ADD_CHAIN:
        chain = kb.chains[int(rng.integers(len(kb.chains)))]
        seg = chain.segments[int(rng.integers(len(chain.segments)))] if rng.random() < 0.5 else None
        refs.append(ChainRef(chain_id=chain.chain_id, segment_id=seg.segment_id if seg else None))
    return tuple(dict.fromkeys(refs))


def synthetic_parks(kb: KnowledgeBase, n: int, seed: int = 0) -> tuple[Park, ...]:
    """`n` synthetic parks (ids `syn-00001` …), deterministic for a given `seed`."""
    rng = np.random.default_rng(seed)
    by_kind: dict[str, list[Park]] = {}
    for p in kb.parks:
        by_kind.setdefault(p.kind, []).append(p)
    kinds = sorted(by_kind)
    kind_p = np.array([len(by_kind[k]) for k in kinds], dtype=float)
    kind_p /= kind_p.sum()
    zone_of = city_zones(kb)
    city_counts = Counter(p.city for p in kb.parks if p.city in zone_of)
    cities = sorted(city_counts)
    city_p = np.array([city_counts[c] for c in cities], dtype=float)
    city_p /= city_p.sum()
    width = len(str(n))
    out = []
    for i in range(n):
        kind = kinds[int(rng.choice(len(kinds), p=kind_p))]
        tpl = by_kind[kind][int(rng.integers(len(by_kind[kind])))]
        city = cities[int(rng.choice(len(cities), p=city_p))]
        pid = f"syn-{i + 1:0{width}d}"
        out.append(
            tpl.model_copy(
                update={
                    "park_id": pid,
                    "name": f"{city}{tpl.name}（合成 {i + 1}）",
                    "city": city,
                    "county": tpl.county if city == tpl.city else None,
                    "zone_id": zone_of[city],
                    "chains": _perturb_chains(rng, kb, tpl.chains),
                    "keywords": tpl.keywords if rng.random() < P_KEEP_KEYWORDS else (),
                    "devzone_code": None,
                    "lon": None,
                    "lat": None,
                    "note": f"基于「{tpl.name}」合成的基准测试园区，非真实园区。",
                }
            )
        )
    return tuple(out)
