"""Precision and recall of the package-confusion audit on the labelled corpus.

    .venv/bin/python scripts/confusion_audit_eval.py [--seeds 10]

The corpus (tests/support/confusion_corpus.py) holds popular originals with organic histories,
malicious look-alikes (ignored by users or with bot-inflated downloads) and innocent near-names
(same-owner siblings, fine-tunes named after their base, popular siblings, unrelated names, a
CI robot). Prints the figures per seed and overall, and every finding of the first seed.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.confusion_corpus import build, evaluate  # noqa: E402
from tmr.safety.confusion import THRESHOLD, audit  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=10)
    args = parser.parse_args()
    totals = {"true_positives": 0, "false_positives": 0, "false_negatives": 0}
    print(f"threshold {THRESHOLD}")
    for seed in range(461, 461 + args.seeds):
        corpus = build(seed)
        started = time.perf_counter()
        r = evaluate(corpus)
        ms = (time.perf_counter() - started) * 1000
        for k in totals:
            totals[k] += int(r[k])
        print(
            f"seed {seed}: {r['artifacts']:.0f} artifacts, {r['malicious']:.0f} malicious, "
            f"flagged {r['flagged']:.0f}: precision {r['precision']:.3f} recall {r['recall']:.3f}"
            f" ({ms:.0f} ms)"
        )
    tp, fp, fn = totals["true_positives"], totals["false_positives"], totals["false_negatives"]
    print(
        f"overall: precision {tp / (tp + fp):.3f} recall {tp / (tp + fn):.3f} "
        f"(TP {tp}, FP {fp}, FN {fn})"
    )
    corpus = build(461)
    print("\nfindings of seed 461 (label, score, artifact ~ original: first reasons):")
    for f in audit(corpus.entries, corpus.downloads, corpus.seen, 0.2):
        label = "MALICIOUS" if f.artifact.id in corpus.malicious else "innocent "
        like = f.looks_like.name if f.looks_like else "-"
        print(f"  {label} {f.score:.2f} {f.artifact.name} ~ {like}: {'; '.join(f.reasons[:2])}")


if __name__ == "__main__":
    main()
