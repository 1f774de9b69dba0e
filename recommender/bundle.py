"""Versioned model bundles: `model.pkl` (featuriser, LightFM and its Dataset mappings, weights) and
`metadata.json` (data hash, git SHA, library versions, scores, and the pickle's SHA-256).

Only a pickle whose hash matches the metadata written beside it, by the same library versions, is
ever unpickled; anything else is refused with a `BundleError`.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import platform
import subprocess
import tempfile
from dataclasses import asdict
from datetime import UTC, datetime
from functools import cache
from importlib.metadata import version as pkg_version
from pathlib import Path
from typing import Any

from features.kb import KnowledgeBase
from recommender import industry
from recommender.hybrid import HybridWeights, Matcher

FORMAT = 2
PINNED_LIBRARIES = ("rectools-lightfm", "numpy", "scikit-learn", "scipy")


class BundleError(RuntimeError):
    """A bundle that cannot be used; the message says which file and why (Chinese)."""


def library_versions() -> dict[str, str]:
    out = {name: pkg_version(name) for name in PINNED_LIBRARIES}
    out["python"] = platform.python_version()
    return out


def git_sha() -> str | None:
    try:
        res = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            cwd=Path(__file__).resolve().parent,
        )
        return res.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


_INDUSTRY: dict[str, Any] = {}


@cache
def _industry_key() -> str:
    """What the fitted classifier depends on: its four reference texts, its source and the library
    versions (read once per process; other reference files do not invalidate the cache)."""
    h = hashlib.sha256()
    names = (industry.NOTES_FILE, industry.SCOPE_FILE, industry.TAGS_FILE, industry.CODES_FILE)
    for path in [industry.REF_DIR / n for n in names] + [Path(industry.__file__)]:
        h.update(path.read_bytes())
    h.update(json.dumps(library_versions(), sort_keys=True).encode())
    return h.hexdigest()[:16]


def industry_classifier(cache_dir: Path | None = None) -> Any:
    """The industry classifier fitted on the official texts in data/reference, fitted once per
    process and, with `cache_dir`, once per machine: the pickle is keyed by the SHA-256 of those
    texts, the classifier's source and the library versions, and unpickled only when its own
    SHA-256 (written beside it) matches — a file this project wrote, never one from elsewhere."""
    key = _industry_key()
    if key in _INDUSTRY:
        return _INDUSTRY[key]
    clf = None
    if cache_dir is not None:
        path = cache_dir / f"industry-{key}.pkl"
        try:
            payload = path.read_bytes()
            digest = (cache_dir / f"industry-{key}.sha256").read_text().strip()
            if hashlib.sha256(payload).hexdigest() == digest:
                clf = pickle.loads(payload)  # noqa: S301 - our own file, hash-checked
                # A process that loaded an older industry.py may have written this key: refit
                # unless the pickle has every parameter of today's class.
                if not set(industry.IndustryClassifier().get_params()) <= set(vars(clf)):
                    clf = None
        except (OSError, pickle.UnpicklingError, EOFError, AttributeError):
            clf = None
    if clf is None:
        clf = industry.fit_official()
        if cache_dir is not None:
            cache_dir.mkdir(parents=True, exist_ok=True)
            payload = pickle.dumps(clf, protocol=pickle.HIGHEST_PROTOCOL)
            fd, tmp = tempfile.mkstemp(dir=cache_dir, prefix=".industry-")
            with os.fdopen(fd, "wb") as fh:
                fh.write(payload)
            (cache_dir / f"industry-{key}.sha256").write_text(hashlib.sha256(payload).hexdigest())
            os.replace(tmp, cache_dir / f"industry-{key}.pkl")
    _INDUSTRY[key] = clf
    return clf


def new_version() -> str:
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%S") + "-" + os.urandom(3).hex()


def save_bundle(
    matcher: Matcher, root: Path, *, data_hash: str, metrics: dict[str, Any] | None = None
) -> Path:
    """Write the bundle atomically to `root/<version>/` and return that folder."""
    root.mkdir(parents=True, exist_ok=True)
    final = root / matcher.version
    tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=root))
    payload = pickle.dumps(
        {
            "text": matcher.text,
            "collab": matcher.collab,
            "weights": asdict(matcher.weights),
            "industry": matcher.industry,
            "registry": matcher.registry,  # the registry kNN index (None without a registry)
        },
        protocol=pickle.HIGHEST_PROTOCOL,
    )
    (tmp / "model.pkl").write_bytes(payload)
    meta = {
        "format": FORMAT,
        "version": matcher.version,
        "created_at": datetime.now(UTC).isoformat(),
        "model_sha256": hashlib.sha256(payload).hexdigest(),
        "data_hash": data_hash,
        "kb_digest": matcher.kb.digest,
        "git_sha": git_sha(),
        "libraries": library_versions(),
        "metrics": metrics or {},
    }
    (tmp / "metadata.json").write_text(
        json.dumps(meta, ensure_ascii=False, indent=2), encoding="utf-8"
    )
    os.replace(tmp, final)
    return final


def read_metadata(path: Path) -> dict[str, Any]:
    try:
        meta: dict[str, Any] = json.loads((path / "metadata.json").read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BundleError(f"模型包 {path} 缺少 metadata.json") from None
    except (OSError, ValueError) as exc:
        raise BundleError(f"模型包 {path} 的 metadata.json 无法读取：{exc}") from None
    return meta


def load_bundle(path: Path | str, kb: KnowledgeBase) -> Matcher:
    """Load and check a bundle; raise `BundleError` if it is missing, altered or from other libraries."""
    path = Path(path)
    if not path.is_dir():
        raise BundleError(f"模型包 {path} 不存在")
    meta = read_metadata(path)
    if meta.get("format") != FORMAT:
        raise BundleError(
            f"模型包 {path} 的格式版本 {meta.get('format')} 不受支持（需要 {FORMAT}）"
        )
    theirs, ours = meta.get("libraries", {}), library_versions()
    diff = [
        f"{k} {theirs.get(k)}≠{v}" for k, v in ours.items() if k != "python" and theirs.get(k) != v
    ]
    if diff:
        raise BundleError(f"模型包 {path} 由不同版本的库训练（{'，'.join(diff)}），请重新训练")
    try:
        payload = (path / "model.pkl").read_bytes()
    except FileNotFoundError:
        raise BundleError(f"模型包 {path} 缺少 model.pkl") from None
    if hashlib.sha256(payload).hexdigest() != meta.get("model_sha256"):
        raise BundleError(f"模型包 {path} 的 model.pkl 已损坏或被改动（校验和不符）")
    parts = pickle.loads(payload)  # noqa: S301 - only our own, hash-checked bundles get here
    return Matcher(
        kb,
        parts["text"],
        parts["collab"],
        HybridWeights(**parts["weights"]),
        version=meta["version"],
        industry=parts.get("industry"),
        registry=parts.get("registry"),  # bundles from before the registry have none
    )
