"""The work behind `cathx app`, without the web page: models, uploads, runs and their downloads.

Everything the app writes lives under one temporary folder (``Workspace``): Gradio's uploads,
the synthetic examples and one folder per prediction, written by ``run_predict`` (the engine of
`cathx predict`, so the files are the same: masks/, overlays/, json/, electrodes.csv, and for
sequences overlay.mp4, motion.csv, motion.png). Chest radiographs go through the chest model's
own writer (``ChestResults.save``: the results JSON, the plot and the line mask). The page only
shows and links those files.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
import threading
import uuid
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cathx.errors import CathxError, DataError

SHIPPED = "cathx-fluoro"
CHEST_SHIPPED = "cathx-chest"
MB = 1 << 20  # upload limits count MiB, as Gradio's own size check does
EXAMPLES: dict[str, str] = {
    "sequence": "Synthetic sequence (16 frames, 256 px)",
    "frame": "Synthetic frame (512 px)",
}
CATHETER_COLUMNS: tuple[str, ...] = ("catheter_id", "type", "type_confidence", "electrodes", "length_px",
                                     "closed")
ELECTRODE_VIEW_COLUMNS: tuple[str, ...] = ("electrode_id", "catheter_id", "catheter_type", "index", "x", "y",
                                           "score")
LABEL_COLUMNS: tuple[str, ...] = ("label", "probability")
TIP_COLUMNS: tuple[str, ...] = ("line", "x", "y", "score")


class Workspace:
    """The app's own temporary folder: uploads/ (Gradio's cache), examples/ and runs/.

    ``close()`` removes it; nothing outside it is written by the app.
    """

    def __init__(self, parent: Path | str | None = None) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="cathx-app-", dir=parent))
        self.uploads = self.root / "uploads"
        self.runs = self.root / "runs"
        self.examples = self.root / "examples"
        for folder in (self.uploads, self.runs, self.examples):
            folder.mkdir()

    @contextlib.contextmanager
    def isolated(self) -> Iterator[None]:
        """Within it, what libraries write on their own goes into this folder: Gradio's upload cache,
        torch's compiler cache and matplotlib's font list (environment variables they read once, at
        import or first use: enter before loading models). The variables are restored on exit."""
        values = {"GRADIO_TEMP_DIR": str(self.uploads), "GRADIO_ANALYTICS_ENABLED": "False",
                  "TORCHINDUCTOR_CACHE_DIR": str(self.root / "cache" / "torch"),
                  "MPLCONFIGDIR": str(self.root / "cache" / "matplotlib")}
        previous = {name: os.environ.get(name) for name in values}
        os.environ.update(values)
        try:
            yield
        finally:
            for name, value in previous.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value

    def new_run(self, stem: str) -> Path:
        """A fresh folder for one prediction (the upload's stem, made file-name safe, + a short id)."""
        return self.runs / f"{safe_stem(stem)}-{uuid.uuid4().hex[:8]}"

    def close(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


def safe_stem(stem: str) -> str:
    """``stem`` as a short, file-name-safe label (letters, digits, - _ . kept; others become _)."""
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in stem)[:60].strip(".") or "upload"


class Models:
    """The models the page offers: the shipped cathx-fluoro and the weights named on the command
    line, each loaded once (``cathx.load``) and kept; and one chest classifier for radiographs
    (``chest_weights``: the shipped cathx-chest or a classifier file of `cathx cls train`)."""

    def __init__(self, weights: list[str] | None = None, device: str = "cpu",
                 chest_weights: str = CHEST_SHIPPED) -> None:
        self.choices: list[str] = [SHIPPED] + [str(w) for w in weights or [] if str(w) != SHIPPED]
        self.chest_name = str(chest_weights)
        self.device = device
        self._loaded: dict[str, Any] = {}
        self._chest: Any = None
        self._lock = threading.Lock()

    def load_all(self) -> None:
        """Load every model now, so a bad name or file stops `cathx app` before it serves."""
        for name in self.choices:
            self.get(name)
        self.chest()

    def get(self, name: str):
        from cathx.inference.model import load

        if name not in self.choices:
            raise CathxError(f"model {name!r}: not offered by this app; "
                             f"choose from {', '.join(self.choices)}")
        with self._lock:
            if name not in self._loaded:
                self._loaded[name] = load(name, device=self.device)
            return self._loaded[name]

    def chest(self):
        """The chest classifier (a ``ChestModel``), loaded on first use."""
        from cathx.inference.chest_model import load_chest

        with self._lock:
            if self._chest is None:
                self._chest = load_chest(self.chest_name, device=self.device)
            return self._chest


def _received(path: Path | str, max_bytes: int, shown_name: str | None) -> tuple[Path, str]:
    """(path, the name to show) of an uploaded file that exists, is not empty and is within
    ``max_bytes``; otherwise DataError naming it."""
    path = Path(path)
    name = shown_name or path.name
    if not path.is_file():
        raise DataError(f"{name}: no file received")
    size = path.stat().st_size
    if size > max_bytes:
        raise DataError(f"{name}: {size / MB:.1f} MB is over this app's upload limit "
                        f"of {max_bytes / MB:g} MB")
    if size == 0:
        raise DataError(f"{name}: the file is empty")
    return path, name


def check_upload(path: Path | str, max_bytes: int, shown_name: str | None = None):
    """The opened Source of an uploaded file, or CathxError naming the file and the problem:
    over ``max_bytes``, or a type or content cathx cannot read."""
    from cathx.inference.sources import open_source

    path, name = _received(path, max_bytes, shown_name)
    try:
        return open_source(path)
    except CathxError as exc:
        raise DataError(str(exc).replace(str(path), name)) from None


@dataclass
class Run:
    """One finished prediction: its folder, frame names in order and the files to download."""

    folder: Path
    names: list[str]
    summary: dict[str, Any]
    downloads: dict[str, Path] = field(default_factory=dict)

    @property
    def sequence(self) -> bool:
        from cathx.inference.sources import SEQUENCE_KINDS

        return len(self.names) > 1 and self.summary.get("kind") in SEQUENCE_KINDS

    def overlay(self, index: int) -> Path:
        return self.folder / "overlays" / f"{self.names[self._index(index)]}.png"

    def motion_plot(self) -> Path | None:
        path = self.folder / "motion.png"
        return path if path.is_file() else None

    def tables(self, index: int) -> tuple[list[list[Any]], list[list[Any]]]:
        """Rows of the catheter table and of the electrode table of frame ``index``."""
        payload = json.loads((self.folder / "json" / f"{self.names[self._index(index)]}.json").read_text())
        electrodes = payload["electrodes"]
        catheters = []
        for catheter in payload["catheters"]:
            line = catheter["centreline"]
            length = sum(((x1 - x0) ** 2 + (y1 - y0) ** 2) ** 0.5
                         for (x0, y0), (x1, y1) in zip(line, line[1:]))
            # id -1 (a track not yet confirmed) is also the unassigned electrodes' id: no count to give
            count = sum(1 for e in electrodes if e["catheter_id"] == catheter["id"]) if catheter["id"] >= 0 else ""
            catheters.append([catheter["id"], catheter["type"],
                              "" if catheter["confidence"] is None else catheter["confidence"],
                              count, round(length, 1), catheter["closed"]])
        rows = [[e[column] for column in ELECTRODE_VIEW_COLUMNS] for e in electrodes]
        return catheters, rows

    def _index(self, index: int) -> int:
        return min(max(int(index), 0), len(self.names) - 1)


def predict_file(model, source: Path, folder: Path, label: str,
                 on_frame: Callable[[int, int, str], None] | None = None) -> Run:
    """Run ``model`` on ``source`` into ``folder`` with `cathx predict`'s writer, then package the
    downloads (``package``). ``label`` names the downloaded files (the upload's stem)."""
    from cathx.inference.run import run_predict

    names: list[str] = []

    def frame_done(done: int, total: int, name: str) -> None:
        names.append(name)
        if on_frame is not None:
            on_frame(done, total, name)

    summary = run_predict(source, Path(model.name), folder, predictor=model.predictor, on_frame=frame_done)
    summary["source"] = label  # the upload's name, not the server's temporary path
    run = Run(folder, names, summary)
    run.downloads = package(run, label)
    return run


def package(run: Run, label: str) -> dict[str, Path]:
    """The download files of a run, inside its folder: JSON (the summary and every frame's results),
    the electrode CSV, the H.264 overlay video (sequences) and a zip of the masks."""
    from cathx.fileio import atomic_open, atomic_write_json

    folder = run.folder / "downloads"
    downloads: dict[str, Path] = {}
    frames = [json.loads((run.folder / "json" / f"{name}.json").read_text()) for name in run.names]
    downloads["json"] = folder / f"{label}_results.json"
    atomic_write_json(downloads["json"], {"summary": run.summary, "frames": frames})
    downloads["csv"] = folder / f"{label}_electrodes.csv"
    shutil.copyfile(run.folder / "electrodes.csv", downloads["csv"])
    if (run.folder / "overlay.mp4").is_file():
        downloads["mp4"] = folder / f"{label}_overlay.mp4"
        shutil.copyfile(run.folder / "overlay.mp4", downloads["mp4"])
    downloads["masks"] = folder / f"{label}_masks.zip"
    with (atomic_open(downloads["masks"]) as handle,
          zipfile.ZipFile(handle, "w", zipfile.ZIP_DEFLATED) as archive):
        for name in run.names:
            archive.write(run.folder / "masks" / f"{name}.png", f"masks/{name}.png")
    return downloads


def check_radiograph(path: Path | str, max_bytes: int, shown_name: str | None = None):
    """The pixels of an uploaded radiograph ((H, W) float32 in [0, 1], as `cathx cls predict` reads
    them), or CathxError naming the file and the problem: over ``max_bytes``, empty, or not a
    readable .jpg/.jpeg/.png/.dcm."""
    from cathx.inference.chest_model import list_images, read_radiograph

    path, name = _received(path, max_bytes, shown_name)
    try:
        list_images(path)  # the suffixes the chest reader takes
        return read_radiograph(path)
    except CathxError as exc:
        raise DataError(str(exc).replace(str(path), name)) from None


@dataclass
class ChestRun:
    """One radiograph's prediction: its ChestResults and the files ``ChestResults.save`` wrote."""

    folder: Path
    result: Any
    files: dict[str, Path]

    @property
    def overlay(self) -> Path:
        return self.files["plot"]

    @property
    def downloads(self) -> dict[str, Path]:
        """json (probabilities, tips) and, for a model with a mask head, mask (0/255 PNG)."""
        return {key: self.files[key] for key in ("json", "mask") if key in self.files}

    def label_rows(self) -> list[list[Any]]:
        """[label, probability] in the model's label order (RANZCR CLiP's)."""
        return [[label, round(float(p), 3)] for label, p in self.result.probabilities.items()]

    def tip_rows(self) -> list[list[Any]]:
        return [[tip[column] for column in TIP_COLUMNS] for tip in self.result.tips]


def predict_radiograph(model, image: Any, folder: Path, label: str) -> ChestRun:
    """Run the chest classifier ``model`` (a ChestModel) on one radiograph's pixels (``check_radiograph``)
    and write its results into ``folder`` (new) as `label`.json / .png / _mask.png."""
    result = model.predict_grey(image, label)
    return ChestRun(folder, result, result.save(folder))


def chest_example(folder: Path, seed: int = 7, size: int = 512) -> Path:
    """Write one radiograph drawn by cathx's chest engine (PNG, 8 bits) into ``folder``."""
    from cathx.data.chest.synthetic import generate_study
    from cathx.data.synthetic.writer import quantize
    from cathx.fileio import atomic_write_bytes
    from cathx.inference.visualize import encode_png

    path = folder / f"synthetic_chest_{seed}.png"
    if not path.is_file():
        atomic_write_bytes(path, encode_png(quantize(generate_study(seed, 0, size=size).image, 8)))
    return path


# The sequence's seed draws a CS catheter (so the motion plot has a curve to show), a quadripolar,
# an ablation catheter and a pacing lead; seed 7, the frame's, draws no CS catheter.
EXAMPLE_SEEDS = {"sequence": 12, "frame": 7}


def synthetic_example(kind: str, folder: Path, seed: int | None = None) -> Path:
    """Write a small synthetic input made by cathx's engine into ``folder``: an H.264 sequence
    (16 frames, 256 px, 15 fps) or one 512 px frame (PNG); ``seed``: EXAMPLE_SEEDS[kind] if None."""
    if kind not in EXAMPLES:
        raise CathxError(f"example {kind!r}: choose from {', '.join(EXAMPLES)}")
    from cathx.data.synthetic import generate_sequence, render_frame
    from cathx.data.synthetic.writer import quantize
    from cathx.fileio import atomic_write_bytes
    from cathx.inference.visualize import VideoWriter, encode_png

    seed = EXAMPLE_SEEDS[kind] if seed is None else seed

    if kind == "sequence":
        path = folder / f"synthetic_sequence_{seed}.mp4"
        if not path.is_file():
            with VideoWriter(path, fps=15.0) as writer:
                for sample in generate_sequence(seed, 16, size=256, fps=15.0):
                    grey = quantize(sample.image, 8)
                    writer.write(grey[..., None].repeat(3, axis=2))
        return path
    path = folder / f"synthetic_frame_{seed}.png"
    if not path.is_file():
        atomic_write_bytes(path, encode_png(quantize(render_frame(seed, 512).sample.image, 8)))
    return path
