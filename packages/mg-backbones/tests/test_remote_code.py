"""trust_remote_code has one switch, the backbone's own option, and says whose code runs."""

from __future__ import annotations

import pytest
from backbone_toys import TinyFolders

from mg.backbones import ESM2Tiny, HFBackbone


@pytest.mark.parametrize("where", ["model_init_args", "config_overwrites"])
def test_remote_code_cannot_be_turned_on_by_a_second_switch(
    tiny_folders: TinyFolders, where: str
) -> None:
    folder = str(tiny_folders(ESM2Tiny))
    with pytest.raises(ValueError) as error:
        HFBackbone(
            model_path=folder, trust_remote_code=False, **{where: {"trust_remote_code": True}}
        )
    message = str(error.value)
    assert f"{where} sets trust_remote_code" in message
    assert "the backbone's own trust_remote_code option" in message


def test_turning_remote_code_on_warns_naming_the_folder(tiny_folders: TinyFolders) -> None:
    folder = str(tiny_folders(ESM2Tiny))
    with pytest.warns(
        UserWarning,
        match=f"trust_remote_code is on: Python code shipped in the folder {folder} will run",
    ):
        HFBackbone(model_path=folder, trust_remote_code=True)
