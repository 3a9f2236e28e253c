"""Run a report notebook with papermill and write its page, executed notebook and summary.

A run writes into one folder (`OUT/run-<UTC time>/`): for each report `NAME.html` (the page),
`NAME.ipynb` (the executed notebook) and `NAME.json` (the summary). A cell that raises still
gives all three: papermill saves the partly executed notebook, the page shows what ran and the
error, and the summary says `failed` (anchors.md section 8.1).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from auditlib._version import __version__
from auditlib.assess import assess, assessed
from auditlib.errors import AuditlibError
from auditlib.files import write_atomic
from auditlib.reports.export import export_html, read_page_info
from auditlib.reports.facts import fleet_facts
from auditlib.reports.kernel import KERNEL_ARGUMENTS, KERNEL_MANAGER, find_kernel
from auditlib.reports.params import ParameterError, ReportParams, absolute, is_none, parse_bool

NOTEBOOKS_ENV = "AUDITLIB_NOTEBOOKS"
DEFAULT_REPORTS = ("compliance", "staleness")
"""What `auditlib report all` runs."""

CellProgress = Callable[[int, int], None]
"""Called after each code cell with (cells done, code cells in all)."""


class ReportError(AuditlibError):
    """A report could not be started: no such notebook, a bad parameter, no kernel."""


def notebooks_dir(folder: str | Path | None = None) -> Path:
    """Return the folder of the report notebooks: `folder`, else `AUDITLIB_NOTEBOOKS`, else the
    notebooks shipped inside the package (`auditlib/notebooks`, package data read with
    `importlib.resources`, so an installed auditlib finds them from any folder)."""
    if folder:
        return Path(folder)
    env = os.environ.get(NOTEBOOKS_ENV)
    if env:
        return Path(env)
    return packaged_notebooks()


def packaged_notebooks() -> Path:
    """Return the folder of the notebooks inside the installed package, as a real folder (a
    package imported from a zip has them extracted once, for the process's life)."""
    shipped = resources.files("auditlib") / "notebooks"
    if isinstance(shipped, Path):
        return shipped
    global _EXTRACTED
    if _EXTRACTED is None:
        _EXTRACTED = Path(tempfile.mkdtemp(prefix="auditlib-notebooks-"))
        for item in shipped.iterdir():
            if item.name.endswith(".ipynb"):
                (_EXTRACTED / item.name).write_bytes(item.read_bytes())
    return _EXTRACTED


_EXTRACTED: Path | None = None


def notebook_path(name: str, folder: str | Path | None = None) -> Path:
    """Return the notebook of report `name`.

    Raises:
        ReportError: if there is no `name.ipynb` in the notebooks folder.
    """
    base = notebooks_dir(folder)
    path = base / f"{name}.ipynb"
    if not path.is_file():
        have = sorted(p.stem for p in base.glob("*.ipynb")) if base.is_dir() else []
        raise ReportError(f"{name}: no such report notebook in {base} (there: "
                          f"{', '.join(have) or 'none'}; set {NOTEBOOKS_ENV} or --notebooks)")
    return path


def notebook_parameters(path: Path) -> dict[str, dict[str, Any]]:
    """Return the parameters the notebook's `parameters` cell declares (papermill's
    `inspect_notebook`): name -> inferred_type_name, default, help."""
    import papermill

    return dict(papermill.inspect_notebook(str(path)))


def _kind(inferred: str, default: str | None) -> set[str]:
    """Return the Python types a parameter takes: from its annotation (papermill's
    `inferred_type_name`, `int`, `str | None`), else from its default's literal."""
    import ast

    names = {t.strip().lower() for t in inferred.replace("Optional[", "").replace("]", "").split(
        "|")} - {""}
    if "Optional[" in inferred:
        names.add("none")
    if names and names != {"none"}:
        return names
    try:
        value = ast.literal_eval(default) if default else None
    except (ValueError, SyntaxError):
        return {"str"}
    return {type(value).__name__.lower()} | ({"none"} if value is None else set())


def typed_value(text: str, inferred: str, default: str | None = None) -> Any:
    """Return a `-p NAME VALUE` string as the type the parameters cell gives NAME (its
    annotation, else its default).

    `int`, `float` and `bool` parameters are converted (`bool`: true/false, yes/no, 1/0); `None`
    or an empty string becomes None where None is allowed; anything else stays a string (dates
    too: the notebook's auditlib code parses them).

    Raises:
        ParameterError: if the value does not have the parameter's type.
    """

    kinds = _kind(inferred, default)
    if is_none(text) and ("none" in kinds or "nonetype" in kinds):
        return None
    if "str" in kinds:
        return text
    try:
        if "int" in kinds:
            return int(text)
        if "float" in kinds:
            return float(text)
    except ValueError:
        kind = "an int" if "int" in kinds else "a float"
        raise ParameterError(f"{text!r} is not {kind}") from None
    if "bool" in kinds:
        return parse_bool(text, "value")
    return text


@dataclass
class ReportRun:
    """What running one report gave."""

    name: str
    status: str
    """`ok`, or `failed` (a cell raised, or the notebook could not run at all)."""
    html: Path
    notebook: Path
    summary: Path
    seconds_execute: float = 0.0
    seconds_export: float = 0.0
    html_bytes: int = 0
    figures: int = 0
    """plotly figures on the page."""
    error: str | None = None
    """The error, in one line, when it failed."""
    details: dict[str, Any] = field(default_factory=dict)
    """The summary the notebook recorded (headline figures...)."""

    @property
    def ok(self) -> bool:
        """Return whether the report ran to its end."""
        return self.status == "ok"


def new_run_dir(out: str | Path) -> Path:
    """Create and return a new run folder under `out`: `run-YYYYMMDDTHHMMSSZ` (a suffix when
    that exists)."""
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    base = Path(out)
    base.mkdir(parents=True, exist_ok=True)
    for n in range(1, 1000):
        path = base / (f"run-{stamp}" if n == 1 else f"run-{stamp}-{n}")
        try:
            path.mkdir()
        except FileExistsError:
            continue
        return path
    raise ReportError(f"{out}: cannot make a new run folder")


def prepare_parameters(name: str, path: Path, store: str | Path,
                       given: Mapping[str, Any]) -> dict[str, Any]:
    """Return the parameters to inject: `given` (strings from the command line are typed by
    the notebook's parameters cell) and the store, made absolute; checked as the notebook will.

    Raises:
        ParameterError: if a name is not one of the notebook's parameters, or a value cannot be
            used.
    """
    declared = notebook_parameters(path)
    out: dict[str, Any] = {}
    for key, value in given.items():
        if key not in declared:
            raise ParameterError(f"{key}: not a parameter of the {name} notebook; its "
                                 f"parameters are {', '.join(declared)}")
        if isinstance(value, str):
            try:
                value = typed_value(value, str(declared[key].get("inferred_type_name", "")),
                                    declared[key].get("default"))
            except ParameterError as e:
                raise ParameterError(f"{key}: {e}") from None
        out[key] = value
    if "store" in declared:
        out["store"] = absolute(store)
    for key in ("policy", "assessment"):
        if out.get(key) and not is_none(out[key]):
            out[key] = absolute(str(out[key]))
    known = set(ReportParams.__dataclass_fields__)
    ReportParams.from_values({k: v for k, v in out.items() if k in known})
    return out


def _code_cells(path: Path) -> int:
    import nbformat

    nb = nbformat.read(str(path), as_version=4)
    return sum(1 for c in nb.cells if c.cell_type == "code") + 1  # + the injected cell


def _fallback_meta(name: str, params: Mapping[str, Any]) -> dict[str, Any]:
    """Return header facts for a report that stopped before `open_report` recorded its own."""
    known = {k: v for k, v in params.items() if k in ReportParams.__dataclass_fields__}
    meta: dict[str, Any] = {"report": name,
                            "made_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds")}
    try:
        p = ReportParams.from_values(known)
        meta["parameters"] = p.shown()
        try:
            a = assessed(None if p.assessment is None else Path(p.assessment), p.store,
                         as_of=p.as_of, policy=p.policy, image_filter=p.image_filter)
        except AuditlibError:  # e.g. the policy is what stopped the page: the facts (data
            # read, synthetic or not) do not depend on it
            a = assess(p.store, as_of=p.as_of, image_filter=p.image_filter)
        meta["facts"] = fleet_facts(a).to_dict()
    except Exception:  # noqa: BLE001 - the header then says no data was read
        meta.setdefault("parameters", {k: str(v) for k, v in known.items()})
    return meta


def _error_text(e: BaseException) -> str:
    from papermill.exceptions import PapermillExecutionError

    if isinstance(e, PapermillExecutionError):
        return f"cell [{e.exec_count}]: {e.ename}: {e.evalue}"
    return f"{type(e).__name__}: {e}"


def _placeholder_notebook(path: Path, name: str, message: str) -> None:
    """Write a notebook holding only the error, for a report whose kernel never ran."""
    import nbformat

    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("", execution_count=None)
    cell.outputs = [nbformat.v4.new_output("error", ename="ReportError", evalue=message,
                                           traceback=[message])]
    nb.cells = [cell]
    nb.metadata["title"] = name
    nbformat.write(nb, str(path))


def run_report(
    name: str,
    *,
    store: str | Path,
    run_dir: Path,
    parameters: Mapping[str, Any] | None = None,
    kernel: str | None = None,
    notebooks: str | Path | None = None,
    progress: CellProgress | None = None,
    cell_timeout: int | None = None,
) -> ReportRun:
    """Execute report `name` with papermill and write its page, notebook and summary in
    `run_dir`.

    Args:
        name: the report (a notebook `name.ipynb` in the notebooks folder).
        store: the store folder.
        run_dir: where to write (`new_run_dir`).
        parameters: notebook parameters; strings are typed by the parameters cell.
        kernel: the Jupyter kernel; None to find or register this Python's (`find_kernel`).
        notebooks: the notebooks folder (default: `notebooks_dir()`).
        progress: called after each cell.
        cell_timeout: seconds a cell may run (default: no limit).

    Returns:
        What was written; `status` is `failed` when a cell raised or the kernel could not run
        the notebook (the page then shows the error).

    Raises:
        ReportError: if there is no such notebook or no kernel.
        ParameterError: if a parameter is unknown or its value cannot be used.
    """
    import papermill
    from papermill.exceptions import PapermillExecutionError

    run_dir = Path(run_dir).resolve()  # papermill changes the working folder while it runs
    src = notebook_path(name, notebooks)
    params = prepare_parameters(name, src, Path(store).resolve(), parameters or {})
    kernel_name = find_kernel(kernel)
    out_nb = run_dir / f"{name}.ipynb"
    total = _code_cells(src)
    done = [0]

    def on_cell(**_: Any) -> None:
        done[0] += 1
        if progress:
            progress(min(done[0], total), total)

    status, error = "ok", None
    t0 = time.perf_counter()
    try:
        papermill.execute_notebook(
            str(src), str(out_nb), parameters=params, kernel_name=kernel_name,
            progress_bar=False, cwd=str(src.parent), start_timeout=120,
            execution_timeout=cell_timeout, on_cell_executed=on_cell,
            extra_arguments=KERNEL_ARGUMENTS, kernel_manager_class=KERNEL_MANAGER,
        )
    except PapermillExecutionError as e:
        status, error = "failed", _error_text(e)
    except Exception as e:  # noqa: BLE001 - a dead kernel or a missing one: still a page
        status, error = "failed", _error_text(e)
        if not out_nb.exists():
            _placeholder_notebook(out_nb, name, error)
    seconds_execute = time.perf_counter() - t0
    return export_notebook(out_nb, name=name, status=status, error=error, kernel=kernel_name,
                           parameters=params, seconds_execute=seconds_execute)


def export_notebook(
    notebook: str | Path,
    *,
    name: str | None = None,
    status: str | None = None,
    error: str | None = None,
    kernel: str = "",
    parameters: Mapping[str, Any] | None = None,
    seconds_execute: float = 0.0,
) -> ReportRun:
    """Write the page (`NAME.html`) and the summary (`NAME.json`) of an executed report
    notebook, next to it; `write_index` then lists it. This is what `run_report` does after
    papermill, and what a scheduler that runs the notebooks itself (Airflow's
    PapermillOperator) calls afterwards.

    Args:
        notebook: the executed notebook (`NAME.ipynb`).
        name: the report name (default: the notebook's file name).
        status: `ok` or `failed` (default: failed when the notebook holds an error output).
        error: the error in one line, when known.
        kernel: the kernel it ran on, for the summary.
        parameters: the parameters it was given (default: papermill's record in the notebook).
        seconds_execute: how long it ran.

    Returns:
        What was written.

    Raises:
        ExportError: if the page would load anything from the network.
        OSError: if the notebook cannot be read or the files cannot be written.
    """
    import nbformat


    path = Path(notebook)
    name = name or path.stem
    nb = nbformat.read(str(path), as_version=4)
    info = read_page_info(nb)
    if status is None:
        status = "failed" if info.error else "ok"
    if error is None and info.error:
        error = f"cell [{info.error.get('cell')}]: {info.error.get('ename')}: " \
                f"{info.error.get('evalue')}"
    params = dict(parameters if parameters is not None
                  else nb.metadata.get("papermill", {}).get("parameters", {}))
    t0 = time.perf_counter()
    fallback = None if info.meta else _fallback_meta(name, params)
    out_html = path.with_suffix(".html")
    export_html(nb, out_html, status=status, fallback=fallback)
    seconds_export = time.perf_counter() - t0
    page = out_html.read_text(encoding="utf-8")
    run = ReportRun(
        name=name, status=status, html=out_html, notebook=path,
        summary=path.with_suffix(".json"),
        seconds_execute=round(seconds_execute, 2), seconds_export=round(seconds_export, 2),
        html_bytes=len(page.encode()), figures=page.count('class="plotly-graph-div"'),
        error=error, details=info.summary or {},
    )
    write_summary(run, info.meta or fallback or {}, kernel
                  or str(nb.metadata.get("kernelspec", {}).get("name", "")), params)
    return run


def write_summary(run: ReportRun, meta: Mapping[str, Any], kernel: str,
                  params: Mapping[str, Any]) -> Path:
    """Write the run's summary JSON next to its page and return its path."""
    doc = {
        "report": run.name,
        "status": run.status,
        "error": run.error,
        "run": run.html.parent.name,
        "made_at": meta.get("made_at"),
        "files": {"html": run.html.name, "notebook": run.notebook.name,
                  "summary": run.summary.name},
        "parameters": meta.get("parameters") or {k: str(v) for k, v in params.items()},
        "facts": meta.get("facts"),
        "warnings": list((meta.get("facts") or {}).get("warnings") or []),
        "results": run.details,
        "figures": run.figures,
        "html_bytes": run.html_bytes,
        "seconds": {"execute": run.seconds_execute, "export": run.seconds_export},
        "kernel": kernel,
        "auditlib_version": __version__,
    }
    write_atomic(run.summary, json.dumps(doc, indent=2, default=str))
    return run.summary


def run_info(run: ReportRun) -> dict[str, Any]:
    """Return a run as plain data (paths as strings)."""
    return {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(run).items()}
