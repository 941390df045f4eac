"""Backbone options declared once on a base parse as flat keys, as configs write them.

Here rather than in mg-backbones' tests: the parser is jsonargparse's, which mg-cli brings.
"""

from __future__ import annotations

from typing import Any

import jsonargparse

from mg.backbones import BertDNATiny


def _parsed(cls: type, *args: str) -> Any:
    parser = jsonargparse.ArgumentParser(exit_on_error=False)
    parser.add_class_arguments(cls, "backbone", skip={2})
    return parser.parse_args(list(args)).backbone


def test_flat_keys_of_the_shared_options_parse_and_build() -> None:
    parsed = _parsed(
        BertDNATiny,
        "--backbone.finetune=frozen",
        "--backbone.unknown=map",
        "--backbone.lora_r=4",
        "--backbone.max_length=32",
    )
    assert (parsed.finetune, parsed.unknown, parsed.lora_r) == ("frozen", "map", 4)
    backbone = BertDNATiny(False, None, **vars(parsed))
    assert backbone.finetune == "frozen"
    assert not any(p.requires_grad for p in backbone.parameters())
    assert backbone.tokenize(["ACGZ"])  # "map": an unknown character is read, not refused
