"""Predict every frame of a source (image, folder, video, DICOM) into an output folder.

The engine behind `cathx predict` and `cathx demo`: frames are streamed, so a long video is
never held in memory, and each frame's files are written as soon as it is done.
"""

from __future__ import annotations

import contextlib
import csv
import os
import tempfile
import time
from pathlib import Path

from rich.console import Console


def run_predict(source_path: Path, weights: Path, out: Path, backend: str = "torch",
                input_size: int | None = None, mask_threshold: float = 0.5, peak_threshold: float = 0.3,
                video: bool = True, console: Console | None = None, bit_depth: int | None = None,
                device: str = "cpu", predictor=None, on_frame=None, on_results=None, tta: bool = False,
                precision: str = "auto") -> dict:
    """Predict every frame of ``source_path`` into ``out``; returns a summary dict.

    Per frame: masks/NAME.png, overlays/NAME.png, json/NAME.json (electrodes + centrelines) and
    rows of electrodes.csv. Sequences (video, DICOM) also get overlay.mp4 (tracked ids, track-level
    types), motion.csv (coronary sinus displacement per frame with a quality flag) and its plot
    motion.png. Files of frames done before an error are kept.

    ``out`` must be absent, empty or an earlier cathx output (``claim_output_folder``): files cathx
    did not write are never overwritten. Every file is written under a temporary name and renamed
    when complete (electrodes.csv once the last frame is done), so a killed run leaves the earlier
    files whole. bit_depth: significant bits of 16-bit frames that declare none. device: torch
    device (cpu, cuda, cuda:N); with the onnx backend, cuda tries ONNX Runtime's CUDA provider.
    precision: auto, fp32 or bf16 (``Predictor.from_checkpoint``).
    predictor: an already loaded Predictor to use instead of loading ``weights`` (`cathx app` keeps
    its models loaded; bit_depth and the thresholds are then the predictor's own). on_frame: called
    as ``on_frame(done, total, name)`` after each frame's files are written (total: the source's
    frame count), for a progress display. on_results: called as ``on_results(name, results)`` for
    each frame once its files are written (batch prediction builds its per-frame table from it).
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from cathx.fileio import atomic_write_bytes, atomic_write_json, atomic_write_text, claim_output_folder
    from cathx.inference.predictor import Predictor
    from cathx.inference.sources import open_source
    from cathx.data.formats.base import plausible_fps
    from cathx.inference.visualize import encode_png, mask_png
    from cathx.postprocess.results import ELECTRODE_COLUMNS

    console = console or Console(stderr=True)
    source = open_source(source_path)
    if predictor is None:
        predictor = Predictor.from_checkpoint(weights, backend=backend, input_size=input_size,
                                              mask_threshold=mask_threshold, peak_threshold=peak_threshold,
                                              bit_depth=bit_depth, device=device, tta=tta,
                                              precision=precision)
    created = not out.exists()
    claim_output_folder(out)
    _remove_leftover_tables(out)
    several = source.sequences > 1
    current: _SequenceOutputs | None = None
    _remove_sequence_outputs(out)
    done = 0
    error: str | None = None
    started = time.perf_counter()
    progress = Progress(TextColumn("[bold]predict[/]"), BarColumn(), MofNCompleteColumn(),
                        TextColumn("{task.fields[fps]:.1f} fps"), TimeElapsedColumn(),
                        console=console, disable=not console.is_terminal, transient=False)
    descriptor, partial_table = tempfile.mkstemp(prefix=".electrodes.csv.", suffix=".tmp", dir=out)
    with os.fdopen(descriptor, "w", newline="") as table, progress:
        rows = csv.DictWriter(table, fieldnames=list(ELECTRODE_COLUMNS))
        rows.writeheader()
        task = progress.add_task("predict", total=source.length, fps=0.0)
        try:
            for frame, results in predictor.stream(source.frames()):
                if source.sequence:
                    sequence = str(frame.meta.get("sequence", source.path))
                    if current is None or current.sequence != sequence:
                        if current is not None:
                            current.close()
                        label = str(frame.meta.get("sequence_label", source.path.stem))
                        fps = plausible_fps(frame.meta.get("fps")) or source.fps
                        if fps is None:
                            source.problems.append(
                                f"{frame.meta.get('source', source.path)}: no usable frame rate; "
                                f"overlay and motion at {FALLBACK_FPS:g} fps")
                        title = frame.meta.get("source", source_path) if several else source_path
                        current = _SequenceOutputs(out, sequence, label if several else "", predictor,
                                                   fps, video, title)
                    current.add(frame, results)
                name = str(results.meta.get("name", f"frame_{done:05d}"))
                drawn = draw_overlay(frame.image, results)
                atomic_write_bytes(out / "masks" / f"{name}.png", mask_png(results.mask, results.image_size))
                atomic_write_bytes(out / "overlays" / f"{name}.png", encode_png(drawn))
                atomic_write_text(out / "json" / f"{name}.json", results.to_json() + "\n")
                rows.writerows(results.electrode_rows())
                table.flush()
                if current is not None:
                    current.write(drawn)
                done += 1
                progress.update(task, advance=1, fps=done / max(time.perf_counter() - started, 1e-9))
                if on_frame is not None:
                    on_frame(done, source.length, name)
                if on_results is not None:
                    on_results(name, results)
        except BaseException as exc:  # noqa: BLE001 - recorded in summary.json, then raised on
            error = str(exc) or type(exc).__name__
            raise
        finally:
            table.flush()
            if done:
                os.fsync(table.fileno())
                os.chmod(partial_table, _plain_file_mode())
                os.replace(partial_table, out / "electrodes.csv")  # rows of every frame done, never a cut line
            else:
                os.unlink(partial_table)
            if current is not None:
                current.close()
            if not done and created:  # nothing predicted: leave no trace, and no new folder
                _remove_new_folder(out)
            elapsed = time.perf_counter() - started
            summary = {"source": str(source_path), "kind": source.kind, "frames": done,
                       "seconds": round(elapsed, 3), "fps": round(done / max(elapsed, 1e-9), 2),
                       "backend": predictor.backend, "precision": predictor.precision, "weights": str(weights),
                       "input_size": predictor.input_size, "device": device, "problems": source.problems}
            if error is not None:  # a run cut short says so, rather than leave an earlier run's summary
                summary["error"] = error
            if out.is_dir():  # also a new folder that kept files of a first frame cut short
                atomic_write_json(out / "summary.json", summary)
    return summary


FALLBACK_FPS = 15.0  # frame rate of overlays and motion plots when the source states none


class _SequenceOutputs:
    """Tracker, motion curve and overlay video of one time series of a run. A source of several
    series (a folder of videos, of DICOM runs) tracks each on its own and names its files
    overlay_LABEL.mp4, motion_LABEL.csv / .png; a single series keeps overlay.mp4, motion.*."""

    def __init__(self, out: Path, sequence: str, label: str, predictor, fps: float | None, video: bool,
                 title: object) -> None:
        from cathx.inference.visualize import VideoWriter
        from cathx.postprocess.motion import MotionCurve

        self.out, self.sequence, self.fps, self.title = out, sequence, fps, Path(str(title)).name
        self.suffix = f"_{label}" if label else ""
        self.tracker = predictor.tracker()
        self.curve = MotionCurve()
        self.writer = VideoWriter(out / f"overlay{self.suffix}.mp4", fps or FALLBACK_FPS) if video else None
        self.shape: tuple[int, ...] | None = None
        self.frames = 0

    def add(self, frame, results) -> None:
        """Track ``results``; a frame of another size than the series' first ends the run (the
        tracker's gates and the motion curve are in the first frame's pixels)."""
        from cathx.errors import DataError

        shape = tuple(results.image_size)
        if self.shape is None:
            self.shape = shape
        elif shape != self.shape:
            raise DataError(f"{frame.meta.get('source', self.sequence)}: frame {self.frames} is "
                            f"{shape[1]}x{shape[0]} px, the frames of its sequence before it "
                            f"{self.shape[1]}x{self.shape[0]}; a sequence's frames must share one size")
        self.tracker.update(results)
        self.curve.add(results, frame=self.frames)
        self.frames += 1

    def write(self, drawn) -> None:
        if self.writer is not None:
            self.writer.write(drawn)

    def close(self) -> None:
        """Finish the video and write the motion curve of the frames tracked."""
        from cathx.inference.motion import write_motion

        if self.writer is not None:
            self.writer.close()
        if self.frames:
            write_motion(self.out, self.curve.curve(), self.fps, title=self.title, stem=f"motion{self.suffix}")


def _remove_sequence_outputs(out: Path) -> None:
    """Remove the overlay videos and motion files an earlier run left in this cathx-made folder, so
    a rerun without --video, or on images, does not leave them beside results they do not show."""
    for pattern in ("overlay*.mp4", "motion*.csv", "motion*.png"):
        for stale in out.glob(pattern):
            with contextlib.suppress(OSError):
                stale.unlink()


def _remove_leftover_tables(out: Path) -> None:
    """Remove electrodes.csv temporaries of an earlier run killed in this (cathx-made) folder."""
    for leftover in out.glob(".electrodes.csv.*.tmp"):
        with contextlib.suppress(OSError):
            leftover.unlink()


def _remove_new_folder(out: Path) -> None:
    """Remove the folder this run created when it holds only the cathx marker. A folder that kept
    files of a first frame cut short keeps its marker too, so that a rerun may write into it."""
    from cathx.fileio import OUTPUT_MARKER

    with contextlib.suppress(OSError):
        if [entry.name for entry in out.iterdir()] == [OUTPUT_MARKER]:
            (out / OUTPUT_MARKER).unlink()
            out.rmdir()


def _plain_file_mode() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


OVERLAY_MAX_SIDE = 2048  # overlays are for looking at: larger frames are drawn downscaled


def draw_overlay(image, results):
    """RGB overlay of ``results`` on ``image``; frames over OVERLAY_MAX_SIDE are drawn smaller."""
    import cv2

    from cathx.inference.predictor import to_unit_grey
    from cathx.postprocess.results import rescale_results

    height, width = results.image_size
    scale = OVERLAY_MAX_SIDE / max(height, width)
    if scale < 1:
        size = (max(1, round(height * scale)), max(1, round(width * scale)))
        mask = None
        if results.mask is not None:
            mask = cv2.resize(results.mask, (size[1], size[0]), interpolation=cv2.INTER_NEAREST)
        image = cv2.resize(image, (size[1], size[0]), interpolation=cv2.INTER_AREA)
        results = rescale_results(results, size, mask)
    # 12-bit frames in 16-bit words (PNG sBIT, DICOM, --bit-depth) drawn at the network's scale, not /65535
    bits = results.meta.get("bits_stored")
    return results.plot(image if image.dtype == "uint8" else to_unit_grey(image, bits_stored=bits))
