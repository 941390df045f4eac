"""Every triple `mg matrix` calls compatible runs fit, test and predict through the CLI's
own code path; every other triple fails before any weights load, naming the triple and why."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import yaml
from matrix_cases import (
    FUSION_KINDS,
    TASK_SETUP,
    case_config,
    reports,
    tiny_defaults,
    tiny_source,
    wrong_adapter_cases,
)

from mg.cli.lightning import MGCLI
from mg.cli.main import main
from mg.core.registry import load
from mg.core.task import TaskInterface

COMPATIBLE = [r for r in reports() if r.compatible]
INCOMPATIBLE = [r for r in reports() if not r.compatible]


def _id(report) -> str:
    return report.triple().replace(" + ", "-")


@pytest.fixture(scope="session")
def model_paths(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Each tiny backbone saved to a folder once, as a user's local weights would be."""
    folder = tmp_path_factory.mktemp("weights")
    names = {tiny_source(r.backbone) for r in reports()} - {None}
    paths = {}
    for name in sorted(names):
        backbone = load("backbones", name)(True, tiny_defaults(name))
        paths[name] = backbone.save_pretrained(folder / name)
    return paths


@pytest.fixture
def built_backbones(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every backbone a task builds: empty when a check stops the run first."""
    built: list[str] = []
    original = TaskInterface.build_backbone

    def spy(self: TaskInterface, *args: object, **kwargs: object) -> object:
        built.append(type(self).__name__)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(TaskInterface, "build_backbone", spy)
    return built


def _run_case(report, folder: Path, model_paths: dict[str, Path], accelerator: str) -> None:
    config = case_config(
        folder, report.task, report.backbone, report.adapter, model_paths, accelerator
    )
    path = folder / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    cli = MGCLI(["--config", str(path)], run=False)
    stages = load("tasks", report.task).supported_stages
    if "fit" in stages:
        cli.preflight("fit")
        cli.trainer.fit(cli.model, datamodule=cli.datamodule)
        assert cli.trainer.global_step == 2
        metrics = cli.trainer.callback_metrics
        losses = [v for k, v in metrics.items() if k.startswith("train_loss")]
        assert losses and all(torch.isfinite(v) for v in losses), metrics
    if "test" in stages:
        cli.preflight("test")
        results = cli.trainer.test(cli.model, datamodule=cli.datamodule, verbose=False)
        # Zero-shot scorers have no loss: their test reports ranking metrics.
        expected = "test_auroc" if TASK_SETUP[report.task][0] == "variant" else "test_loss"
        assert results and expected in results[0], results
    cli.preflight("predict")
    predictions = cli.trainer.predict(cli.model, datamodule=cli.datamodule)
    assert predictions and predictions[0]["ids"], "no predictions"
    assert len(predictions[0]["ids"]) == 4


@pytest.mark.parametrize("report", COMPATIBLE, ids=_id)
def test_compatible_triple_fits_tests_and_predicts_on_cpu(
    report,
    tmp_path: Path,
    model_paths: dict[str, Path],
) -> None:
    _run_case(report, tmp_path, model_paths, "cpu")


@pytest.mark.gpu
@pytest.mark.parametrize("report", COMPATIBLE, ids=_id)
def test_compatible_triple_fits_tests_and_predicts_on_gpu_bf16(
    report,
    tmp_path: Path,
    model_paths: dict[str, Path],
) -> None:
    if not torch.cuda.is_available():
        pytest.fail("the gpu matrix needs a CUDA device; run it with `nox -s matrix_gpu` there")
    _run_case(report, tmp_path, model_paths, "gpu")


@pytest.mark.parametrize("report", INCOMPATIBLE, ids=_id)
def test_incompatible_triple_fails_before_weights_load(
    report,
    tmp_path: Path,
    model_paths: dict[str, Path],
    built_backbones: list[str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    config = case_config(tmp_path, report.task, report.backbone, report.adapter, model_paths)
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    assert main(["fit", "--config", str(path)]) == 1
    err = " ".join(capsys.readouterr().err.split())
    named = report.triple()
    if TASK_SETUP[report.task][0] in FUSION_KINDS:  # the run names each slot's backbone
        slots = f"partner={report.backbone} & sequences={report.backbone}"
        named = " + ".join(n for n in (report.task, slots, report.adapter) if n)
    assert f"{named} cannot work together" in err
    assert all(" ".join(reason.split()) in err for reason in report.reasons)
    assert not built_backbones


@pytest.mark.parametrize(("task", "adapter"), wrong_adapter_cases())
def test_adapter_of_the_wrong_type_fails_at_parse_time(
    task: str,
    adapter: str,
    tmp_path: Path,
    model_paths: dict[str, Path],
    built_backbones: list[str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    config = case_config(tmp_path, task, "OneHotDNA", adapter, model_paths)
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    with pytest.raises(SystemExit) as exit_info:
        main(["fit", "--config", str(path)])
    assert exit_info.value.code == 2
    err = " ".join(capsys.readouterr().err.split())
    expected = load("tasks", task).adapter_type.__name__
    assert f"{task} + {adapter}" in err and f"subclasses {expected}" in err, err
    assert not built_backbones


def test_every_task_has_matrix_data() -> None:
    assert {r.task for r in reports()} == set(TASK_SETUP)
