"""The model registry over HTTP: list, train in the background, switch without restart, roll back."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

import api.training
from api.settings import Settings
from store.db import get_sessionmaker
from store.registry import list_versions


def _wait(admin: httpx.Client, job_id: str, timeout: float = 300) -> dict:  # type: ignore[type-arg]
    deadline = time.monotonic() + timeout
    seen = []
    while time.monotonic() < deadline:
        job = admin.get(f"/v1/models/train/{job_id}").json()
        seen.append(job["progress"])
        if job["status"] != "running":
            job["seen_progress"] = seen
            return job
        time.sleep(0.2)
    raise AssertionError("training did not finish")


def test_list_models_shows_the_serving_version(bureau: httpx.Client, http: httpx.Client) -> None:
    body = bureau.get("/v1/models").json()
    serving = [m for m in body["data"] if m["serving"]]
    assert len(serving) == 1
    assert "ndcg@10" in serving[0]["metrics"]
    assert http.get("/healthz").json()["model_version"] == serving[0]["version"]


def test_train_registers_and_switches_without_restart(
    admin: httpx.Client, http: httpx.Client
) -> None:
    before = http.get("/healthz").json()["model_version"]
    r = admin.post("/v1/models/train", json={"force": True})
    assert r.status_code == 202, r.text
    job = _wait(admin, r.json()["job_id"])
    assert job["status"] == "succeeded", job
    assert job["switched"] and job["version"] != before
    assert job["metrics"]["ndcg@10"] > 0 and job["baseline_metrics"]["ndcg@10"] > 0
    assert max(job["seen_progress"]) == 1.0
    listed = {m["version"]: m for m in admin.get("/v1/models").json()["data"]}
    assert listed[job["version"]]["serving"] and listed[job["version"]]["status"] == "active"
    assert listed[before]["status"] == "retired"
    assert http.get("/healthz").json()["model_version"] == job["version"]
    answer = http.post("/v1/match", json={"description": "生产高效光伏电池组件和逆变器"}).json()
    assert answer["model_version"] == job["version"]


def test_second_training_while_one_runs_is_refused(admin: httpx.Client) -> None:
    first = admin.post("/v1/models/train", json={})
    assert first.status_code == 202
    second = admin.post("/v1/models/train", json={})
    assert second.status_code == 409 and "正在进行" in second.json()["detail"]
    _wait(admin, first.json()["job_id"])


def test_training_failing_halfway_changes_nothing(
    admin: httpx.Client, http: httpx.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    before_models = admin.get("/v1/models").json()
    before_serving = http.get("/healthz").json()["model_version"]

    def broken(*args: object, **kwargs: object) -> None:
        raise OSError("磁盘已满（测试注入的故障）")

    monkeypatch.setattr(api.training, "save_bundle", broken)
    job = _wait(admin, admin.post("/v1/models/train", json={"force": True}).json()["job_id"])
    assert job["status"] == "failed" and "已保留当前版本" in job["message"]
    assert admin.get("/v1/models").json() == before_models
    assert http.get("/healthz").json()["model_version"] == before_serving


def test_activate_pin_and_unpin_roll_back(admin: httpx.Client, http: httpx.Client) -> None:
    versions = admin.get("/v1/models").json()["data"]
    if len(versions) < 2:
        job = _wait(admin, admin.post("/v1/models/train", json={"force": True}).json()["job_id"])
        assert job["status"] == "succeeded"
        versions = admin.get("/v1/models").json()["data"]
    serving = next(m for m in versions if m["serving"])["version"]
    older = next(m["version"] for m in versions if m["version"] != serving)
    r = admin.post(f"/v1/models/{older}/pin")
    assert r.status_code == 200 and r.json()["pinned"]
    assert http.get("/healthz").json()["model_version"] == older
    assert (
        http.post("/v1/match", json={"description": "羊绒纱线和羊绒衫"}).json()["model_version"]
        == older
    )
    admin.post(f"/v1/models/{serving}/activate")
    # A pinned version keeps serving after a restart; unpin returns to the newest active one.
    unpinned = admin.post("/v1/models/unpin").json()
    assert not any(m["pinned"] for m in unpinned["data"])
    assert http.get("/healthz").json()["model_version"] == serving
    assert admin.post("/v1/models/no-such-version/activate").status_code == 404


def test_activating_a_broken_bundle_is_refused(
    admin: httpx.Client, http: httpx.Client, trained_settings: Settings
) -> None:
    serving = http.get("/healthz").json()["model_version"]
    job = _wait(admin, admin.post("/v1/models/train", json={}).json()["job_id"])
    assert job["status"] in ("succeeded", "rejected")
    serving = http.get("/healthz").json()["model_version"]
    with get_sessionmaker(trained_settings.database_url)() as s:
        other = next(m for m in list_versions(s) if m.version != serving)
    pkl = Path(other.path) / "model.pkl"
    data = pkl.read_bytes()
    try:
        pkl.write_bytes(data[: len(data) // 3])
        r = admin.post(f"/v1/models/{other.version}/activate")
        assert r.status_code == 422 and "损坏" in r.json()["detail"]
        assert http.get("/healthz").json()["model_version"] == serving
        listed = {m["version"]: m for m in admin.get("/v1/models").json()["data"]}
        assert listed[serving]["serving"] and listed[other.version]["status"] != "active"
    finally:
        pkl.write_bytes(data)


def test_bundle_path_is_not_exposed(admin: httpx.Client) -> None:
    body = admin.get("/v1/models").json()
    assert all("path" not in m for m in body["data"])
    assert all(
        not str(v).startswith(str(Path("/")))
        for m in body["data"]
        for v in m.values()
        if isinstance(v, str)
    )


def test_startup_refuses_a_broken_bundle_and_serves_the_previous_version(
    trained_settings: Settings, kb, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    """The active bundle is truncated, then missing, then from another library version: each time
    the service starts on the newest earlier version that loads, and says why in the log."""
    import json
    import shutil

    from api.models_service import load_serving_matcher
    from store.db import migrate
    from store.kb_sync import sync_kb
    from store.registry import register

    url = f"sqlite:///{tmp_path / 'reg.db'}"
    migrate(url)
    sync_kb(get_sessionmaker(url), kb)
    with get_sessionmaker(trained_settings.database_url)() as s:
        good = next(m for m in list_versions(s) if (Path(m.path) / "model.pkl").exists())
    bad_dir = tmp_path / "bad"
    shutil.copytree(good.path, bad_dir)
    meta = json.loads((bad_dir / "metadata.json").read_text(encoding="utf-8"))
    meta["version"] = "bad"
    (bad_dir / "metadata.json").write_text(json.dumps(meta), encoding="utf-8")
    sessions = get_sessionmaker(url)
    with sessions.begin() as s:
        register(
            s,
            good.version,
            good.path,
            metrics={},
            data_hash="g",
            kb_digest=kb.digest,
            activate=True,
        )
    with sessions.begin() as s:
        register(
            s, "bad", str(bad_dir), metrics={}, data_hash="b", kb_digest=kb.digest, activate=True
        )
    pkl = bad_dir / "model.pkl"
    pkl.write_bytes(pkl.read_bytes()[:1000])
    assert load_serving_matcher(kb, sessions).version == good.version
    pkl.unlink()
    assert load_serving_matcher(kb, sessions).version == good.version
    shutil.rmtree(bad_dir)
    shutil.copytree(good.path, bad_dir)
    meta["libraries"]["numpy"] = "1.0.0"
    (bad_dir / "metadata.json").write_text(json.dumps(meta), encoding="utf-8")
    assert load_serving_matcher(kb, sessions).version == good.version
