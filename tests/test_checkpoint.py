import pytest
import torch

from cathx.checkpoint import load_model, read_checkpoint, save_checkpoint, save_safetensors
from cathx.errors import CathxError
from cathx.models import ModelConfig, build_model

TINY = ModelConfig(encoder="resnet18", latent_channels=32, decoder_channels=(16, 16), head_channels=8)


def test_round_trip_same_outputs(tmp_path):
    torch.manual_seed(0)
    model = build_model(TINY).eval()
    path = save_checkpoint(tmp_path / "run" / "model.pt", model, TINY, extra={"epoch": 3})
    loaded, cfg = load_model(path)
    assert cfg == TINY and not loaded.training
    assert read_checkpoint(path)["extra"] == {"epoch": 3}
    image = torch.rand(1, 1, 32, 32)
    with torch.no_grad():
        expected, actual = model(image), loaded(image)
    for key in expected:
        torch.testing.assert_close(actual[key], expected[key])
    assert [p.name for p in path.parent.iterdir()] == ["model.pt"]  # no temp file left


def test_lightning_style_prefixed_state_dict(tmp_path):
    model = build_model(TINY)
    state = {f"model.{k}": v for k, v in model.state_dict().items()}
    state["criterion.dummy"] = torch.zeros(1)
    path = tmp_path / "last.ckpt"
    from dataclasses import asdict

    torch.save({"state_dict": state, "model_config": asdict(TINY), "epoch": 1}, path)
    loaded, cfg = load_model(path)
    assert cfg == TINY


def test_missing_file(tmp_path):
    with pytest.raises(CathxError, match="checkpoint not found"):
        load_model(tmp_path / "nope.pt")


@pytest.mark.parametrize("name", ["empty.pt", "empty.safetensors"])
def test_empty_file_says_so(tmp_path, name):
    (tmp_path / name).write_bytes(b"")
    with pytest.raises(CathxError, match=rf"{name}: weights file is empty \(0 bytes\)"):
        load_model(tmp_path / name)


def test_truncated_file(tmp_path):
    path = save_checkpoint(tmp_path / "model.pt", build_model(TINY), TINY)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CathxError, match=r"model\.pt: not a readable checkpoint, truncated or corrupt"):
        load_model(path)


def test_not_a_checkpoint(tmp_path):
    path = tmp_path / "weights.pt"
    torch.save({"a": torch.zeros(2)}, path)
    with pytest.raises(CathxError, match="not a cathx checkpoint"):
        load_model(path)
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    with pytest.raises(CathxError, match="not a readable checkpoint"):
        load_model(text)


def test_other_architecture_weights(tmp_path):
    other = ModelConfig(encoder="resnet34", latent_channels=32, decoder_channels=(16, 16), head_channels=8)
    path = tmp_path / "model.pt"
    save_checkpoint(path, build_model(other), TINY)  # config claims resnet18, weights are resnet34
    with pytest.raises(CathxError, match="weights do not match a resnet18 cathmtl"):
        load_model(path)


def test_invalid_config_in_checkpoint(tmp_path):
    path = tmp_path / "model.pt"
    save_checkpoint(path, build_model(TINY), TINY)
    checkpoint = torch.load(path, weights_only=True)
    checkpoint["model_config"]["encoder"] = "resnet9"
    torch.save(checkpoint, path)
    with pytest.raises(CathxError, match="invalid value 'resnet9'"):
        load_model(path)


def test_baseline_round_trip(tmp_path):
    cfg = ModelConfig(name="unet", encoder="resnet34", tasks=("segmentation",), head_channels=8)
    model = build_model(cfg).eval()
    loaded, loaded_cfg = load_model(save_checkpoint(tmp_path / "unet.pt", model, cfg))
    assert loaded_cfg == cfg and type(loaded) is type(model)


# --- safetensors, shipped names, and never unpickling ----------------------------------------


def test_safetensors_round_trip_same_outputs(tmp_path):
    from cathx.checkpoint import save_safetensors

    torch.manual_seed(1)
    model = build_model(TINY).eval()
    path = save_safetensors(tmp_path / "m.safetensors", model, TINY, extra={"input_size": 64})
    assert path.read_bytes()[8:9] == b"{"  # a safetensors header, not a zip/pickle
    loaded, cfg = load_model(path)
    assert cfg == TINY
    assert read_checkpoint(path)["extra"] == {"input_size": 64}
    image = torch.rand(1, 1, 32, 32)
    with torch.no_grad():
        expected, actual = model(image), loaded(image)
    for key in expected:
        torch.testing.assert_close(actual[key], expected[key])


def test_truncated_safetensors(tmp_path):
    from cathx.checkpoint import save_safetensors

    path = save_safetensors(tmp_path / "m.safetensors", build_model(TINY), TINY)
    path.write_bytes(path.read_bytes()[:5000])
    with pytest.raises(CathxError, match=r"m\.safetensors: not a readable safetensors file"):
        load_model(path)


def test_safetensors_without_cathx_metadata(tmp_path):
    from safetensors.torch import save_file

    path = tmp_path / "foreign.safetensors"
    save_file({"w": torch.zeros(2)}, str(path))
    with pytest.raises(CathxError, match="not a cathx checkpoint"):
        read_checkpoint(path)


class _Payload:
    def __reduce__(self):
        import pathlib

        return (pathlib.Path.touch, (pathlib.Path(_Payload.marker),))


def test_crafted_pickle_checkpoint_is_refused_and_never_runs(tmp_path):
    _Payload.marker = str(tmp_path / "pwned")
    model = build_model(TINY)
    from dataclasses import asdict

    path = tmp_path / "evil.pt"
    torch.save({"state_dict": model.state_dict(), "model_config": asdict(TINY), "x": _Payload()}, path)
    with pytest.raises(CathxError, match="never unpickles") as refused:
        load_model(path)
    assert not (tmp_path / "pwned").exists()
    message = str(refused.value)
    assert "\n" not in message and "convert it once as docs/reliability.md shows ('Old pickle checkpoints')" in message


def test_the_documented_conversion_of_a_trusted_pickle_checkpoint_loads(tmp_path):
    """The recipe of docs/reliability.md, run on a checkpoint that weights_only refuses (a harmless
    non-tensor object), gives a file cathx loads with the same weights."""
    import fractions
    import re
    from dataclasses import asdict
    from pathlib import Path

    model = build_model(TINY)
    old = tmp_path / "old.pt"
    torch.save({"state_dict": model.state_dict(), "model_config": asdict(TINY), "note": fractions.Fraction(1, 3)},
               old)
    with pytest.raises(CathxError, match="never unpickles"):
        load_model(old)
    docs = (Path(__file__).parents[1] / "docs" / "reliability.md").read_text()
    recipe = re.search(r"## Old pickle checkpoints.*?```python\n(.*?)```", docs, re.S).group(1)
    exec(recipe.replace("old.pt", str(old)).replace("converted.pt", str(tmp_path / "converted.pt")), {})
    loaded, cfg = load_model(tmp_path / "converted.pt")
    assert cfg == TINY
    for key, value in model.state_dict().items():
        assert torch.equal(loaded.state_dict()[key], value)


def test_unknown_model_name_lists_the_shipped_ones():
    with pytest.raises(CathxError, match="no such weights file or shipped model; shipped models: cathx-fluoro, cathx-chest"):
        read_checkpoint("cathx-fluoro-xl")


# Chest classifiers ---------------------------------------------------------------------------

def _tiny_classifier():
    from cathx.models.classifier import ClassifierConfig, build_classifier

    torch.manual_seed(0)
    cfg = ClassifierConfig(kind="seg_aided", backbone="rexnet_100", decoder_width=8, backbone_args={"width_mult": 0.5})
    return build_classifier(cfg).eval(), cfg


def _old_classifier_pt(path, model, cfg, image_size, extra=None):
    """A classifier.pt as `cathx cls train` wrote it before issue 16 made .safetensors the one format."""
    from cathx.checkpoint import CHEST_FORMAT
    from cathx.config import to_dict
    from cathx.data.chest.ranzcr import LABELS

    torch.save({"format": CHEST_FORMAT, "version": 1, "model_config": to_dict(cfg), "image_size": image_size,
                "labels": list(LABELS), "state_dict": model.state_dict(), "extra": extra or {}}, path)
    return path


@pytest.mark.parametrize("name", ["c.pt", "c.safetensors"])
def test_chest_classifier_round_trip_and_an_old_pt(tmp_path, name):
    from cathx.checkpoint import CHEST_FORMAT, load_classifier, read_classifier, save_classifier

    model, cfg = _tiny_classifier()
    if name.endswith(".pt"):
        path = _old_classifier_pt(tmp_path / name, model, cfg, 48, {"fold": 3})
    else:
        path = save_classifier(tmp_path / name, model, cfg, 48, {"fold": 3})
    record = read_classifier(path)
    assert record["format"] == CHEST_FORMAT and record["image_size"] == 48 and record["extra"] == {"fold": 3}
    loaded, loaded_cfg, size = load_classifier(path)
    assert loaded_cfg == cfg and size == 48 and not loaded.training
    for key, value in model.state_dict().items():
        assert torch.equal(loaded.state_dict()[key], value)
    x = torch.rand(1, 1, 48, 48)
    with torch.no_grad():
        assert torch.equal(loaded(x)["logits"], model(x)["logits"])


def test_save_classifier_writes_the_shipped_models_record_and_only_safetensors(tmp_path):
    """One chest format: the header of what save_classifier writes has the shipped cathx-chest's
    keys, with the record as JSON; a .pt path is a programming error."""
    import json

    from safetensors import safe_open

    from cathx.checkpoint import classifier_record, save_classifier
    from cathx.config import to_dict
    from cathx.zoo import resolve_weights

    model, cfg = _tiny_classifier()
    path = save_classifier(tmp_path / "c.safetensors", model, cfg, 48, {"fold": 3})
    with safe_open(str(path), framework="pt") as handle:
        header = handle.metadata()
    with safe_open(str(resolve_weights("cathx-chest")), framework="pt") as handle:
        shipped = handle.metadata()
    assert set(header) == set(shipped) == {"format", "version", "model_config", "image_size", "labels",
                                           "extra"}
    assert header["format"] == shipped["format"] == "cathx-chest-classifier" and header["version"] == "1"
    assert header["image_size"] == "48" and json.loads(header["labels"]) == json.loads(shipped["labels"])
    assert json.loads(header["model_config"]) == json.loads(json.dumps(to_dict(cfg)))
    assert json.loads(header["extra"]) == {"fold": 3}
    record = classifier_record(cfg, 48, {"fold": 3})
    assert {key: v if isinstance(v, str) else json.dumps(v) for key, v in record.items()} == header
    with pytest.raises(ValueError, match="c.pt: chest classifiers are written as .safetensors only"):
        save_classifier(tmp_path / "c.pt", model, cfg, 48)
    assert not (tmp_path / "c.pt").exists()


def test_chest_classifier_pt_of_before_the_split_and_a_lightning_ckpt_load(tmp_path):
    """classifier.pt written before issue 16 (extras beside the record) and a Lightning .ckpt of
    `cathx cls train` (config in the hyper-parameters, "model." keys) load with their weights."""
    from cathx.checkpoint import CHEST_FORMAT, load_classifier
    from cathx.config import to_dict

    model, cfg = _tiny_classifier()
    torch.save({"format": CHEST_FORMAT, "version": 1, "model_config": to_dict(cfg), "image_size": 40,
                "labels": ["x"] * 11, "state_dict": model.state_dict(), "train_config": {"epochs": 1}, "fold": 0},
               tmp_path / "old.pt")
    state = {f"model.{k}": v for k, v in model.state_dict().items()}
    torch.save({"state_dict": state, "hyper_parameters": {"config": {"model": to_dict(cfg), "data": {"image_size": 56}}},
                "epoch": 1}, tmp_path / "last.ckpt")
    for name, size in (("old.pt", 40), ("last.ckpt", 56)):
        loaded, loaded_cfg, loaded_size = load_classifier(tmp_path / name)
        assert loaded_cfg == cfg and loaded_size == size
        assert all(torch.equal(loaded.state_dict()[k], v) for k, v in model.state_dict().items())


def test_chest_classifier_refuses_pickles_and_foreign_checkpoints(tmp_path, tiny_checkpoint):
    from cathx.checkpoint import load_classifier, save_classifier
    from cathx.config import to_dict
    from cathx.models.classifier import ClassifierConfig, build_classifier

    _Payload.marker = str(tmp_path / "pwned")
    model, cfg = _tiny_classifier()
    torch.save({"format": "cathx-chest-classifier", "model_config": to_dict(cfg), "image_size": 32,
                "state_dict": model.state_dict(), "x": _Payload()}, tmp_path / "evil.pt")
    with pytest.raises(CathxError, match="evil.pt: refused, .*never unpickles"):
        load_classifier(tmp_path / "evil.pt")
    assert not (tmp_path / "pwned").exists()
    with pytest.raises(CathxError, match="tiny.pt: not a chest classifier checkpoint"):
        load_classifier(tiny_checkpoint)
    with pytest.raises(CathxError, match="none.pt: weights file not found"):
        load_classifier(tmp_path / "none.pt")
    fluoro = save_safetensors(tmp_path / "f.safetensors", build_model(TINY), TINY)
    with pytest.raises(CathxError, match="f.safetensors: not a chest classifier checkpoint"):
        load_classifier(fluoro)
    _old_classifier_pt(tmp_path / "w.pt", model, cfg, 32)  # then its config claims another architecture
    state = torch.load(tmp_path / "w.pt", weights_only=True)
    state["model_config"] = to_dict(ClassifierConfig(kind="single", backbone="rexnet_100"))
    torch.save(state, tmp_path / "w.pt")
    with pytest.raises(CathxError, match=r"w.pt: weights do not match a single rexnet_100 classifier: missing \d+ \(e.g. "):
        load_classifier(tmp_path / "w.pt")
    state["model_config"] = to_dict(ClassifierConfig(kind="single", backbone="rexnet_100"))
    state["model_config"]["backbone"] = "no_such_net"
    torch.save(state, tmp_path / "w.pt")
    with pytest.raises(CathxError, match="w.pt: cannot build its single no_such_net classifier"):
        load_classifier(tmp_path / "w.pt")
    other = save_classifier(tmp_path / "w.safetensors", build_classifier(
        ClassifierConfig(kind="single", backbone="rexnet_100", backbone_args={"width_mult": 0.5})), cfg, 32)
    with pytest.raises(CathxError, match="w.safetensors: weights do not match a seg_aided rexnet_100"):
        load_classifier(other)


@pytest.mark.parametrize("name", ["c.pt", "c.safetensors"])
def test_a_chest_classifier_given_where_a_catheter_network_is_needed_says_what_it_is(tmp_path, name):
    from cathx.checkpoint import save_classifier

    model, cfg = _tiny_classifier()
    if name.endswith(".pt"):
        path = _old_classifier_pt(tmp_path / name, model, cfg, 48)
    else:
        path = save_classifier(tmp_path / name, model, cfg, 48)
    with pytest.raises(CathxError, match=rf"{name}: a chest X-ray line/tube classifier; .*`cathx cls predict`"):
        read_checkpoint(path)
    with pytest.raises(CathxError, match="a chest X-ray line/tube classifier"):
        load_model(path)


def test_trained_input_size_from_the_record_then_the_runs_config_then_the_default(tmp_path, caplog):
    from cathx.checkpoint import trained_input_size

    weights = tmp_path / "run" / "stages" / "multitask" / "model.pt"
    weights.parent.mkdir(parents=True)
    assert trained_input_size(weights, {"input_size": 192}) == 192
    assert trained_input_size(weights, {"image_size": 160}) == 160  # a record of before
    assert trained_input_size(weights, {}) == 256  # nothing says: the default
    (tmp_path / "run" / "config.yaml").write_text("data: {size: 128}\n")
    assert trained_input_size(weights, None) == 128  # the run that wrote the stage's weights
    (tmp_path / "run" / "config.yaml").write_text("data: [not, a, mapping]\n")
    assert trained_input_size(weights, None, default=224) == 224
    assert "config.yaml: no data.size to take the input size from" in caplog.text
