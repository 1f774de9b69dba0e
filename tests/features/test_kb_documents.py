"""Several policy documents in one KB: documents.yaml, reviewed records in policies/, and a newer
document's record replacing an older one of the same id."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from features.kb import DATA_DIR, KBError, load_kb

NEW = "doc20230420_test"


def _data(tmp_path: Path) -> Path:
    data = tmp_path / "data"
    data.mkdir()
    shutil.copytree(DATA_DIR / "kb", data / "kb")
    (data / "reference").symlink_to(DATA_DIR / "reference")
    return data


def _add_document(data: Path, parks: list[dict]) -> None:
    docs = yaml.safe_load((data / "kb" / "documents.yaml").read_text(encoding="utf-8"))
    docs.append({"document_id": NEW, "title": "某行动方案", "date": "2023-04-20"})
    (data / "kb" / "documents.yaml").write_text(yaml.safe_dump(docs, allow_unicode=True))
    (data / "kb" / "policies").mkdir()
    (data / "kb" / "policies" / f"{NEW}.yaml").write_text(
        yaml.safe_dump({"parks": parks}, allow_unicode=True), encoding="utf-8"
    )


def test_seed_records_cite_the_seed_document():
    kb = load_kb()
    seed = kb.documents[0]
    assert seed.document_id == "hebei_2017_industrial_upgrading" and seed.date == "2017-02-22"
    assert all(kb.cite(p.source) == seed for p in kb.parks if p.named_by_policy)


def test_newer_document_replaces_a_record_and_says_which(tmp_path: Path):
    data = _data(tmp_path)
    old = next(p for p in load_kb().parks if p.park_id == "shijiazhuang_biomedicine_base")
    newer = old.model_dump(mode="json") | {
        "name": "石家庄生物医药产业集群",
        "source": "1.石家庄生物医药产业集群。",
        "also_source": [],
        "status": "已审核",
    }
    _add_document(data, [newer])
    kb = load_kb(data)
    park = kb.park_by_id["shijiazhuang_biomedicine_base"]
    assert park.name == "石家庄生物医药产业集群"
    assert park.document_id == NEW and park.supersedes == "hebei_2017_industrial_upgrading"
    assert kb.cite(park.source).document_id == NEW
    assert len(kb.parks) == len(load_kb().parks)  # replaced, not added


def test_policy_file_of_an_unknown_document_is_refused(tmp_path: Path):
    data = _data(tmp_path)
    (data / "kb" / "policies").mkdir()
    (data / "kb" / "policies" / "doc_nowhere.yaml").write_text("parks: []\n", encoding="utf-8")
    with pytest.raises(KBError, match="documents.yaml 中没有文件 'doc_nowhere'"):
        load_kb(data)


def test_applied_park_in_a_city_of_no_zone_is_refused_by_name(tmp_path: Path):
    data = _data(tmp_path)
    park = {
        "park_id": "p_zhengzhou",
        "name": "郑州航空港电子信息产业基地",
        "kind": "base",
        "city": "郑州",
        "zone_id": "shibaolang",
        "chains": [{"chain_id": "next_gen_it", "segment_id": None}],
        "source": "加快推进郑州航空港电子信息等产业基地建设。",
    }
    _add_document(data, [park])
    with pytest.raises(KBError, match="p_zhengzhou.*郑州"):
        load_kb(data)
