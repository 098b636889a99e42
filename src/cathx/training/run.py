"""``train(config, data, out, resume)``: staged CathMTL training from a config, resumable.

Run folder::

    OUT/config.yaml                      the config as run
    OUT/data/                            the synthetic set, when no --data was given
    OUT/stages/<stage>/checkpoints/      last.ckpt (every epoch / n steps), best.ckpt (val/score)
    OUT/stages/<stage>/model.pt          the stage's final weights (cathx checkpoint)
    OUT/stages/<stage>/done.json         written when the stage finished
    OUT/logs/<stage>/metrics.csv         Lightning CSV logs
    OUT/best.pt                          best weights of the last stage (cathx.checkpoint format)
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from pathlib import Path

import yaml

from cathx.config import to_dict
from cathx.errors import CathxError
from cathx.fileio import atomic_write_json, atomic_write_text
from cathx.structures import Sample
from cathx.system import render_workers
from cathx.training.config import (
    StageConfig,
    TrainConfig,
    load_train_config,
    stage_lr,
    train_config_from_dict,
    upgrade_saved_config,
)

log = logging.getLogger(__name__)

BEST_WEIGHTS = "best.pt"


def resolve_config(config: TrainConfig | Path | str | dict) -> TrainConfig:
    if isinstance(config, TrainConfig):
        return config
    if isinstance(config, dict):
        return train_config_from_dict(config)
    return load_train_config(config)


def stage_tasks(stage: StageConfig, model_tasks: Sequence[str]) -> tuple[str, ...]:
    """Tasks trained in ``stage``: multitask = all of the model's, else the one named."""
    if stage.tasks == "multitask":
        return tuple(model_tasks)
    if stage.tasks not in model_tasks:
        raise CathxError(f"stage {stage.name!r} trains {stage.tasks} but the model has tasks {list(model_tasks)}")
    return (stage.tasks,)


def _rank() -> int:
    """This process's global rank: from torchrun's or SLURM's environment (srun sets no RANK)."""
    from cathx.training.trainer import cluster_layout

    return cluster_layout().global_rank


def ensure_synthetic(cfg: TrainConfig, folder: Path, timeout_s: float = 1800.0) -> Path:
    """The run's synthetic dataset in ``folder``, generated once (by rank 0 under DDP)."""
    if folder.is_dir() and any(folder.iterdir()):
        return folder
    if _rank() == 0:
        from cathx.data.synthetic.writer import write_dataset

        syn = cfg.data.synthetic
        log.info("generating %d synthetic frames at %d px into %s", syn.n, cfg.data.size, folder)
        # As `cathx synth`: two processes where the CPUs allow (the files do not depend on the count);
        # the demo's training budget is what is left of 15 minutes after this.
        write_dataset(folder, n=syn.n, size=cfg.data.size, seed=syn.seed, sequences=syn.sequences,
                      frames=syn.frames, workers=render_workers())
        return folder
    deadline = time.monotonic() + timeout_s
    while not (folder.is_dir() and any(folder.iterdir())):
        if time.monotonic() > deadline:
            raise CathxError(f"{folder}: synthetic data not written by rank 0 in time")
        time.sleep(1.0)
    return folder


def matching_weights(state: dict, own: dict) -> tuple[dict, list[str]]:
    """The tensors of ``state`` that ``own`` (a network's state dict) has under the same name and
    shape, and the names of ``own`` left out (they keep their initialisation)."""
    kept = {k: v for k, v in state.items() if k in own and tuple(v.shape) == tuple(own[k].shape)}
    return kept, sorted(k for k in own if k not in kept)


def _load_weights(module, path: Path | str, matching: bool = False, load: bool = True) -> None:
    """Copy the network weights of checkpoint ``path`` (or a shipped model's name) into ``module``;
    CathxError naming the file when they belong to another architecture. ``matching``: copy only
    the tensors with the same name and shape (a wider decoder warm-started from a trained encoder,
    as Ultralytics transfers the matching items), logged; an error if none match; the names left
    fresh go to ``module.fresh_parameters`` (optim.fresh_lr_factor). ``load=False`` (a resumed
    stage, whose weights come from its own checkpoint) only names them."""
    state = _init_state(path)
    own = module.model.state_dict()
    if matching:
        kept, fresh = matching_weights(state, own)
        if not kept:
            raise CathxError(f"{path}: no weights match this config's network by name and shape")
        parameters = {name for name, _ in module.model.named_parameters()}
        module.fresh_parameters = frozenset(name for name in fresh if name in parameters)
        if not load:
            return
        module.model.load_state_dict(kept, strict=False)
        log.info("--init %s: %d of %d tensors transferred (%d of %d values); %d start fresh, e.g. %s", path,
                 len(kept), len(own), sum(v.numel() for v in kept.values()), sum(v.numel() for v in own.values()),
                 len(fresh), ", ".join(fresh[:3]) or "-")
        return
    check_init_fits(path, state, own)
    module.model.load_state_dict(state)


def _init_state(path: Path | str) -> dict:
    """The network tensors of checkpoint ``path`` (or a shipped model's name), by the network's own
    parameter names."""
    from cathx.checkpoint import read_checkpoint

    state = read_checkpoint(path)["state_dict"]
    if all(key.startswith("model.") for key in state):
        state = {key[len("model."):]: value for key, value in state.items()}
    return state


def check_init_fits(path: Path | str, state: dict, own: dict) -> None:
    """CathxError naming ``path`` unless ``state`` has exactly the tensor names and shapes of
    ``own`` (a network's state dict)."""
    wrong = sorted(k for k in own if k not in state or tuple(state[k].shape) != tuple(own[k].shape))
    if wrong or set(state) - set(own):
        example = wrong[0] if wrong else min(set(state) - set(own))
        raise CathxError(f"{path}: weights do not fit this config's network (e.g. {example}); "
                         "the model section must match the checkpoint's architecture (or pass --init-matching)")


RESUME_HINT = "delete it to restart this stage, or drop --resume"


def check_resume_checkpoint(path: Path) -> None:
    """CathxError (one line naming ``path``) unless the checkpoint to resume from is a whole torch
    archive of tensors and plain containers only.

    A run folder may come from another machine (docs/training.md), so its last.ckpt is untrusted:
    it is opened with ``torch.load(weights_only=True)`` (tensors memory-mapped, not read) and a file
    holding any other pickled object is refused, never unpickled. A truncated file fails the zip
    check first (torch.save's central directory sits at the end). Lightning then loads it with
    ``weights_only=True`` too (``train``).
    """
    import zipfile

    from cathx.checkpoint import load_torch_archive

    try:
        with zipfile.ZipFile(path) as archive:
            archive.infolist()
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise CathxError(f"{path}: checkpoint is truncated or corrupt ({exc}); {RESUME_HINT}") from None
    checkpoint = load_torch_archive(path, mmap=True, hint=RESUME_HINT)
    if not isinstance(checkpoint, dict) or "state_dict" not in checkpoint or "loops" not in checkpoint:
        raise CathxError(f"{path}: not a Lightning checkpoint of a cathx training run; {RESUME_HINT}")


def resume_checkpoints(cfg: TrainConfig, out: Path) -> list[Path]:
    """The last.ckpt of every stage of ``cfg`` that ``--resume`` would continue (not yet done)."""
    from cathx.training.trainer import LAST

    found = []
    for stage in cfg.stages:
        stage_dir = out / "stages" / stage.name
        last = stage_dir / "checkpoints" / f"{LAST}.ckpt"
        if not (stage_dir / "done.json").is_file() and last.is_file():
            found.append(last)
    return found


def check_same_experiment(cfg: TrainConfig, saved: Path) -> None:
    """Refuse to resume a run folder whose config.yaml describes another experiment.

    Finished stages are reused by name, so resuming with a changed model, data, loss, optimiser,
    prioritization or stage list would silently keep the old weights. The trainer section
    (threads, time budget, logging) may change between attempts, except its weight average.
    """
    if not saved.is_file():
        return
    try:
        loaded = yaml.safe_load(saved.read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise CathxError(f"{saved}: unreadable run config ({type(exc).__name__}); restore it from the run's "
                         "origin, or choose another --out") from None
    if not isinstance(loaded, dict):
        raise CathxError(f"{saved}: not a run config (a YAML mapping); restore it, or choose another --out")
    before = upgrade_saved_config(loaded)  # defaults of keys added since; a pre-preset run was "legacy"
    now = yaml.safe_load(yaml.safe_dump(to_dict(cfg)))  # the same round trip as the saved file (tuples -> lists)
    changed = sorted(k for k in set(before) | set(now) if k != "trainer" and before.get(k) != now.get(k))
    # the one trainer key that changes what a checkpoint holds: with the average off, Lightning
    # would resume from the averaged weights stored for it instead of the trained ones
    if (before.get("trainer") or {}).get("ema_decay", 0.0) != (now.get("trainer") or {}).get("ema_decay", 0.0):
        changed.append("trainer.ema_decay")
    if changed:
        preset = (before.get("prioritization") or {}).get("preset")
        hint = ""
        if isinstance(preset, str) and preset != (now.get("prioritization") or {}).get("preset"):
            hint = f" (it ran prioritization preset {preset!r}: set `prioritization: {{preset: {preset}}}` to resume it)"
        raise CathxError(f"{saved.parent}: holds a run of another config ({', '.join(changed)} differ from "
                         f"{saved.name}){hint}; choose another --out, or delete the folder to retrain")


RUN_RECORD = "run.json"  # what the command line gave a run (--data, --init), for --resume


def record_run(out: Path, data: Path | str | Sequence[Path | str] | None, init: Path | str | None,
               init_matching: bool) -> None:
    """Write OUT/run.json: the datasets (absolute paths; null = the config's synthetic set) and the
    starting weights a fresh run was given, which config.yaml does not hold."""
    paths = None if data is None else [data] if isinstance(data, (str, Path)) else list(data)
    atomic_write_json(out / RUN_RECORD, {
        "data": None if paths is None else [str(Path(p).resolve()) for p in paths],
        "init": None if init is None else (str(Path(init).resolve()) if Path(init).exists() else str(init)),
        "init_matching": bool(init_matching)})


def resumed_inputs(out: Path, data, init, init_matching: bool) -> tuple:
    """(data, init, init_matching) for `--resume`: what the command gives, else what the run was
    started with (OUT/run.json), so a resume without --data does not train on a synthetic set in its
    place, nor one without --init rebuild other optimizer groups. A recorded dataset that is not
    at its path (another machine) is an error asking for --data."""
    import json

    path = out / RUN_RECORD
    if not path.is_file():
        return data, init, init_matching
    try:
        saved = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise CathxError(f"{path}: unreadable run record ({exc}); give --data / --init as the run was started") from None
    if data is None and saved.get("data"):
        data = [Path(p) for p in saved["data"]]
        missing = [p for p in data if not p.exists()]
        if missing:
            raise CathxError(f"{out}: the run trained on --data {missing[0]}, which is not on this machine; "
                             "give --data with the dataset's path here")
        log.info("resuming with the run's --data %s", ", ".join(map(str, data)))
    if init is None and saved.get("init"):
        init, init_matching = saved["init"], bool(saved.get("init_matching"))
        log.info("resuming with the run's --init %s", init)
    return data, init, init_matching


def _export(module, path: Path, extra: dict) -> Path:
    from cathx.checkpoint import save_checkpoint

    return save_checkpoint(path, module.model, module.model_config, extra=extra)


def train(config: TrainConfig | Path | str | dict, data: Path | str | Sequence[Path | str] | None = None,
          out: Path | str = "runs/cathx", resume: bool = False, max_minutes: float | None = None,
          train_reader: Sequence[Sample] | None = None, val_reader: Sequence[Sample] | None = None,
          callbacks: Sequence | None = None, init: Path | str | None = None, init_matching: bool = False) -> Path:
    """Train every stage of ``config``; returns the path of the best weights (OUT/best.pt).

    data: dataset path(s) read with cathx.data.formats.open_dataset; None generates the config's
    synthetic set into OUT/data. train_reader / val_reader (tests) replace the data entirely.
    resume: continue the run in OUT exactly where its last checkpoint left it.
    max_minutes: wall-clock budget for the training stages, counted from the end of data generation
        (``ensure_synthetic``); training stops (with a checkpoint) when spent. A stage's training
        time so far counts on ``resume`` (``trainer.BudgetTimer``): to train on after a budget
        stop, resume with a larger budget. Given, it replaces the config's ``trainer.max_minutes``.
    callbacks: extra Lightning callbacks for every stage.
    init: weights the first stage starts from instead of a random initialisation (a shipped
        model's name such as "cathx-fluoro", or a checkpoint): fine-tuning on your own data.
    init_matching: take from ``init`` only the tensors this config's network has under the same
        name and shape (another decoder width, no type head, ...); the rest starts fresh.
    """
    import lightning as L
    import torch

    from cathx.training.datamodule import CathxDataModule, total_steps
    from cathx.training.module import CathxModule
    from cathx.training.trainer import (
        BEST,
        LAST,
        BudgetTimer,
        apply_weight_average,
        build_trainer,
        cluster_layout,
    )

    cfg = resolve_config(config)
    if max_minutes is None and cfg.trainer.max_minutes > 0:
        max_minutes = cfg.trainer.max_minutes
    out = Path(out)
    stages_dir = out / "stages"
    if stages_dir.exists() and not resume:
        raise CathxError(f"{out}: already holds a training run; pass --resume to continue it or choose another --out")
    if resume:
        check_same_experiment(cfg, out / "config.yaml")
        for checkpoint in resume_checkpoints(cfg, out):  # refused before any data is generated
            check_resume_checkpoint(checkpoint)
        if train_reader is None:
            data, init, init_matching = resumed_inputs(out, data, init, init_matching)
    if cfg.trainer.threads > 0:
        torch.set_num_threads(cfg.trainer.threads)
    out.mkdir(parents=True, exist_ok=True)
    if _rank() == 0 and not (resume and (out / "config.yaml").exists()):
        atomic_write_text(out / "config.yaml", yaml.safe_dump(to_dict(cfg), sort_keys=False))
    if _rank() == 0 and train_reader is None and not (out / RUN_RECORD).exists():
        record_run(out, data, init, init_matching)

    from cathx.config import from_dict
    from cathx.models import ModelConfig, build_model

    model_cfg = from_dict(ModelConfig, dict(cfg.model), where="model")
    if init is not None and not init_matching and not resume:
        # Refused before any data is generated (minutes), not when the first stage loads it.
        check_init_fits(init, _init_state(init), build_model(model_cfg).state_dict())

    if train_reader is not None:
        sources: list[Path | str] = []
    elif data is None:
        sources = [ensure_synthetic(cfg, out / "data")]
    elif isinstance(data, (str, Path)):
        sources = [data]
    else:
        sources = list(data)

    world = cluster_layout(cfg.trainer).world_size  # all processes on all nodes
    started = time.monotonic()
    previous: Path | None = None
    best_ckpt: Path | None = None
    for number, stage in enumerate(cfg.stages):
        stage_dir = stages_dir / stage.name
        final = stage_dir / "model.pt"
        if (stage_dir / "done.json").is_file():
            previous = final
            best_ckpt = stage_dir / "checkpoints" / f"{BEST}.ckpt"
            continue
        seed = cfg.seed + number
        L.seed_everything(seed, workers=True, verbose=False)
        stage_sources = list(stage.sources) or sources
        datamodule = CathxDataModule(cfg.data, stage_sources, seed=seed, train_reader=train_reader,
                                     val_reader=val_reader)
        num_samples = len(datamodule.train_samples())
        if num_samples < cfg.data.batch_size * world:
            raise CathxError(f"stage {stage.name!r}: {num_samples} training samples, fewer than one batch "
                             f"of {cfg.data.batch_size} x {world} processes")
        tasks = stage_tasks(stage, model_cfg.tasks)
        steps = total_steps(num_samples, cfg.data.batch_size, stage.epochs, stage.max_steps, world)
        optim = {**to_dict(cfg.optim), "lr": stage_lr(cfg, stage)}
        module = CathxModule(dict(cfg.model), to_dict(cfg.prioritization), optim, tasks, num_samples, steps,
                             channels_last=cfg.trainer.channels_last, loss=to_dict(cfg.loss))
        last = stage_dir / "checkpoints" / f"{LAST}.ckpt"
        resume_from = last if resume and last.is_file() else None
        if previous is not None:
            _load_weights(module, previous)
        elif init is not None and resume_from is None:
            _load_weights(module, init, matching=init_matching)
        elif init is not None and init_matching:  # the optimizer's groups must be those it was saved with
            _load_weights(module, init, matching=True, load=False)
        if resume_from is not None:
            check_resume_checkpoint(resume_from)
        remaining = None
        if max_minutes is not None:
            remaining = max_minutes - (time.monotonic() - started) / 60.0
            if remaining <= 0:
                log.warning("time budget spent before stage %s", stage.name)
                break
        validate = len(datamodule.val_samples()) > 0
        trainer = build_trainer(cfg.trainer, out, stage.name, max_epochs=stage.epochs, max_steps=stage.max_steps,
                                max_minutes=remaining, validate=validate,
                                find_unused=tuple(tasks) != tuple(model_cfg.tasks),
                                extra_callbacks=list(callbacks or []))
        log.info("stage %s: tasks %s, %d samples, %d steps%s", stage.name, tasks, num_samples, steps,
                 f", resuming from {resume_from}" if resume_from else "")
        # weights_only=True: never unpickle the run folder's file (check_resume_checkpoint)
        trainer.fit(module, datamodule=datamodule, ckpt_path=resume_from, weights_only=True)
        finished = trainer.global_step >= steps
        timer = next((c for c in trainer.callbacks if isinstance(c, BudgetTimer)), None)
        if not finished and (timer is None or timer.saved_step != trainer.global_step):
            # weights_only=False here means the full state (optimizer, loops, callbacks), not
            # pickled objects: on_save_checkpoint keeps it to tensors and plain containers
            trainer.save_checkpoint(last, weights_only=False)
        if not finished:
            spent = timer.time_elapsed() / 60.0 if timer is not None else 0.0
            log.warning("stage %s stopped at step %d of %d (time budget: %.1f minutes of training); --resume "
                        "--max-minutes M with M above that continues it", stage.name, trainer.global_step, steps,
                        spent)
        apply_weight_average(trainer, module)  # after the checkpoint above, which keeps the trained weights too
        if trainer.is_global_zero:
            _export(module, final, {"stage": stage.name, "global_step": trainer.global_step, "finished": finished})
            if finished:
                atomic_write_json(stage_dir / "done.json", {"stage": stage.name, "steps": trainer.global_step,
                                                            "epochs": trainer.current_epoch})
        best_ckpt = stage_dir / "checkpoints" / f"{BEST}.ckpt"
        previous = final
        if not finished:
            break
    if previous is None:
        raise CathxError(f"{out}: no stage was trained")
    best_path = out / BEST_WEIGHTS
    if _rank() == 0:
        source = best_ckpt if best_ckpt is not None and best_ckpt.is_file() else previous
        from cathx.checkpoint import load_model, save_checkpoint

        model, model_config = load_model(source)
        save_checkpoint(best_path, model, model_config,
                        extra={"source": str(source), "input_size": cfg.data.size})
    return best_path
