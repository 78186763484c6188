"""A labelled corpus for the package-confusion audit, generated with a fixed seed.

Popular originals with organic histories (many users; searches and views before downloads at
irregular times); malicious look-alikes of them (confusable characters, separator/case/digit
swaps, added words, the original's owner folded in, typos), either ignored by real users or with
downloads inflated by bots (few accounts, regular intervals, bursts, no search before download,
or sybil swarms); and innocent near-names: siblings registered by the original's own account,
fine-tunes named after their base with organic users, popular siblings, unrelated names, and an
in-house model pulled by a CI robot every hour (bot-like, but imitating nobody).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from tmr.safety.confusion import Download, Entry, Seen

T0 = datetime(2026, 6, 1, tzinfo=UTC)


@dataclass
class Corpus:
    entries: list[Entry]
    downloads: list[Download]
    seen: list[Seen]
    malicious: set[str]  # ids labelled as malicious look-alikes


ORIGINALS = [
    ("bert-base-uncased", "google-bert", "model"),
    ("llama-2-7b", "meta-llama", "model"),
    ("whisper-tiny", "openai", "model"),
    ("resnet-50", "microsoft", "model"),
    ("gpt2", "openai-community", "model"),
    ("t5-small", "google-t5", "model"),
    ("distilbert-base-uncased", "distilbert", "model"),
    ("roberta-base", "FacebookAI", "model"),
    ("stable-diffusion-v1-5", "runwayml", "model"),
    ("mistral-7b-instruct", "mistralai", "model"),
    ("squad", "rajpurkar", "dataset"),
    ("imagenet-1k", "ILSVRC", "dataset"),
    ("transformers", "huggingface", "code"),
    ("pytorch-image-models", "huggingface", "code"),
]

# (look-alike name, original name, traffic kind)
LOOKALIKES = [
    ("b\u0435rt-base-uncased", "bert-base-uncased", "bots-regular"),  # Cyrillic e
    ("llama_2_7b", "llama-2-7b", "ignored"),
    ("whisper-t1ny", "whisper-tiny", "bots-burst"),
    ("resnet-5O", "resnet-50", "ignored"),  # letter O for zero
    ("gpt2-official", "gpt2", "bots-few"),
    ("t5-small-v2", "t5-small", "ignored"),
    ("distilbert-base-uncased-latest", "distilbert-base-uncased", "bots-sybil"),
    ("roberta-base-fixed", "roberta-base", "ignored"),
    ("stable-diffusion-v1-5-pro", "stable-diffusion-v1-5", "bots-regular"),
    ("google-bert-bert-base-uncased", "bert-base-uncased", "ignored"),
    ("meta-llama-llama-2-7b", "llama-2-7b", "bots-few"),
    ("mistral-7b-lnstruct", "mistral-7b-instruct", "few-victims"),
    ("rnistral-7b-instruct", "mistral-7b-instruct", "ignored"),
    ("sqaud", "squad", "bots-burst"),
    ("imagenet-1k-full", "imagenet-1k", "ignored"),
    ("transfromers", "transformers", "bots-regular"),
    ("pytorch-image-models-official", "pytorch-image-models", "few-victims"),
    ("Whisper-Tiny", "whisper-tiny", "ignored"),
    ("gpt-2", "gpt2", "bots-sybil-searching"),
    ("roberta_base", "roberta-base", "bots-few"),
]

# (name, like, owner is the original's own account, organic users, kind)
INNOCENTS = [
    ("bert-base-cased", "bert-base-uncased", True, 30),
    ("bert-large-uncased", "bert-base-uncased", True, 12),
    ("whisper-small", "whisper-tiny", True, 25),
    ("llama-2-13b", "llama-2-7b", True, 8),
    ("t5-base", "t5-small", True, 20),
    ("gpt2-medium", "gpt2", True, 6),
    ("gpt-j", "gpt2", False, 30),
    ("bert-base-uncased-squad", "bert-base-uncased", False, 5),
    ("roberta-base-sentiment", "roberta-base", False, 7),
    ("resnet-101", "resnet-50", True, 15),
    ("squad_v2", "squad", True, 25),
    ("imagenet-21k", "imagenet-1k", True, 10),
    ("acme-ticket-classifier", None, False, 4),
    ("acme-nightly-model", None, False, 2),  # pulled by a CI robot every hour
    ("diffusers", None, False, 20),
    ("tokenizers", None, False, 18),
    ("whisper-tiny-finetuned-atc", "whisper-tiny", False, 4),
    ("mistral-7b-instruct-gptq", "mistral-7b-instruct", False, 9),
]


def build(seed: int = 461) -> Corpus:
    rng = random.Random(seed)
    entries: list[Entry] = []
    downloads: list[Download] = []
    seen: list[Seen] = []
    malicious: set[str] = set()
    by_name: dict[str, Entry] = {}
    counter = iter(range(10_000))

    def add(name: str, type_: str, created: datetime, owner: str, hub_owner: str | None) -> Entry:
        e = Entry(f"a{next(counter):04d}", name, type_, created, owner, hub_owner)
        entries.append(e)
        by_name[name] = e
        return e

    def organic(e: Entry, users: int, start: datetime, days: float) -> None:
        for _ in range(users):
            user = f"user-{rng.randrange(10_000)}"
            t = start + timedelta(seconds=rng.uniform(0, days * 86400))
            seen.append(Seen(e.id, user, t))
            if rng.random() < 0.5:
                seen.append(Seen(e.id, user, t + timedelta(seconds=rng.uniform(5, 120))))
            for _ in range(rng.choice([1, 1, 1, 2, 3])):
                t += timedelta(seconds=rng.uniform(30, 86400))
                downloads.append(Download(e.id, user, t))
            if rng.random() < 0.3:  # some search again later without downloading
                seen.append(Seen(e.id, user, t + timedelta(days=rng.uniform(1, 10))))

    def bots(e: Entry, kind: str, start: datetime) -> None:
        if kind in ("ignored", "few-victims"):
            attacker = f"attacker-{e.id}"
            seen.append(Seen(e.id, attacker, start))
            if kind == "few-victims":
                organic(e, 3, start, 10)
            return
        if kind == "bots-regular":
            for b in range(2):
                t = start + timedelta(minutes=b * 7)
                for _ in range(rng.randrange(80, 160)):
                    t += timedelta(seconds=rng.uniform(58, 62))
                    downloads.append(Download(e.id, f"bot-{e.id}-{b}", t))
        elif kind == "bots-burst":
            for _ in range(rng.randrange(60, 120)):
                t = start + timedelta(seconds=rng.uniform(0, 400))
                downloads.append(Download(e.id, f"bot-{e.id}-{rng.randrange(3)}", t))
        elif kind == "bots-few":
            for _ in range(rng.randrange(40, 90)):
                t = start + timedelta(seconds=rng.uniform(0, 10 * 86400))
                downloads.append(Download(e.id, f"bot-{e.id}-{rng.randrange(2)}", t))
        elif kind in ("bots-sybil", "bots-sybil-searching"):
            for b in range(25):
                user = f"sybil-{e.id}-{b}"
                t = start + timedelta(seconds=rng.uniform(0, 3600))
                if kind == "bots-sybil-searching":
                    seen.append(Seen(e.id, user, t - timedelta(seconds=2)))
                for _ in range(6):
                    t += timedelta(seconds=300 + rng.uniform(-3, 3))
                    downloads.append(Download(e.id, user, t))

    for name, hub_owner, type_ in ORIGINALS:
        created = T0 + timedelta(days=rng.uniform(0, 20))
        e = add(name, type_, created, f"{hub_owner}-account", hub_owner)
        organic(e, rng.randrange(25, 70), created, 60)
    for name, like, kind in LOOKALIKES:
        original = by_name[like]
        created = original.created_at + timedelta(days=rng.uniform(15, 60))
        e = add(name, original.type, created, f"attacker-{rng.randrange(5)}", None)
        bots(e, kind, created + timedelta(hours=rng.uniform(1, 48)))
        malicious.add(e.id)
    for name, like, same_owner, users in INNOCENTS:
        original = by_name.get(like) if like else None
        type_ = original.type if original else "model"
        created = (original.created_at if original else T0) + timedelta(days=rng.uniform(1, 40))
        owner = original.owner if (original and same_owner) else f"team-{rng.randrange(50)}"
        hub_owner = original.hub_owner if (original and same_owner) else None
        e = add(name, type_, created, owner or "x", hub_owner)
        organic(e, users, created, 45)
        if name == "acme-nightly-model":
            t = created
            for _ in range(200):
                t += timedelta(hours=1)
                downloads.append(Download(e.id, "ci-robot", t))
    return Corpus(entries, downloads, seen, malicious)


def evaluate(corpus: Corpus, threshold: float | None = None) -> dict[str, float]:
    from tmr.safety.confusion import THRESHOLD, audit

    found = audit(corpus.entries, corpus.downloads, corpus.seen, threshold or THRESHOLD)
    flagged = {f.artifact.id for f in found}
    tp = len(flagged & corpus.malicious)
    fp = len(flagged - corpus.malicious)
    fn = len(corpus.malicious - flagged)
    return {
        "artifacts": len(corpus.entries),
        "malicious": len(corpus.malicious),
        "flagged": len(flagged),
        "true_positives": tp,
        "false_positives": fp,
        "false_negatives": fn,
        "precision": tp / (tp + fp) if tp + fp else 1.0,
        "recall": tp / (tp + fn) if tp + fn else 1.0,
    }
