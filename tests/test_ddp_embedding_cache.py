"""The embedding cache under two-process DDP on CPU, through the mg command.

Each rank writes shard files of its own; from epoch 2 the sampler hands a rank items the
other rank computed, which it must read from that rank's shard rather than recompute.
"""

from __future__ import annotations

import random
import struct
import subprocess
import sys
from pathlib import Path

import yaml

RECORD_SIZE = struct.calcsize("<16sQIIB3xI")


def test_ddp_ranks_share_one_cache_and_compute_each_item_once(tmp_path: Path) -> None:
    rng = random.Random(0)
    rows = ["id,sequence,label"]
    for i in range(40):  # 32 train + 8 val: even shares, so no item is repeated as padding
        seq = "".join(rng.choice("ACGT") for _ in range(rng.randrange(10, 30)))
        rows.append(f"d{i},{seq},{i % 2}")
    data = tmp_path / "data.csv"
    data.write_text("\n".join(rows) + "\n")
    cache = tmp_path / "cache"
    config = {
        "trainer": {
            "accelerator": "cpu",
            "devices": 2,
            "strategy": "ddp",
            "max_epochs": 2,
            "enable_progress_bar": False,
            "default_root_dir": str(tmp_path / "runs"),
        },
        "model": {
            "class_path": "SequenceClassification",
            "init_args": {
                "backbone": {"class_path": "BertDNATiny", "init_args": {"finetune": "frozen"}},
                "adapter": "LinearMeanPoolAdapter",
                "cache_embeddings": True,
                "cache_dir": str(cache),
            },
        },
        "data": {
            "class_path": "SequenceData",
            "init_args": {
                "path": str(data),
                "val_fraction": 0.2,
                "label_columns": "label",
                "batch_size": 4,
            },
        },
    }
    path = tmp_path / "ddp.yaml"
    path.write_text(yaml.safe_dump(config))
    fit = subprocess.run(
        [sys.executable, "-m", "mg.cli", "fit", "--config", str(path)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=600,
    )
    assert fit.returncode == 0, fit.stderr[-3000:]

    (folder,) = [p for p in cache.iterdir() if p.is_dir()]
    indexes = sorted(folder.glob("shard-*.idx"))
    assert {p.name.split("-")[1] for p in indexes} == {"r0", "r1"}, indexes
    keys = [
        raw[i : i + 16]
        for p in indexes
        for raw in [p.read_bytes()]
        for i in range(0, len(raw), RECORD_SIZE)
    ]
    # Two epochs over 40 items: had a rank recomputed what the other stored, an item
    # would have been written twice.
    assert len(keys) == len(set(keys)) == 40
