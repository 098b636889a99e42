import pytest
import torch

from cathx.config import to_dict
from cathx.models import model_profile
from cathx.training.config import OptimConfig, PrioritizationConfig
from cathx.training.module import CathxModule, parameter_groups


def tiny_module(**kwargs) -> CathxModule:
    model = to_dict(model_profile("demo", latent_channels=16, decoder_channels=(8, 8), head_channels=8))
    return CathxModule(model, to_dict(PrioritizationConfig()), to_dict(OptimConfig()),
                       ("segmentation", "detection"), num_samples=4, total_steps=2, **kwargs)


def test_channels_last_and_loss_options_reach_the_step():
    module = tiny_module(channels_last=True, loss={"segmentation": "dice", "size_weight": 0.5})
    assert module.criterion.segmentation_loss == "dice" and module.criterion.size_weight == 0.5
    first_conv = next(m for m in module.model.modules() if isinstance(m, torch.nn.Conv2d))
    assert first_conv.weight.is_contiguous(memory_format=torch.channels_last)
    plain = tiny_module()
    plain.load_state_dict(module.state_dict())
    module.eval()
    plain.eval()
    image = torch.rand(2, 1, 64, 64)
    channels_last_mask = module(image)["mask"]
    assert channels_last_mask.shape == (2, 1, 64, 64)
    # the memory format changes speed, not results
    torch.testing.assert_close(channels_last_mask, plain(image)["mask"], atol=1e-4, rtol=1e-4)


def test_default_loss_is_the_papers():
    module = tiny_module()
    assert module.criterion.segmentation_loss == "bce-iou" and module.criterion.size_weight == 1.0


def test_heatmap_sigma_floor_reaches_the_targets():
    from cathx.heatmap import DEFAULT_MIN_SIGMA
    from cathx.training.config import LossConfig

    assert LossConfig().min_sigma == DEFAULT_MIN_SIGMA  # the config's default is the heatmap's
    sharp = tiny_module(loss={"min_sigma": 0.5})
    assert sharp.criterion.min_sigma == 0.5
    # two 3-px rings 1.5 px apart: the floor decides the target between them (max of Gaussians,
    # exp(-0.75^2 / (2 sigma^2)) at the midpoint: 0.61 at sigma 0.75, 0.32 at sigma 0.5)
    batch = {"electrodes": torch.tensor([[[10.0, 10.0], [11.5, 10.0]]]), "electrode_sizes": torch.full((1, 2, 2), 3.0),
             "electrode_valid": torch.tensor([[True, True]])}
    values = {}
    for module in (tiny_module(), sharp):
        heat = module.criterion.targets(batch, image_size=(32, 32), stride=1)["heatmap"][0, 0]
        values[module.criterion.min_sigma] = float(heat[10, 11])  # cell x 11: 1 px from the first ring, 0.5 from the second
    assert values[0.75] == pytest.approx(float(torch.exp(torch.tensor(-0.25 / (2 * 0.75**2)))), abs=1e-6)
    assert values[0.5] == pytest.approx(float(torch.exp(torch.tensor(-0.25 / (2 * 0.5**2)))), abs=1e-6)


def test_resume_refuses_a_folder_of_another_experiment(tmp_path):
    from dataclasses import replace

    import pytest
    import yaml

    from cathx.errors import CathxError
    from cathx.training.config import TrainConfig, TrainerConfig
    from cathx.training.run import check_same_experiment

    cfg = TrainConfig(model={"encoder": "resnet18"})
    saved = tmp_path / "config.yaml"
    saved.write_text(yaml.safe_dump(to_dict(cfg), sort_keys=False))
    check_same_experiment(cfg, saved)  # the same experiment resumes
    check_same_experiment(replace(cfg, trainer=TrainerConfig(threads=1, max_minutes=3.0)), saved)
    check_same_experiment(cfg, tmp_path / "absent.yaml")  # nothing saved yet
    with pytest.raises(CathxError, match=r"holds a run of another config \(model differ"):
        check_same_experiment(replace(cfg, model={"encoder": "resnet34"}), saved)
    with pytest.raises(CathxError, match=r"\(trainer.ema_decay differ"):
        check_same_experiment(replace(cfg, trainer=TrainerConfig(ema_decay=0.99)), saved)
    # a run written before a key existed (optim.fresh_lr_factor, added 2026-12-05) resumes
    older = to_dict(cfg)
    del older["optim"]["fresh_lr_factor"]
    saved.write_text(yaml.safe_dump(older, sort_keys=False))
    check_same_experiment(cfg, saved)
    saved.write_text("stages: [unclosed\n")
    with pytest.raises(CathxError, match=r"config.yaml: unreadable run config \(.*Error\)"):
        check_same_experiment(cfg, saved)
    saved.write_text("- a list\n")
    with pytest.raises(CathxError, match=r"config.yaml: not a run config"):
        check_same_experiment(cfg, saved)


def test_paper_preset_reaches_the_module():
    # focal loss normalised per batch; a segmentation-only stage trains unweighted (prioritization.stages)
    module = tiny_module()
    assert module.criterion.focal_normalisation == "batch"
    assert module.priority.task_kpi == "set" and module.prioritizer.cfg.topk_ties == "strict"
    model = to_dict(model_profile("demo", latent_channels=16, decoder_channels=(8, 8), head_channels=8))
    pretrain = CathxModule(model, to_dict(PrioritizationConfig()), to_dict(OptimConfig()), ("segmentation",),
                           num_samples=4, total_steps=2)
    assert pretrain.prioritizer.cfg.task_weighting == "constant" and pretrain.prioritizer.cfg.sample_selection == "none"
    legacy = CathxModule(model, to_dict(PrioritizationConfig(stages="all")), to_dict(OptimConfig()),
                         ("segmentation",), num_samples=4, total_steps=2, loss={"focal_normalisation": "image"})
    assert legacy.prioritizer.cfg.sample_selection == "topk-hard" and legacy.criterion.focal_normalisation == "image"


def test_training_step_feeds_set_kpis_to_the_prioritizer():
    module = tiny_module()
    generator = torch.Generator().manual_seed(0)
    batch = {"image": torch.rand(2, 1, 64, 64, generator=generator),
             "mask": (torch.rand(2, 1, 64, 64, generator=generator) > 0.8).float(),
             "has_mask": torch.tensor([True, True]),
             "electrodes": torch.tensor([[[10.0, 10.0], [30.0, 40.0]], [[50.0, 20.0], [0.0, 0.0]]]),
             "electrode_sizes": torch.full((2, 2, 2), 4.0),
             "electrode_valid": torch.tensor([[True, True], [True, False]]),
             "has_electrodes": torch.tensor([True, True]), "index": torch.tensor([0, 1])}
    loss = module.training_step(batch, 0)
    assert torch.isfinite(loss)
    _, _, kpis, available, stats = module._losses_and_kpis(batch)
    from cathx.metrics.kpi import pooled_kpi

    # the first observation initialises kappa_bar to the batch's set KPI (stats pooled), not the mean
    expected = float(pooled_kpi(stats["segmentation"], "iou"))
    assert float(module.prioritizer.kappa_bar["segmentation"]) == pytest.approx(expected, abs=1e-6)


def test_fresh_parameters_train_at_their_own_rate_on_the_same_schedule():
    model = to_dict(model_profile("demo", latent_channels=16, decoder_channels=(8, 8), head_channels=8))
    optim = to_dict(OptimConfig(lr=1e-3, schedule="cosine", fresh_lr_factor=4.0))
    module = CathxModule(model, to_dict(PrioritizationConfig()), optim, ("segmentation", "detection"),
                         num_samples=4, total_steps=10)
    names = [name for name, _ in module.model.named_parameters() if name.startswith("decoder")]
    module.fresh_parameters = frozenset(names)
    setup = module.configure_optimizers()
    optimizer, scheduler = setup["optimizer"], setup["lr_scheduler"]["scheduler"]
    assert [group["lr"] for group in optimizer.param_groups] == pytest.approx([1e-3, 4e-3])
    assert len(optimizer.param_groups[1]["params"]) == len(names)
    for _ in range(5):  # half the cosine: both groups at half their own peak
        optimizer.step()
        scheduler.step()
    assert [group["lr"] for group in optimizer.param_groups] == pytest.approx([5e-4, 2e-3])
    # nothing fresh (no --init-matching): one group at the stage's rate
    assert len(tiny_module().configure_optimizers().param_groups) == 1


def test_parameter_groups_give_fresh_parameters_their_own_rate():
    a, b, c = (torch.nn.Parameter(torch.zeros(1)) for _ in range(3))
    named = [("a", a), ("b", b), ("c", c)]
    groups = parameter_groups(named, {"b"}, 0.1, 10.0)
    assert [(g["params"], g["lr"]) for g in groups] == [([a, c], 0.1), ([b], 1.0)]
    # factor 1, or nothing fresh: one group as before
    for fresh, factor in (({"b"}, 1.0), (set(), 10.0)):
        (only,) = parameter_groups(named, fresh, 0.1, factor)
        assert only["params"] == [a, b, c] and only["lr"] == 0.1
    # every parameter fresh: no empty group
    (fresh_only,) = parameter_groups(named, {"a", "b", "c"}, 0.1, 3.0)
    assert fresh_only["lr"] == pytest.approx(0.3)

