"""Is a declared lineage edge backed by the files? Declared versus verified parents.

A card or config naming a parent is a claim (``declared``). The edge is ``verified`` when the
child's files agree with the parent's: the same ``model_type`` and an overlapping
``architectures`` list in ``config.json``, every shape-defining setting both configs give
(hidden sizes, depths, layers, heads …) equal, and the weights, in the same format, within
:data:`WEIGHT_RATIO` of each other in size (a fine-tune keeps its base's backbone; a new head or a
different vocabulary moves the size a little). An adapter (``adapter_config.json``) has small
weights by design, so its sizes are not compared. Pure: reads two snapshots, no I/O.
"""

from __future__ import annotations

from typing import Any, Literal

from tmr.domain.snapshot import Snapshot
from tmr.metrics.size_score import weight_sets

EdgeTrust = Literal["declared", "verified"]
WEIGHT_RATIO = 0.8
SHAPE_KEYS = (
    "hidden_size",
    "hidden_sizes",
    "depths",
    "num_hidden_layers",
    "num_attention_heads",
    "intermediate_size",
    "d_model",
    "n_layer",
    "n_head",
    "n_embd",
    "num_layers",
    "embedding_size",
    "encoder_layers",
    "decoder_layers",
)


def _config(snapshot: Snapshot | None) -> dict[str, Any]:
    config = snapshot.hf.config if snapshot is not None and snapshot.hf is not None else None
    return config if isinstance(config, dict) else {}


def verify_edge(
    child: Snapshot | None, parent: Snapshot | None
) -> tuple[EdgeTrust, dict[str, Any]]:
    """(``verified`` or ``declared``, what was compared and found)."""
    mine, theirs = _config(child), _config(parent)
    evidence: dict[str, Any] = {}
    problems: list[str] = []
    if not mine or not theirs:
        evidence["config"] = "missing on " + ("the child" if not mine else "the parent")
        return "declared", {**evidence, "problems": ["no config.json to compare"]}
    if mine.get("model_type") != theirs.get("model_type"):
        problems.append(
            f"model_type {mine.get('model_type')!r} differs from the parent's "
            f"{theirs.get('model_type')!r}"
        )
    archs = set(mine.get("architectures") or []), set(theirs.get("architectures") or [])
    if archs[0] and archs[1] and not archs[0] & archs[1]:
        problems.append(f"architectures {sorted(archs[0])} share none with {sorted(archs[1])}")
    compared = [k for k in SHAPE_KEYS if k in mine and k in theirs]
    problems += [
        f"{k} {mine[k]!r} differs from the parent's {theirs[k]!r}"
        for k in compared
        if mine[k] != theirs[k]
    ]
    evidence["config_keys_compared"] = ["model_type", "architectures", *compared]
    adapter = (
        child is not None and child.hf is not None and "adapter_config.json" in child.hf.extra_json
    )
    if not adapter and child is not None and parent is not None:
        own, base = weight_sets(child.files), weight_sets(parent.files)
        shared = [f for f in own if base.get(f)]
        if shared:
            fmt = shared[0]
            ratio = min(own[fmt], base[fmt]) / max(own[fmt], base[fmt])
            evidence["weights"] = {"format": fmt, "child": own[fmt], "parent": base[fmt]}
            evidence["weights"]["ratio"] = round(ratio, 3)
            if ratio < WEIGHT_RATIO:
                problems.append(
                    f"{fmt} weights are {own[fmt]} bytes against the parent's {base[fmt]}"
                )
    evidence["problems"] = problems
    return ("declared" if problems else "verified"), evidence
