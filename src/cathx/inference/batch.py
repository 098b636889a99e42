"""Batch prediction over many inputs on Ray Data (`cathx predict SOURCE --engine ray`).

SOURCE is a folder tree, a CSV manifest of paths or a glob pattern; every input (an image, a video,
a DICOM file) is predicted by ``run_predict`` into OUT/items/NAME exactly as a local
`cathx predict INPUT` writes it. Ray Data feeds the inputs to an actor pool (``workers`` actors,
one model load each). An input is complete when its OUT/items/NAME/frames.parquet exists (written
last, atomically), so a rerun skips it: a crashed or killed run continues where it was. An input
that fails is listed in OUT/failed.csv with its error and never stops the run. OUT/summary.parquet
has one row per frame of every complete input (source, frame, name, catheters, electrodes, types,
seconds); OUT/summary.json the counts.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import csv
import glob
import io
import logging
import time
from pathlib import Path

from cathx.errors import CathxError

ITEMS = "items"
FRAMES_TABLE = "frames.parquet"
FRAME_COLUMNS = ("source", "frame", "name", "catheters", "electrodes", "types", "seconds")
FAILED_COLUMNS = ("source", "error")


def list_inputs(source: Path | str) -> tuple[list[tuple[Path, str]], list[str]]:
    """(inputs as (path, output name), problems) of a folder tree, CSV manifest, glob or one file.
    Names are the inputs' paths relative to the source, "/" written "__". Problems: manifest rows
    naming missing files, one line each."""
    from cathx.data.formats.base import OUTPUT_INSIDE, files_below
    from cathx.data.formats.dicom import is_dicom_file
    from cathx.inference.sources import _image_suffixes, _video_suffixes

    text = str(source)
    problems: list[str] = []
    if any(char in text for char in "*?["):
        prefix = text[:min(text.index(char) for char in "*?[" if char in text)]
        root = Path(prefix + "x").parent  # the folder the pattern starts in
        files = [Path(p) for p in sorted(glob.glob(text, recursive=True)) if Path(p).is_file()]
        if not files:
            raise CathxError(f"{text}: the pattern matches no file")
    else:
        source = Path(source)
        if not source.exists():
            raise CathxError(f"{source}: no such file, folder or manifest")
        if source.is_file() and source.suffix.lower() == ".csv":
            root, files = source.parent, []
            for line, path in _manifest_paths(source):
                path = path if path.is_absolute() else source.parent / path
                if path.is_file():
                    files.append(path)
                else:
                    problems.append(f"{source}:{line}: {path}: no such file")
            if not files:
                raise CathxError(f"{source}: the manifest names no existing file ({len(problems)} missing)")
        elif source.is_file():
            root, files = source.parent, [source]
        else:
            root = source
            wanted = set(_image_suffixes()) | set(_video_suffixes())
            # files_below passes over a cathx output folder inside the tree (a rerun with --out
            # inside SOURCE must not predict its own masks and overlays) and links leading out of it.
            notes: list[str] = []
            files = files_below(source, lambda p: p.suffix.lower() in wanted or is_dicom_file(p), notes)
            for note in notes:
                if note.endswith(OUTPUT_INSIDE):  # said, not counted as a failed input
                    logging.getLogger(__name__).warning(note)
                else:
                    problems.append(note)
            if not files:
                raise CathxError(f"{source}: no image, video or DICOM file in this folder tree")
    root = root.resolve()
    inputs = []
    seen: set[Path] = set()
    taken: set[str] = set()
    for path in files:
        absolute = path.resolve()
        if absolute in seen:  # a manifest naming one file twice: predicted once
            continue
        seen.add(absolute)
        relative = absolute.relative_to(root) if absolute.is_relative_to(root) else Path(*absolute.parts[1:])
        name = candidate = relative.as_posix().replace("/", "__")
        number = 1
        while candidate in taken:  # a/b.png beside a__b.png: two folders, never one written by two workers
            number += 1
            candidate = f"{name}_{number}"
        taken.add(candidate)
        inputs.append((path, candidate))
    return inputs, problems


def _manifest_paths(manifest: Path) -> list[tuple[int, Path]]:
    """(line number, path) of each row: the "path" column, or the first column without a header."""
    try:
        rows = list(csv.reader(manifest.read_text(encoding="utf-8").splitlines()))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise CathxError(f"{manifest}: not a readable CSV manifest ({exc})") from None
    if not rows:
        raise CathxError(f"{manifest}: the manifest is empty")
    header = [cell.strip().lower() for cell in rows[0]]
    column, start = (header.index("path"), 1) if "path" in header else (0, 0)
    return [(number + 1, Path(row[column].strip())) for number, row in enumerate(rows[start:], start)
            if len(row) > column and row[column].strip()]


class PredictActor:
    """One Ray actor: loads the model once, then predicts the inputs of each batch it is given."""

    def __init__(self, out: str, weights: str, backend: str, input_size: int | None, mask_threshold: float,
                 peak_threshold: float, bit_depth: int | None, device: str, video: bool, threads: int,
                 precision: str = "auto") -> None:
        from cathx.inference.predictor import Predictor

        if backend == "torch":  # an ONNX Runtime actor never imports torch: seconds less per worker start
            import torch

            torch.set_num_threads(threads)
        self.out = Path(out)
        self.weights = Path(weights)
        self.options = {"video": video, "bit_depth": bit_depth, "device": device}
        self.predictor = Predictor.from_checkpoint(self.weights, backend=backend, input_size=input_size,
                                                   threads=threads if backend == "onnx" else None,
                                                   mask_threshold=mask_threshold, peak_threshold=peak_threshold,
                                                   bit_depth=bit_depth, device=device, precision=precision)

    def __call__(self, batch: dict) -> dict:
        results: dict[str, list] = {"path": [], "name": [], "frames": [], "seconds": [], "error": [],
                                    "started_at": [], "ended_at": []}
        for path, name in zip(batch["path"], batch["name"]):
            started, started_at = time.perf_counter(), time.time()
            frames, error = 0, ""
            try:
                frames = predict_input(Path(str(path)), self.out / ITEMS / str(name), self.weights,
                                       self.predictor, **self.options)
            except Exception as exc:  # noqa: BLE001 - one input's failure is listed, never stops the run
                error = " ".join(str(exc).split()) if isinstance(exc, CathxError) else \
                    f"{type(exc).__name__}: {' '.join(str(exc).split())}"
            for key, value in (("path", str(path)), ("name", str(name)), ("frames", frames),
                               ("seconds", time.perf_counter() - started), ("error", error[:500]),
                               ("started_at", started_at), ("ended_at", time.time())):
                results[key].append(value)
        return results


def predict_input(path: Path, out: Path, weights: Path, predictor, video: bool, bit_depth: int | None,
                  device: str) -> int:
    """Predict one input into ``out`` (local predict's files) and then its frames.parquet; the frames."""
    from rich.console import Console

    from cathx.inference.run import run_predict

    rows: list[dict] = []
    last = [time.perf_counter()]

    def on_results(name: str, results) -> None:
        now = time.perf_counter()
        rows.append({"source": str(path), "frame": int(results.meta.get("frame", len(rows))), "name": name,
                     "catheters": len(results.catheters), "electrodes": int(len(results.electrodes)),
                     "types": ",".join(c.type for c in results.catheters), "seconds": now - last[0]})
        last[0] = now

    run_predict(path, weights, out, video=video, bit_depth=bit_depth, device=device, predictor=predictor,
                console=Console(file=io.StringIO()), on_results=on_results)
    _write_table(out / FRAMES_TABLE, rows)
    return len(rows)


def _write_table(path: Path, rows: list[dict]) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from cathx.fileio import atomic_write_bytes

    table = pa.Table.from_pylist(rows, schema=_frame_schema())
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink)
    atomic_write_bytes(path, sink.getvalue().to_pybytes())


def _frame_schema():
    import pyarrow as pa

    return pa.schema([("source", pa.string()), ("frame", pa.int64()), ("name", pa.string()),
                      ("catheters", pa.int64()), ("electrodes", pa.int64()), ("types", pa.string()),
                      ("seconds", pa.float64())])


def run_batch_predict(source: Path | str, weights: Path, out: Path, workers: int = 2, address: str | None = None,
                      backend: str = "torch", input_size: int | None = None, mask_threshold: float = 0.5,
                      peak_threshold: float = 0.3, video: bool = True, bit_depth: int | None = None,
                      device: str = "cpu", batch_size: int = 4, precision: str = "auto") -> dict:
    """Predict every input of ``source`` into ``out`` on Ray Data; returns the summary dict.
    CathxError (one line) only when nothing can run: no input, or no input predicted (now or before)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from cathx.fileio import atomic_write_bytes, atomic_write_json, atomic_write_text, claim_output_folder
    from cathx.inference.predictor import Predictor
    from cathx.raycluster import import_ray, ray_session

    import_ray()
    inputs, problems = list_inputs(source)
    started, started_at = time.perf_counter(), time.time()
    outcomes: list[dict] = []
    with concurrent.futures.ThreadPoolExecutor(1) as pool, contextlib.ExitStack() as stack:
        # Bad weights are one line before anything runs; the check (4 s here: timm's import and the
        # model) runs beside Ray's start instead of before it.
        loading = pool.submit(Predictor.from_checkpoint, weights, backend=backend, input_size=input_size,
                              precision=precision)
        try:
            claim_output_folder(out, create=False)  # checked now, created once Ray is reached
            todo = [(path, name) for path, name in inputs if not (out / ITEMS / name / FRAMES_TABLE).is_file()]
            ray = stack.enter_context(ray_session(address, workers)) if todo else None
        finally:
            loading.result()  # its error, if any, is the one reported
        if todo:
            claim_output_folder(out)
            logging.getLogger("ray.data").setLevel(logging.WARNING)
            context = ray.data.DataContext.get_current()
            context.enable_progress_bars = False
            context.print_on_execution_start = False
            actor = {"out": str(out.resolve()), "weights": str(weights), "backend": backend, "input_size": input_size,
                     "mask_threshold": mask_threshold, "peak_threshold": peak_threshold, "bit_depth": bit_depth,
                     "device": device, "video": video, "threads": 1, "precision": precision}
            dataset = ray.data.from_items([{"path": str(path.resolve()), "name": name} for path, name in todo],
                                          override_num_blocks=max(1, min(len(todo), 4 * workers)))
            predicted = dataset.map_batches(PredictActor, fn_constructor_kwargs=actor, batch_size=batch_size,
                                            compute=ray.data.ActorPoolStrategy(size=min(workers, len(todo))),
                                            num_cpus=1)
            try:
                outcomes = list(predicted.iter_rows())
            except ray.exceptions.RayError as exc:
                detail = " ".join(str(exc).split())[:200]
                raise CathxError(f"{out}: a Ray worker failed ({detail}); rerun to continue, completed inputs "
                                 "are kept") from None
    claim_output_folder(out)
    elapsed = time.perf_counter() - started
    failed = [(str(o["path"]), str(o["error"])) for o in outcomes if o["error"]]
    failed += [(problem.split(": ")[0], problem) for problem in problems]
    lines = io.StringIO()
    writer = csv.writer(lines)
    writer.writerow(FAILED_COLUMNS)
    writer.writerows(failed)
    atomic_write_text(out / "failed.csv", lines.getvalue())
    tables = [pq.read_table(out / ITEMS / name / FRAMES_TABLE) for _, name in inputs
              if (out / ITEMS / name / FRAMES_TABLE).is_file()]
    table = pa.concat_tables(tables) if tables else _frame_schema().empty_table()
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink)
    atomic_write_bytes(out / "summary.parquet", sink.getvalue().to_pybytes())
    frames_now = sum(int(o["frames"]) for o in outcomes if not o["error"])
    # From the first input an actor began to the last one it finished: like local predict's fps, this
    # leaves out starting up (Ray, the actors, their model loads) and shutting down.
    first = min((float(o["started_at"]) for o in outcomes), default=started_at)
    predicting = max((float(o["ended_at"]) for o in outcomes), default=first) - first
    summary = {"source": str(source), "engine": "ray", "workers": workers, "precision": loading.result().precision,
               "inputs": len(inputs),
               "predicted": sum(1 for o in outcomes if not o["error"]), "skipped": len(inputs) - len(todo),
               "failed": len(failed), "frames": frames_now, "frames_total": table.num_rows,
               "seconds": round(elapsed, 3), "fps": round(frames_now / max(elapsed, 1e-9), 2),
               "fps_predicting": round(frames_now / max(predicting, 1e-9), 2),
               "seconds_to_first_input": round(first - started_at, 3),
               "problems": [f"{path}: {error}" if not error.startswith(path) else error for path, error in failed]}
    atomic_write_json(out / "summary.json", summary)
    if not tables:
        raise CathxError(f"{source}: no input could be predicted ({len(failed)} failed, e.g. "
                         f"{summary['problems'][0]}); the list is in {out / 'failed.csv'}")
    return summary
