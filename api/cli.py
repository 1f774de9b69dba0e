"""Command line: `python -m api.cli setup|serve|load-kb|import-registry|…` (the Makefile's targets
call these)."""

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
from features.registry import REGISTRY_LIMITS
from features.tables import TableError, open_table
from recommender.synthetic import GeneratorParams, generate_history
from store.access import list_tokens, revoke_tokens
from store.db import get_sessionmaker, migrate
from store.firms import (
    ConcurrentImport,
    RegistryFileError,
    RegistryImportReport,
    import_registry,
)
from store.history import count_enterprises, existing_external_ids, import_history
from store.kb_sync import sync_kb
from store.placements import purge_synthetic, recorded_interaction_count, registry_firm_count
from store.registry import active_version

log = logging.getLogger("investmatch")
TOKEN_DAYS = 180  # bureau staff change; a forgotten token should not work forever


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
    current = load_serving_matcher(kb, sessions, settings.reference_cache)
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


def print_registry_report(r: RegistryImportReport) -> None:
    located = "，".join(f"{k} {v}" for k, v in sorted(r.located_by.items())) or "无"
    print(
        f"读取 {r.rows_read} 行：新导入 {r.imported}，更新 {r.updated}，未变 {r.unchanged}，"
        f"文件内重复 {r.duplicates}，缺企业名称跳过 {r.skipped}；"
        f"信用代码无效 {r.invalid_codes}、缺失 {r.missing_codes}（均已导入并标记）；"
        f"定位依据：{located}；未能定位到县 {r.unlocated}（其中只定位到市 {r.city_only}）；"
        f"外币注册资金 {r.capital_foreign}，注册资金无法识别 {r.capital_unparsed}，"
        f"注册日期无法识别 {r.bad_dates}；{r.seconds:.1f} 秒"
    )
    top = "，".join(f"{c} {n}" for c, n in list(r.by_city.items())[:15])
    print(f"按城市：{top}")
    if r.dropped_personal_columns:
        print(f"未读取、未保存的个人信息列：{'、'.join(r.dropped_personal_columns)}")
    if r.ignored_columns:
        print(f"未使用的列：{'、'.join(r.ignored_columns)}")
    for w in r.warnings[:20]:
        print(f"  提示：{w}")
    if len(r.warnings) > 20:
        print(f"  ……另有 {len(r.warnings) - 20} 条以上提示未列出")


def cmd_import_registry(settings: Settings, path: str, bureau: str | None, train: bool) -> int:
    """Import a registry export in one transaction, then retrain and register a model."""
    migrate(settings.database_url)
    sessions = get_sessionmaker(settings.database_url)
    try:
        with open(path, "rb") as fh:
            header, rows = open_table(fh, path, REGISTRY_LIMITS)
            report = import_registry(sessions, header, rows, bureau=bureau, label=path)
    except OSError as exc:
        print(f"无法读取文件 {path}：{exc.strerror}", file=sys.stderr)
        return 1
    except TableError as exc:
        print(f"{exc.args[0]}；整个文件未导入", file=sys.stderr)
        return 1
    except ConcurrentImport:
        print(
            "另一次导入同时写入了相同的企业，本次未导入任何数据；请重新运行同一命令",
            file=sys.stderr,
        )
        return 1
    except RegistryFileError as exc:
        print(exc.detail, file=sys.stderr)
        for e in exc.errors:
            print(f"  {e}", file=sys.stderr)
        return 1
    print_registry_report(report)
    if train and (report.imported or report.updated):
        return cmd_train(settings, force=False)
    return 0


def cmd_train(settings: Settings, force: bool) -> int:
    kb = load_kb(settings.data_dir)
    out = train_and_register(settings, kb, force=force)
    state = "已启用" if out.switched else "未优于当前版本，仅登记为候选"
    print(f"{out.version}：NDCG@10 {out.metrics['ndcg@10']:.4f}，{state}")
    return 0


def cmd_revoke_token(settings: Settings, token_id: int | None, name: str | None) -> int:
    """Revoke tokens; the API refuses them at once and their web sessions are deleted."""
    if token_id is None and not name:
        print(
            "请用 --id 或 --name 指定要停用的令牌（python -m api.cli list-tokens 可查看）",
            file=sys.stderr,
        )
        return 2
    migrate(settings.database_url)
    n = revoke_tokens(get_sessionmaker(settings.database_url), token_id=token_id, name=name)
    if not n:
        print("没有找到可停用的令牌（不存在或已停用）", file=sys.stderr)
        return 1
    print(f"已停用 {n} 个令牌，其网页登录会话已全部结束")
    return 0


def cmd_list_tokens(settings: Settings) -> int:
    migrate(settings.database_url)
    for t in list_tokens(get_sessionmaker(settings.database_url)):
        expiry = t.expires_at.date().isoformat() if t.expires_at else "永不过期"
        state = "已停用" if t.revoked else "有效"
        print(f"{t.id}\t{t.name}\t{t.role}\t{t.bureau or '-'}\t{expiry}\t{state}")
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
    tok.add_argument(
        "--bureau", help="the bureau whose records the token reads and writes (default: --name)"
    )
    tok.add_argument(
        "--days",
        type=int,
        default=TOKEN_DAYS,
        help=f"days until the token expires (default {TOKEN_DAYS}; 0: never)",
    )
    rev = sub.add_parser(
        "revoke-token", help="revoke tokens by --id or --name; their web sessions end at once"
    )
    rev.add_argument("--id", type=int)
    rev.add_argument("--name")
    sub.add_parser("list-tokens", help="list tokens (id, name, role, bureau, expiry, state)")
    imp = sub.add_parser(
        "import-history", help="import enterprises.csv and interactions.csv (all or nothing)"
    )
    imp.add_argument("--enterprises", required=True)
    imp.add_argument("--interactions", required=True)
    reg = sub.add_parser(
        "import-registry",
        help="import a registry export (.csv/.xlsx) in one transaction, then retrain the model",
    )
    reg.add_argument("file")
    reg.add_argument("--bureau", default=None, help="the importing bureau, kept as the source")
    reg.add_argument("--no-train", action="store_true", help="import only; do not retrain")
    args = parser.parse_args(argv)
    settings = get_settings()
    if args.cmd == "create-token":
        if args.days < 0:
            parser.error("--days 不能为负数（0 表示永不过期）")
        migrate(settings.database_url)
        factory = get_sessionmaker(settings.database_url)
        print(create_token(factory, args.name, args.role, bureau=args.bureau, days=args.days))
        return 0
    if args.cmd == "revoke-token":
        return cmd_revoke_token(settings, args.id, args.name)
    if args.cmd == "list-tokens":
        return cmd_list_tokens(settings)
    if args.cmd == "import-history":
        return cmd_import_history(settings, args.enterprises, args.interactions)
    if args.cmd == "import-registry":
        return cmd_import_registry(settings, args.file, args.bureau, not args.no_train)
    if args.cmd == "train":
        return cmd_train(settings, args.force)
    handlers = {"setup": cmd_setup, "serve": cmd_serve, "load-kb": cmd_load_kb}
    return handlers[args.cmd](settings)


if __name__ == "__main__":
    raise SystemExit(main())
