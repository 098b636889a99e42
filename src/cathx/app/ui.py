"""The `cathx app` web page (Gradio): upload or pick an example, choose a model, look and download.

The page holds no logic of its own: ``cathx.app.session`` checks uploads and runs `cathx predict`'s
engine into the app's temporary folder; the page shows the overlays (a frame slider for
sequences), the catheter and electrode tables of the frame shown, the CS motion plot that
predict writes for sequences, and links the download files. Prediction runs in a worker thread
behind Gradio's queue; the page shows a progress bar and the first overlay as soon as it exists.
A second tab does the same for chest radiographs with the chest classifier: the line mask and
tips over the image, the label probabilities, the tips table and the downloads.
"""

from __future__ import annotations

import logging
import queue
import signal
import threading
from pathlib import Path
from typing import Any

from cathx.app.session import (CATHETER_COLUMNS, ELECTRODE_VIEW_COLUMNS, EXAMPLES, LABEL_COLUMNS, MB, TIP_COLUMNS,
                               Models, Run, Workspace, check_radiograph, check_upload, chest_example,
                               predict_file, predict_radiograph, safe_stem, synthetic_example)
from cathx.errors import CathxError

log = logging.getLogger("cathx.app")

INTRO = ("### cathx: catheters in X-ray images\n"
         "**Fluoroscopy**: upload an image, DICOM or video, or run a synthetic example. The network segments "
         "catheters, finds electrodes, orders them along each catheter and names the catheter type. "
         "**Chest radiograph**: the position labels of tubes and lines (RANZCR CLiP), their mask and tips. "
         "*Research software: the shipped models were trained on synthetic images and are not validated on "
         "real clinical images.*")
# The overlay fills its box (small frames are drawn larger, never cropped).
CSS = "#overlay img { width: 100%; height: 100%; object-fit: contain; image-rendering: auto; }"
DOWNLOADS: tuple[tuple[str, str], ...] = (("json", "JSON results"), ("csv", "Electrodes CSV"),
                                          ("mp4", "Overlay video (H.264)"), ("masks", "Masks (zip)"))
CHEST_DOWNLOADS: tuple[tuple[str, str], ...] = (("json", "JSON results"), ("mask", "Line mask (PNG)"))


def build(models: Models, workspace: Workspace, max_bytes: int):
    """The Gradio Blocks of the app (not launched)."""
    import gradio as gr
    import pandas as pd

    def empty(columns: tuple[str, ...]):
        return pd.DataFrame(columns=list(columns))

    def table(rows: list[list[Any]], columns: tuple[str, ...]):
        return pd.DataFrame(rows, columns=list(columns))

    def failed(message: str) -> list[Any]:
        return ([f"**Cannot use this input.** {message}", None, gr.update(visible=False, value=0),
                 empty(CATHETER_COLUMNS), empty(ELECTRODE_VIEW_COLUMNS), gr.update(visible=False, value=None)]
                + [gr.update(visible=False, value=None) for _ in DOWNLOADS] + [None, None])

    def unchanged(status: str, overlay: Any = None) -> list[Any]:
        rest = 4 + len(DOWNLOADS) + 2  # slider, tables, motion, downloads, run and input states: as they are
        return [status, overlay if overlay is not None else gr.update()] + [gr.update()] * rest

    def analyse(path: str, shown: str, model_name: str, progress: gr.Progress) -> Any:
        try:
            source = check_upload(path, max_bytes, shown)
            model = models.get(model_name)
        except CathxError as exc:
            yield failed(str(exc))
            return
        label = safe_stem(Path(shown).stem)
        folder = workspace.new_run(label)
        events: queue.Queue = queue.Queue()
        outcome: dict[str, Any] = {}

        def work() -> None:
            try:
                outcome["run"] = predict_file(model, source.path, folder, label,
                                              on_frame=lambda *event: events.put(event))
            except CathxError as exc:
                outcome["error"] = str(exc).replace(str(source.path), shown)
            except Exception as exc:  # shown in the page; the traceback goes to the server's log
                log.exception("prediction failed on %s", shown)
                outcome["error"] = f"{shown}: prediction failed ({type(exc).__name__}: {exc})"
            finally:
                events.put(None)

        threading.Thread(target=work, name="cathx-app-predict", daemon=True).start()
        progress((0, source.length), desc="predicting", unit="frames")
        first = True
        while (event := events.get()) is not None:
            done, total, name = event
            progress((done, total), desc="predicting", unit="frames")
            if first:
                first = False
                yield unchanged(f"Predicting **{shown}**: frame {done} of {total} done...",
                                str(folder / "overlays" / f"{name}.png"))
        if "error" in outcome:
            yield failed(outcome["error"])
            return
        yield finished(outcome["run"], shown, model_name, path)

    def finished(run: Run, shown: str, model_name: str, path: str) -> list[Any]:
        catheters, electrodes = run.tables(0)
        summary = run.summary
        frames = len(run.names)
        status = (f"**{shown}**: {frames} frame{'s' * (frames != 1)} ({summary['kind']}) "
                  f"in {summary['seconds']:.1f} s ({summary['fps']:.1f} fps) with {model_name}.")
        for problem in summary.get("problems", [])[:3]:
            status += f"  \nReader note: {problem}"
        motion = run.motion_plot()
        buttons = [gr.update(value=str(run.downloads[key]), visible=True) if key in run.downloads
                   else gr.update(value=None, visible=False) for key, _ in DOWNLOADS]
        return ([status, str(run.overlay(0)),
                 gr.update(minimum=0, maximum=max(frames - 1, 1), value=0, step=1, visible=frames > 1),
                 table(catheters, CATHETER_COLUMNS), table(electrodes, ELECTRODE_VIEW_COLUMNS),
                 gr.update(value=str(motion) if motion else None, visible=motion is not None)]
                + buttons + [run, (path, shown)])

    def on_upload(path: str | None, model_name: str, progress=gr.Progress()):
        if not path:
            yield failed("no file received: upload one, or pick a synthetic example")
            return
        yield from analyse(path, Path(path).name, model_name, progress)

    def on_example(kind: str, model_name: str, progress=gr.Progress()):
        try:
            path = synthetic_example(kind, workspace.examples)
        except CathxError as exc:
            yield failed(str(exc))
            return
        yield from analyse(str(path), path.name, model_name, progress)

    def on_rerun(path: str | None, model_name: str, current: tuple[str, str] | None, progress=gr.Progress()):
        """Predict again what is shown (an upload or a synthetic example), with the chosen model."""
        if current:
            yield from analyse(current[0], current[1], model_name, progress)
            return
        yield from on_upload(path, model_name, progress)

    def example_handler(kind: str):
        def handler(model_name: str, progress=gr.Progress()):
            yield from on_example(kind, model_name, progress)

        return handler

    def on_frame(index: float, run: Run | None):
        if run is None:
            return gr.update(), gr.update(), gr.update()
        catheters, electrodes = run.tables(int(index))
        return (str(run.overlay(int(index))), table(catheters, CATHETER_COLUMNS),
                table(electrodes, ELECTRODE_VIEW_COLUMNS))

    with gr.Blocks(title="cathx", analytics_enabled=False) as page:
        gr.Markdown(INTRO)
        # one queue for every event that predicts (gradio keys a queue by handler otherwise), so
        # "one prediction at a time" holds across uploads, examples and reruns, in both tabs
        predicting = {"concurrency_limit": 1, "concurrency_id": "predict"}
        with gr.Tabs(elem_id="tabs"):
            with gr.Tab("Fluoroscopy", elem_id="tab-fluoro"), gr.Row():
                with gr.Column(scale=2, min_width=280):
                    upload = gr.File(label=f"PNG, JPEG, DICOM or MP4 (at most {max_bytes / MB:g} MB)",
                                     type="filepath", elem_id="upload", height=140)
                    with gr.Row():
                        example_buttons = {kind: gr.Button(text, size="sm", elem_id=f"example-{kind}")
                                           for kind, text in EXAMPLES.items()}
                    model = gr.Dropdown(models.choices, value=models.choices[0], label="Model", elem_id="model")
                    rerun = gr.Button("Predict with this model", variant="primary", elem_id="run")
                    status = gr.Markdown("Waiting for an input.", elem_id="status")
                    with gr.Row():
                        buttons = [gr.DownloadButton(text, visible=False, elem_id=f"download-{key}", size="sm",
                                                     min_width=120) for key, text in DOWNLOADS]
                    motion = gr.Image(label="Coronary sinus motion", show_label=False, type="filepath",
                                      visible=False, interactive=False, elem_id="motion")
                with gr.Column(scale=3):
                    overlay = gr.Image(label="Overlay", type="filepath", interactive=False, elem_id="overlay",
                                       height=512)
                    frame = gr.Slider(0, 1, value=0, step=1, label="Frame", visible=False, elem_id="frame")
                    catheters = gr.Dataframe(empty(CATHETER_COLUMNS), label="Catheters in this frame",
                                             interactive=False, elem_id="catheters")
                    electrodes = gr.Dataframe(empty(ELECTRODE_VIEW_COLUMNS), label="Electrodes in this frame",
                                              interactive=False, elem_id="electrodes", max_height=320)
            with gr.Tab("Chest radiograph", elem_id="tab-chest"):
                _chest_tab(models, workspace, max_bytes, predicting)
        state = gr.State(None)
        current = gr.State(None)  # (path, shown name) of the input on the page, for "Predict with this model"
        outputs = [status, overlay, frame, catheters, electrodes, motion, *buttons, state, current]
        upload.upload(on_upload, [upload, model], outputs, **predicting)
        rerun.click(on_rerun, [upload, model, current], outputs, **predicting)
        for kind, button in example_buttons.items():
            button.click(example_handler(kind), [model], outputs, **predicting)
        frame.change(on_frame, [frame, state], [overlay, catheters, electrodes], show_progress="hidden")
    return page


def _chest_tab(models: Models, workspace: Workspace, max_bytes: int, predicting: dict[str, Any]) -> None:
    """The chest radiograph tab's components and events (inside ``build``'s Blocks)."""
    import gradio as gr
    import pandas as pd

    def table(rows: list[list[Any]], columns: tuple[str, ...]):
        return pd.DataFrame(rows, columns=list(columns))

    def failed(message: str) -> list[Any]:
        return ([f"**Cannot use this input.** {message}", None, table([], LABEL_COLUMNS), table([], TIP_COLUMNS)]
                + [gr.update(visible=False, value=None) for _ in CHEST_DOWNLOADS])

    def analyse(path: str, shown: str) -> list[Any]:
        label = safe_stem(Path(shown).stem)
        try:
            image = check_radiograph(path, max_bytes, shown)
            run = predict_radiograph(models.chest(), image, workspace.new_run(label), label)
        except CathxError as exc:
            return failed(str(exc).replace(str(path), shown))
        except Exception as exc:  # shown in the page; the traceback goes to the server's log
            log.exception("chest prediction failed on %s", shown)
            return failed(f"{shown}: prediction failed ({type(exc).__name__}: {exc})")
        height, width = run.result.image.shape
        top, probability = run.result.top
        status = (f"**{shown}**: {width}x{height} px with {models.chest_name}; most likely label "
                  f"{top} ({probability:.2f})")
        if run.result.mask is not None:
            status += f"; {len(run.result.tips)} line tip(s)"
        buttons = [gr.update(value=str(run.downloads[key]), visible=True) if key in run.downloads
                   else gr.update(value=None, visible=False) for key, _ in CHEST_DOWNLOADS]
        return [status + ".", str(run.overlay), table(run.label_rows(), LABEL_COLUMNS),
                table(run.tip_rows(), TIP_COLUMNS)] + buttons

    def on_upload(path: str | None):
        if not path:
            return failed("no file received: upload one, or pick the synthetic example")
        return analyse(path, Path(path).name)

    def on_example():
        path = chest_example(workspace.examples)
        return analyse(str(path), path.name)

    with gr.Row():
        with gr.Column(scale=2, min_width=280):
            upload = gr.File(label=f"PNG, JPEG or DICOM radiograph (at most {max_bytes / MB:g} MB)",
                             type="filepath", elem_id="chest-upload", height=140)
            example = gr.Button("Synthetic chest radiograph (512 px)", size="sm", elem_id="chest-example")
            status = gr.Markdown("Waiting for a radiograph.", elem_id="chest-status")
            with gr.Row():
                buttons = [gr.DownloadButton(text, visible=False, elem_id=f"chest-download-{key}", size="sm",
                                             min_width=120) for key, text in CHEST_DOWNLOADS]
            labels = gr.Dataframe(table([], LABEL_COLUMNS), label="Label probabilities", interactive=False,
                                  elem_id="chest-labels")
        with gr.Column(scale=3):
            # no label box on the image: it would hide the top label the plot writes in its corner
            overlay = gr.Image(label="Radiograph with the line mask", show_label=False, type="filepath",
                               interactive=False, elem_id="chest-overlay", height=512)
            tips = gr.Dataframe(table([], TIP_COLUMNS), interactive=False, elem_id="chest-tips",
                                label="Line tips (mask red; circles: ETT orange, NGT green, CVC blue, Swan pink)")
    outputs = [status, overlay, labels, tips, *buttons]
    upload.upload(on_upload, [upload], outputs, **predicting)
    example.click(on_example, [], outputs, **predicting)


def serve(host: str, port: int, models: Models, max_bytes: int, workspace: Workspace,
          announce=print) -> None:
    """Build the page and serve it until interrupted (Ctrl-C or SIGTERM). The caller holds the
    workspace open and ``isolated()`` (gradio reads GRADIO_TEMP_DIR when imported, here) and closes it.

    CathxError (one line) when the port cannot be bound."""
    page = build(models, workspace, max_bytes)
    page.queue(max_size=16, default_concurrency_limit=1)
    try:
        _, url, _ = page.launch(server_name=host, server_port=port, max_file_size=max_bytes, share=False,
                                inbrowser=False, prevent_thread_lock=True, show_error=False, ssr_mode=False,
                                allowed_paths=[str(workspace.runs), str(workspace.examples)],
                                footer_links=[], run_history=False, quiet=True, css=CSS)
    except OSError as exc:
        raise CathxError(f"--host {host} --port {port}: cannot serve there ({exc})") from None
    announce(f"cathx app on {url} (Ctrl-C stops it; files in {workspace.root}, removed on exit)")
    previous = _stop_on_sigterm()
    try:
        page.block_thread()  # returns on Ctrl-C (or SIGTERM, made an interrupt here)
    finally:
        page.close()
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _stop_on_sigterm():
    """Make SIGTERM (a service manager's, or `kill`) stop the server like Ctrl-C, so the workspace is
    removed; returns the previous handler (None off the main thread, where signals cannot be set)."""
    if threading.current_thread() is not threading.main_thread():
        return None

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    return signal.signal(signal.SIGTERM, interrupt)
