"""Command line: `python -m api.cli setup|serve|load-kb` (the Makefile's targets call these)."""

from __future__ import annotations

import argparse
import logging
import os
import secrets
import sys
import time

from api.auth import create_token
from api.models_service import load_serving_matcher
from api.settings import Settings, get_settings
from api.training import TrainOutcome, train_new_version
from features.history import HistoryError, read_csv, validate_history
from features.kb import KBError, KnowledgeBase, load_kb
from recommender.synthetic import GeneratorParams, generate_history
from store.db import get_sessionmaker, migrate
from store.history import count_enterprises, existing_external_ids, import_history
from store.kb_sync import sync_kb
from store.placements import purge_synthetic, recorded_interaction_count, registry_firm_count
from store.registry import active_version

log = logging.getLogger("investmatch")


def ensure_admin_token(settings: Settings) -> None:
    """Create var/admin.token (mode 0600) on first start when no token is configured."""
    if settings.admin_token:
        return
    path = settings.var_dir / "admin.token"
    if not path.exists():
        settings.var_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_urlsafe(32) + "\n")
        log.info("created the admin token in %s (readable by this user only)", path)
    else:
        log.info("admin token: %s", path)


def cmd_load_kb(settings: Settings) -> int:
    t0 = time.perf_counter()
    try:
        kb = load_kb(settings.data_dir)
    except KBError as exc:
        print(f"知识库加载失败，数据库未改动：{exc}", file=sys.stderr)
        return 1
    migrate(settings.database_url)
    report = sync_kb(get_sessionmaker(settings.database_url), kb)
    print(
        f"知识库已同步（{kb.digest}）：新增 {sum(report.inserted.values())}，"
        f"更新 {sum(report.updated.values())}，删除 {sum(report.deleted.values())} 行，"
        f"{time.perf_counter() - t0:.1f} 秒"
    )
    return 0


def write_demo_history(settings: Settings, kb: KnowledgeBase) -> None:
    """Demo mode and test fixtures only: without any enterprise in the database, write the
    synthetic placement history (README). `make run` never calls this."""
    factory = get_sessionmaker(settings.database_url)
    if count_enterprises(factory):
        return
    t0 = time.perf_counter()
    ents, inter = generate_history(kb, GeneratorParams(n_enterprises=settings.history_enterprises))
    ents, inter = validate_history(ents, inter, kb.industries, [p.park_id for p in kb.parks])
    n_e, n_i = import_history(factory, ents, inter, record_source="synthetic")
    log.info(
        "synthetic history: %d enterprises, %d interactions (%.1fs)",
        n_e,
        n_i,
        time.perf_counter() - t0,
    )


def train_and_register(
    settings: Settings, kb: KnowledgeBase, *, force: bool = False
) -> TrainOutcome:
    """Train on the database's history; activate unless worse than the serving version."""
    sessions = get_sessionmaker(settings.database_url)
    current = load_serving_matcher(kb, sessions)
    return train_new_version(
        settings,
        kb,
        sessions,
        current if current.collab is not None else None,
        force=force,
        progress=lambda stage, share: log.info("training: %s %.0f%%", stage, share * 100),
    )


def real_data(settings: Settings) -> tuple[int, int]:
    """(registry firms, recorded interactions) the learned part can train on."""
    factory = get_sessionmaker(settings.database_url)
    return registry_firm_count(factory), recorded_interaction_count(factory, demo=settings.demo)


def cmd_setup(settings: Settings) -> int:
    """Migrate and load the KB; train a model if none is registered and there is real data to
    learn from. Only demo mode (DEMO=1) writes the synthetic history into an empty database."""
    if cmd_load_kb(settings):
        return 1
    kb = load_kb(settings.data_dir)
    factory = get_sessionmaker(settings.database_url)
    if settings.demo:
        write_demo_history(settings, kb)
    else:
        removed = purge_synthetic(factory)
        if removed:
            log.warning(
                "removed %d synthetic enterprises written by an earlier version, and retired the "
                "models trained on them",
                removed,
            )
    with factory() as session:
        current = active_version(session)
    if current is not None:
        log.info("model %s is registered; not training", current.version)
        return 0
    firms, interactions = real_data(settings)
    if firms or interactions:
        train_and_register(settings, kb)
    else:
        log.info(
            "no registry firms and no recorded interactions: no model is trained; the matcher "
            "answers with content and policy scores only (make import-registry FILE=… to learn)"
        )
    return 0


def cmd_import_history(settings: Settings, enterprises: str, interactions: str) -> int:
    """Import a bureau's history (two UTF-8 CSV files); any bad row rejects both files."""
    kb = load_kb(settings.data_dir)
    migrate(settings.database_url)
    factory = get_sessionmaker(settings.database_url)
    try:
        ents, inter = validate_history(
            read_csv(enterprises),
            read_csv(interactions),
            kb.industries,
            [p.park_id for p in kb.parks],
            known_enterprise_ids=existing_external_ids(factory),
        )
    except HistoryError as exc:
        print(str(exc), file=sys.stderr)
        return 1
    n_e, n_i = import_history(factory, ents, inter, record_source="import")
    print(f"已导入 {n_e} 家企业、{n_i} 条互动记录")
    return 0


def cmd_train(settings: Settings, force: bool) -> int:
    kb = load_kb(settings.data_dir)
    out = train_and_register(settings, kb, force=force)
    state = "已启用" if out.switched else "未优于当前版本，仅登记为候选"
    print(f"{out.version}：NDCG@10 {out.metrics['ndcg@10']:.4f}，{state}")
    return 0


def cmd_serve(settings: Settings) -> int:
    import uvicorn

    from api.app import create_app

    ensure_admin_token(settings)
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port, log_level="info")
    return 0


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    parser = argparse.ArgumentParser(prog="python -m api.cli", description="招商匹配 InvestMatch")
    sub = parser.add_subparsers(dest="cmd", required=True)
    sub.add_parser(
        "setup", help="migrate the database, load the KB, train a model if none and real data exist"
    )
    sub.add_parser("serve", help="serve HTTP on $HOST:$PORT")
    sub.add_parser("load-kb", help="load data/kb into the database (idempotent)")
    tr = sub.add_parser(
        "train", help="train a new version; it serves only if not worse than the current"
    )
    tr.add_argument(
        "--force", action="store_true", help="activate the new version whatever its scores"
    )
    tok = sub.add_parser(
        "create-token", help="create a bureau or admin bearer token and print it once"
    )
    tok.add_argument("--name", required=True)
    tok.add_argument("--role", choices=["bureau", "admin"], default="bureau")
    imp = sub.add_parser(
        "import-history", help="import enterprises.csv and interactions.csv (all or nothing)"
    )
    imp.add_argument("--enterprises", required=True)
    imp.add_argument("--interactions", required=True)
    args = parser.parse_args(argv)
    settings = get_settings()
    if args.cmd == "create-token":
        migrate(settings.database_url)
        print(create_token(get_sessionmaker(settings.database_url), args.name, args.role))
        return 0
    if args.cmd == "import-history":
        return cmd_import_history(settings, args.enterprises, args.interactions)
    if args.cmd == "train":
        return cmd_train(settings, args.force)
    handlers = {"setup": cmd_setup, "serve": cmd_serve, "load-kb": cmd_load_kb}
    return handlers[args.cmd](settings)


if __name__ == "__main__":
    raise SystemExit(main())
