"""``revops``: run the demo, a sync, check a deployment, or the sandbox servers by hand.

A failing command prints one line that names what to fix and the log file holding the full
traceback (``revops --debug ...`` prints the traceback instead)."""

from __future__ import annotations

import os
import shlex
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from revops.runtime import quiet_offline_defaults, silence_native_teardown_noise

silence_native_teardown_noise()
# before any command imports Prefect: its logging (our progress lines included) is set up at import
quiet_offline_defaults()


class _App(typer.Typer):
    """A failure of any command is one line naming what to fix (``--debug``: the traceback)."""

    debug = False

    def __call__(self, *args: object, **kwargs: object) -> object:
        try:
            return super().__call__(*args, **kwargs)
        except Exception as exc:  # noqa: BLE001 - every error ends here, as one line
            from revops.errors import report

            sys.exit(report(exc, debug=_App.debug))


app = _App(help="revops-warehouse: one set of numbers for marketing and sales.", no_args_is_help=True,
           pretty_exceptions_enable=False)
sandbox_app = typer.Typer(help="The built-in synthetic company's fake APIs.")
app.add_typer(sandbox_app, name="sandbox")
warehouse_app = typer.Typer(help="Warehouse administration.")
app.add_typer(warehouse_app, name="warehouse")
console = Console()


@app.callback()
def main(
    debug: Annotated[bool, typer.Option("--debug", help="print the full traceback of an error")] = False,
) -> None:
    _App.debug = debug


def _run_flow() -> dict:
    quiet_offline_defaults()
    with console.status("Running the nightly flow..."):
        nightly_sync = _nightly()
        if not _App.debug:
            from revops.errors import console_logs_without_tracebacks

            console_logs_without_tracebacks()
        return nightly_sync()


def _nightly():
    """The Prefect flow when a Prefect API is configured; else the same sequence in this process
    (no temporary Prefect server: see revops.runtime)."""
    from revops.runtime import prefect_api_url, run_nightly_in_process

    if prefect_api_url():
        from flows.nightly_sync import nightly_sync

        return nightly_sync
    return run_nightly_in_process



def _print_truth_check(summary: dict, truth: dict) -> None:
    """The demo's proof: the channel mart's totals against the sandbox's ground truth."""
    console.print("[bold]The warehouse against the sandbox's ground truth[/bold] (marts.kpi_channel_daily, all days)")
    table = Table()
    for name, justify in (("KPI", "left"), ("warehouse", "right"), ("ground truth", "right"), ("", "center")):
        table.add_column(name, justify=justify)
    rows = [
        ("rows", summary["mart_rows"], truth["rows"], lambda a, b: a == b),
        ("spend", summary["spend"], float(truth["spend"]), lambda a, b: abs(a - b) < 0.005),
        ("leads", summary["leads"], truth["leads"], lambda a, b: a == b),
        ("MQLs", summary["mqls"], truth["mqls"], lambda a, b: a == b),
        ("SQLs", summary["sqls"], truth["sqls"], lambda a, b: a == b),
        ("CPL", summary["cpl"], truth["cpl"] and float(truth["cpl"]), lambda a, b: abs(a - b) < 1e-6),
    ]
    for name, got, want, same in rows:
        fmt = (lambda v: f"{v:,.2f}") if isinstance(got, float) else str
        table.add_row(name, fmt(got), fmt(want), "[green]=[/green]" if same(got, want) else "[red]≠[/red]")
    console.print(table)


def _print_run(result: dict, verbose: bool = False) -> None:
    """The end of a run for the business: period, currency, headline KPIs against the previous
    month, data health, the report's path; ``--verbose`` adds the rows of every table."""
    from revops.report.summary import health_lines, title

    h = result["summary"].get("headline")
    if h:
        console.print(f"[bold]{escape(title(h))}[/bold]")
        table = Table()
        for name, justify in (("KPI", "left"), (h["period"] or "value", "right"),
                              (h["compared_with"] or "previous month", "right"), ("change", "right"),
                              ("since the previous run", "right")):
            table.add_column(name, justify=justify)
        for k in h["kpis"]:
            table.add_row(k["label"], k["text"], k["previous_text"], k["change_text"],
                          k.get("since_run_text", "n/a"))
        console.print(table)
        for line in health_lines(h):
            console.print(escape(line))
    else:
        missing = result["summary"].get("report_missing") or "The KPI report could not be written: see the run's log."
        console.print(f"[yellow]{escape(missing)}[/yellow]")
    if verbose:
        counts = Table()
        counts.add_column("table")
        counts.add_column("rows", justify="right")
        for name, n in result["summary"]["tables"].items():
            counts.add_row(name, f"{n:,}")
        console.print("[bold]Rows per table[/bold]")
        console.print(counts)
    if result["summary"].get("build"):
        from revops.report.summary import build_line

        console.print(escape(build_line(result["summary"]["build"])))
    if result["summary"].get("report_path"):
        console.print(f"KPI report: {escape(result['summary']['report_path'])}")


VerboseOption = Annotated[bool, typer.Option("--verbose", "-v", help="also print the rows of every table")]


@app.command()
def demo(
    days: Annotated[int, typer.Option(help="days of activity in the synthetic company")] = 90,
    seed: Annotated[int, typer.Option(help="world seed")] = 42,
    warehouse_url: Annotated[str | None, typer.Option(
        help="default: duckdb:///<data dir>/demo/seed<seed>-days<days>/warehouse.duckdb, one per world "
             "(never REVOPS_WAREHOUSE_URL: the demo's company must not land in your warehouse)")] = None,
    report: Annotated[Path | None, typer.Option(
        help="also write the HTML KPI report here (every run writes report/kpi_report.html in the world's folder)")] = None,
    verbose: VerboseOption = False,
) -> None:
    """Run the nightly flow against the built-in sandbox into a warehouse of the world's own
    and compare the result with the sandbox's ground truth."""
    from revops.load.warehouse import Warehouse
    from revops.report.html import write_report
    from revops.sandbox import truth
    from revops.sandbox.harness import sandboxes
    from revops.sandbox.world import World, WorldConfig
    from revops.settings import Settings

    started = time.perf_counter()
    # the world ends by the run's clock (the connectors read up to the wall clock): a long world
    # starts earlier rather than running past today
    config = WorldConfig.ending_by(datetime.now(UTC), seed=seed, days=days)
    home = demo_home(Settings().data_dir, config)
    warehouse_url = warehouse_url or f"duckdb:///{home / 'warehouse.duckdb'}"
    world = World(config)
    with sandboxes(world) as sb:
        os.environ.update(sb.env)
        os.environ["REVOPS_WAREHOUSE_URL"] = warehouse_url
        os.environ["REVOPS_DATA_DIR"] = str(home)
        console.print(f"warehouse {warehouse_url}")
        for name, server in sb.servers.items():
            console.print(f"sandbox [bold]{name}[/bold] at {server.url}")
        # replay the company's last nights this warehouse has not run yet: the first sees
        # campaign names before a rename, the second loads only what changed since (plus the
        # lookback) and the restated days. Once all have run, a rerun is the next night at the
        # last clock: a quiet night (the lookback re-read, nothing new), never an earlier clock
        clocks = world.nightly_clocks()
        ran = min(_nights_run(warehouse_url), len(clocks))
        for night, clock in enumerate(clocks[ran:] or clocks[-1:], ran + 1):
            sb.set_clock(clock)
            console.print(f"night {night}: the sandboxes' clock is {clock:%Y-%m-%d %H:%M} UTC"
                          + (" (every night of this world has run: a quiet night)" if night > len(clocks) else ""))
            night_started = time.perf_counter()
            result = _run_flow()
            console.print(f"night {night} took {time.perf_counter() - night_started:.0f} s")
    settings = Settings()
    want = truth.summary(world, cfg=truth.TruthConfig(settings.reporting_currency, settings.reporting_timezone))
    _print_run(result, verbose)
    _print_truth_check(result["summary"], want)
    if report is not None:
        with Warehouse(warehouse_url) as wh:
            also = write_report(wh, report, settings.reporting_currency, settings.lead_response_sla_hours)
        console.print(f"KPI report also at: {escape(str(also))}")
    console.print(f"demo finished in {time.perf_counter() - started:.1f} s")
    if not _matches(result["summary"], want):
        console.print("[red]the warehouse does not match the ground truth[/red]")
        raise typer.Exit(1)


def demo_home(data_dir: Path, config) -> Path:
    """The demo's folder for the world of ``config`` (a ``WorldConfig``): its warehouse, sync
    state, dbt target and report. Each world has its own: worlds of other sizes, seeds or start
    dates are other companies, and a warehouse holds one."""
    from revops.sandbox.world import WorldConfig

    moved = "" if config.start == WorldConfig().start else f"-from{config.start}"
    return data_dir / "demo" / f"seed{config.seed}-days{config.days}{moved}"


def _nights_run(warehouse_url: str) -> int:
    """Nights that completed in the demo's warehouse (0 when it does not exist yet)."""
    from sqlalchemy.engine import make_url

    from revops.load.warehouse import Warehouse

    url = make_url(warehouse_url)
    if url.drivername.startswith("duckdb") and not (url.database and Path(url.database).is_file()):
        return 0
    with Warehouse(warehouse_url) as wh:
        if not wh.table_exists("ops", "runs"):
            return 0
        return int(wh.scalar("select count(*) from ops.runs "
                             "where status in ('completed', 'completed_with_warnings')") or 0)


def _matches(got: dict, want: dict) -> bool:
    return (
        got["mart_rows"] == want["rows"]
        and abs(got["spend"] - float(want["spend"])) < 0.005
        and (got["leads"], got["mqls"], got["sqls"]) == (want["leads"], want["mqls"], want["sqls"])
    )


@app.command()
def doctor() -> None:
    """Check this deployment: each source configured or skipped (and why), one cheap real
    request per configured source, the warehouse writable, the Prefect API (when
    PREFECT_API_URL is set), the reporting currency and time zone. Exit 0 only when all is well."""
    from revops.doctor import FAILED, OK, checks, healthy

    results = checks()
    table = Table(title="revops doctor")
    table.add_column("check")
    table.add_column("status")
    table.add_column("detail")
    style = {OK: "green", FAILED: "bold red"}
    for c in results:
        colour = style.get(c.status, "yellow")
        table.add_row(c.what, f"[{colour}]{c.status}[/{colour}]", escape(c.detail))  # "[Errno 111]" is text
    console.print(table)
    if not healthy(results):
        console.print("[red]not ready: fix the FAILED rows (a sync needs at least one source)[/red]")
        raise typer.Exit(1)
    console.print("[green]ready[/green]")


@warehouse_app.command("grant")
def warehouse_grant() -> None:
    """Create or update the PostgreSQL BI login (REVOPS_BI_ROLE, REVOPS_BI_PASSWORD): SELECT
    on `marts` only, nothing on raw, staging, core or ops."""
    from revops.load.grants import grant_bi_role
    from revops.load.warehouse import Warehouse
    from revops.settings import get_settings

    settings = get_settings()
    password = settings.bi_password.get_secret_value() if settings.bi_password else ""
    with Warehouse(settings.warehouse_url) as wh:
        wh.ensure_schemas()
        try:
            grant_bi_role(wh, settings.bi_role, password)
        except ValueError as exc:
            console.print(f"[red]{exc}[/red]")
            raise typer.Exit(2) from exc
    console.print(f"role {settings.bi_role}: SELECT on marts only")


@sandbox_app.command("serve")
def sandbox_serve(
    port: Annotated[int, typer.Option(help="first port (one per source, consecutive); 0 = free ports")] = 8900,
    days: int = 90,
    seed: int = 42,
    show_tokens: Annotated[bool, typer.Option(help="print the sandbox tokens (they are throwaway)")] = True,
    env_file: Annotated[Path | None, typer.Option(
        "--env-file", help="also write the variables to this .env file, as `revops sync` reads it")] = None,
) -> None:
    """Serve the synthetic company's fake APIs on 127.0.0.1 so you can curl them, or sync
    against them (``--env-file .env``, or paste the export lines)."""
    from revops.sandbox.harness import sandboxes
    from revops.sandbox.world import World, WorldConfig
    from revops.settings import write_env_file

    world = World(WorldConfig.ending_by(datetime.now(UTC), seed=seed, days=days))
    with sandboxes(world, port=port) as sb:
        for name, server in sb.servers.items():
            console.print(f"[bold]{name}[/bold]: {server.url}")
        if env_file:
            write_env_file(env_file, sb.env, header="written by `revops sandbox serve`: the sandbox's throwaway tokens")
            console.print(f"wrote {env_file} (the sandbox's variables; `revops sync` reads ./.env)")
        env = sb.env if show_tokens else {k: v for k, v in sb.env.items() if "TOKEN" not in k}
        # plain print: a wrapped or unquoted line breaks when pasted into a shell
        print("environment for `revops sync`:")
        for key, value in env.items():
            print(f"export {key}={shlex.quote(value)}")
        print("Ctrl-C to stop.", flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass


# ================================================================================================
# Operator commands (issue 12): sync, backfill, report, dbt. Each run takes the warehouse's writer
# lock; a second one exits at once (exit code 75, "try again later") naming the run that holds it.
# ================================================================================================

#: exit code of a command that found another run writing the warehouse (sysexits EX_TEMPFAIL)
EXIT_BUSY = 75
#: exit code of a run that published but some source failed (its marts use its last good data;
#: ops.source_freshness / marts.kpi_data_freshness say which): alert on it, it is not a failure (1)
EXIT_WARNINGS = 3


def _exit_on_warnings(result: dict) -> None:
    if result.get("failed"):
        for source, error in result["failed"].items():
            console.print(f"[yellow]{source} failed, its last good data was used: {error}[/yellow]")
        if result.get("held"):
            console.print(f"[yellow]kept at their last published version: {', '.join(result['held'])}[/yellow]")
        console.print(f"[yellow]completed with warnings (exit code {EXIT_WARNINGS})[/yellow]")
        raise typer.Exit(EXIT_WARNINGS)


def _operator_run(flow_fn, **params) -> dict:
    """Run a Prefect flow in this process; a busy warehouse is one line and exit code 75."""
    from revops.load.writer_lock import WarehouseBusy

    quiet_offline_defaults()
    if not _App.debug:
        from revops.errors import console_logs_without_tracebacks

        console_logs_without_tracebacks()
    try:
        with console.status(f"running the {getattr(flow_fn, 'name', 'nightly_sync')} flow..."):
            return flow_fn(**params)
    except WarehouseBusy as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(EXIT_BUSY) from None


SourceOption = Annotated[list[str] | None, typer.Option(
    "--source", help="only this source (repeat for several); default: every configured source")]


@app.command()
def sync(
    source: SourceOption = None,
    full_refresh: Annotated[bool, typer.Option(
        "--full-refresh", help="ignore the saved sync state of these sources for this run "
                               "(rows still merge on their keys: safe to repeat) and rebuild "
                               "the incremental core.fct_ad_daily whole")] = False,
    verbose: VerboseOption = False,
) -> None:
    """Run the nightly flow once against the sources configured in the environment (settings
    and sources are checked before Prefect starts)."""
    from revops.pipeline import chosen_sources
    from revops.settings import get_settings

    chosen_sources(get_settings(), source or None)
    result = _operator_run(_nightly(), sources=source or None, full_refresh=full_refresh)
    _print_run(result, verbose)
    _exit_on_warnings(result)


@app.command()
def backfill(
    start: Annotated[datetime, typer.Option(formats=["%Y-%m-%d"], help="first day, YYYY-MM-DD")],
    end: Annotated[datetime, typer.Option(formats=["%Y-%m-%d"], help="last day (inclusive)")],
    source: SourceOption = None,
    chunk_days: Annotated[int, typer.Option(help="days read per chunk (a rerun skips finished chunks)")] = 14,
    verbose: VerboseOption = False,
) -> None:
    """Re-read a date range of the sources that read by day (ad platforms, ECB) in chunks, then
    build and publish. Idempotent; the same command after a failure resumes."""
    from revops.backfill import sources_for, windows
    from revops.settings import get_settings

    try:  # argument errors before Prefect is imported (~2 s) or started
        windows(start.date(), end.date(), chunk_days)
        sources_for(get_settings(), source or None)
    except ValueError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    from flows.backfill import backfill as backfill_flow

    result = _operator_run(backfill_flow, start=start.date(), end=end.date(), sources=source or None,
                           chunk_days=chunk_days)
    _print_run(result, verbose)


@app.command()
def report(
    output: Annotated[Path | None, typer.Option(
        help="where to write it (default: <REVOPS_DATA_DIR>/report/kpi_report.html)")] = None,
) -> None:
    """Write the HTML KPI report from the published marts and print its headline."""
    from revops.report.summary import health_lines, report_path, title, write_run_report
    from revops.settings import get_settings

    settings = get_settings()
    path, h = write_run_report(settings.warehouse_url, settings.data_dir, settings.reporting_currency,
                               settings.lead_response_sla_hours, output or report_path(settings.data_dir))
    console.print(f"[bold]{escape(title(h))}[/bold]")
    for line in health_lines(h):
        console.print(escape(line))
    console.print(f"KPI report: {escape(str(path))}")


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
             add_help_option=False)
def dbt(ctx: typer.Context) -> None:
    """Run dbt on the project and warehouse: `revops dbt docs generate`, `revops dbt build
    --select kpi_pipeline+`. The profile (<data dir>/dbt/profile) reads the password from the
    environment; run settings are passed as --vars. Takes the writer lock like a run."""
    import uuid

    from revops.load.writer_lock import WarehouseBusy, WriterLock
    from revops.settings import get_settings
    from revops.transform import OFFLINE, dbt_command, run_dbt

    settings = get_settings()
    args = list(ctx.args)
    if dbt_command(args) in OFFLINE or not args or args[0].startswith("-"):
        raise typer.Exit(run_dbt(settings, args, capture=False).returncode)
    try:
        with WriterLock(settings.warehouse_url, f"dbt-{uuid.uuid4().hex[:12]}"):
            code = run_dbt(settings, args, capture=False).returncode
    except WarehouseBusy as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(EXIT_BUSY) from None
    raise typer.Exit(code)


# ================================================================================ end of operator commands


if __name__ == "__main__":
    app()
