"""Connect to Ray for the commands that run on it (`cathx synth --engine ray`): an existing cluster
(``address``: "auto", "HOST:PORT", "ray://HOST:PORT") or a local instance started for the command.

Ray is an optional dependency (``pip install "cathx[ray]"``); a missing install, an unreachable
address or a failed start is one CathxError line.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator

from cathx.errors import CathxError


def import_ray():
    try:
        import ray
    except ImportError:
        raise CathxError('--engine ray needs Ray: pip install "cathx[ray]" (or pip install ray)') from None
    return ray


@contextlib.contextmanager
def ray_session(address: str | None, num_cpus: int) -> Iterator[object]:
    """The ``ray`` module, connected: the running session if this process already has one (tests,
    notebooks), else ``address``'s cluster, else a local instance of ``num_cpus`` CPUs without the
    dashboard. A session started here is shut down on exit."""
    ray = import_ray()
    if ray.is_initialized():
        yield ray
        return
    options = {"include_dashboard": False, "logging_level": logging.WARNING, "log_to_driver": False}
    try:
        if address:
            ray.init(address=address, **options)
        else:
            ray.init(num_cpus=num_cpus, **options)
    except (ConnectionError, TimeoutError, RuntimeError, ValueError) as exc:
        where = f"--address {address}" if address else "a local Ray instance"
        detail = " ".join(str(exc).split())[:200]
        raise CathxError(f"{where}: could not connect to Ray ({detail})") from None
    try:
        yield ray
    finally:
        ray.shutdown()
