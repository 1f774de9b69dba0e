"""One enterprise schema: the API models, the import headers, the stored record and the matcher's
profile all come from `features.enterprise.ENTERPRISE_FIELDS`, so one enterprise reads the same
whichever way it arrives."""

from __future__ import annotations

from typing import get_args

from api.routes.match import to_profile
from api.schemas import ENTERPRISE_EXAMPLE, MatchRequest, Origin
from api.schemas_bureau import EnterprisePublic
from api.services.enterprise_import import read_table
from features.enterprise import ENTERPRISE_FIELDS, FIELD_NAMES, ORIGINS, profile_from
from features.history import validate_enterprises
from features.kb import KnowledgeBase
from store import orm
from store.db import get_sessionmaker
from store.enterprises import create_enterprise, import_enterprises, load_profiles, profile_of


def test_api_models_carry_every_schema_field_with_its_bounds() -> None:
    assert set(MatchRequest.model_fields) == {*FIELD_NAMES, "top_k"}
    assert set(FIELD_NAMES) <= set(EnterprisePublic.model_fields)
    assert get_args(Origin) == ORIGINS
    props = MatchRequest.model_json_schema()["properties"]
    for f in ENTERPRISE_FIELDS:
        if f.hi is not None:
            schema = props[f.name]["anyOf"][0]
            assert (schema["minimum"], schema["maximum"]) == (f.lo, f.hi), f.name


def test_import_headers_are_the_schema_headers(kb: KnowledgeBase) -> None:
    header = ["企业编号", *(f.headers[0] for f in ENTERPRISE_FIELDS)]
    values = {
        **ENTERPRISE_EXAMPLE,
        "products": "、".join(ENTERPRISE_EXAMPLE["products"]),
        "rd_intensity": "6%",
    }
    row = ["SCHEMA-1", *(str(values[f.name]) for f in ENTERPRISE_FIELDS)]
    body = (",".join(header) + "\n" + ",".join(row) + "\n").encode("utf-8")
    frame, written = read_table(body, "schema.csv")
    assert set(frame.columns) == {"enterprise_id", *FIELD_NAMES}
    clean, errors = validate_enterprises(frame, kb.industries, label="schema.csv")
    assert errors == []
    # The same enterprise as a file row and as a /v1/match request is the same profile.
    assert profile_from(clean.iloc[0].to_dict()) == profile_from(
        MatchRequest(**ENTERPRISE_EXAMPLE).model_dump()
    )


def test_stored_record_reads_back_as_the_match_profile(db_url: str, kb: KnowledgeBase) -> None:
    factory = get_sessionmaker(db_url)
    req = MatchRequest(**ENTERPRISE_EXAMPLE)
    fields = {**req.model_dump(), "external_id": "SCHEMA-API"}
    row = create_enterprise(factory, fields, record_source="bureau", consent=True)
    frame, _ = read_table(
        "企业编号,主营业务描述,员工人数\nSCHEMA-FILE,研发制造工业机器人减速器,320\n".encode(),
        "pool.csv",
    )
    clean, errors = validate_enterprises(frame, kb.industries, label="pool.csv")
    assert errors == [] and import_enterprises(factory, clean) == 1

    with factory() as s:
        loaded = load_profiles(s)
    assert [(ext, rid > 0) for rid, ext, _ in loaded] == [
        ("SCHEMA-API", True),
        ("SCHEMA-FILE", True),
    ]
    by_ext = {ext: (rid, p) for rid, ext, p in loaded}
    assert by_ext["SCHEMA-API"][0] == row.id
    assert by_ext["SCHEMA-API"][1] == to_profile(req, _State(kb))  # type: ignore[arg-type]
    assert by_ext["SCHEMA-FILE"][1].employees == 320 and by_ext["SCHEMA-FILE"][1].products == ()
    with factory() as s:
        stored = s.get(orm.Enterprise, row.id)
        assert stored is not None and profile_of(stored) == by_ext["SCHEMA-API"][1]


class _State:
    """What `to_profile` reads of the app state: the knowledge base."""

    def __init__(self, kb: KnowledgeBase) -> None:
        self.kb = kb
