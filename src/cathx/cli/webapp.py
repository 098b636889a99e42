"""`cathx app`: serve the local web page (Gradio) that runs a catheter model on uploads (module named
webapp: a submodule called app would shadow the Typer `app` of cathx.cli)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from cathx.cli import checks
from cathx.errors import CathxError

LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")


def register(app: typer.Typer) -> None:
    @app.command("app")
    def app_command(
        host: Annotated[str, typer.Option(
            help="address to listen on; 127.0.0.1 keeps the page on this machine (0.0.0.0: every network)")]
        = "127.0.0.1",
        port: Annotated[int, typer.Option(help="TCP port, 1 to 65535")] = 7860,
        max_upload_mb: Annotated[int, typer.Option(help="largest upload accepted, in MB (MiB)")] = 500,
        weights: Annotated[list[Path] | None, typer.Option(
            "--weights", "-w", metavar="<name|path>",
            help="extra model(s) to offer beside cathx-fluoro: a shipped name or a checkpoint "
                 "(.safetensors/.pt/.ckpt/.onnx); repeat for several")] = None,
        chest_weights: Annotated[str, typer.Option(
            "--chest-weights", metavar="<name|path>",
            help="chest classifier of the radiograph tab: cathx-chest or a classifier.safetensors of "
                 "`cathx cls train`")] = "cathx-chest",
        device: Annotated[str, typer.Option(metavar=checks.DEVICE_METAVAR,
                                            help="auto: CUDA when available, else CPU")] = "cpu",
    ) -> None:
        """Serve a web page to upload an image, DICOM or video (or run a synthetic example), see the
        overlay, the catheter and electrode tables and the CS motion plot, and download the results;
        a second tab classifies chest radiographs (label probabilities, line mask and tips).

        Every file it writes stays in its own temporary folder, removed when it stops."""
        if not host.strip():
            raise CathxError("--host '': give an address to listen on, e.g. 127.0.0.1")
        if not 1 <= port <= 65535:
            raise CathxError(f"--port {port}: must be a TCP port from 1 to 65535")
        if not 1 <= max_upload_mb <= 100_000:
            raise CathxError(f"--max-upload-mb {max_upload_mb}: must be from 1 to 100000")
        device = checks.device(device)
        from cathx.app.session import Models, Workspace

        workspace = Workspace()
        try:
            with workspace.isolated():  # before torch, matplotlib and gradio write their caches
                models = Models([str(w) for w in weights or []], device=device, chest_weights=chest_weights)
                models.load_all()  # an unknown name or a bad file stops here, before anything is served
                if host not in LOCAL_HOSTS:
                    warning = f"warning: --host {host}: the page and uploads are open to other machines"
                    Console(stderr=True).print(warning, highlight=False, soft_wrap=True)
                from cathx.app.ui import serve

                serve(host, port, models, max_upload_mb << 20, workspace,
                      announce=lambda line: Console().print(line, highlight=False, soft_wrap=True))
        finally:
            workspace.close()
