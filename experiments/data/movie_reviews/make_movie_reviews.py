"""Writes the main job's small sentiment task: short movie-review sentences written for zotune
(no public data set is copied), in the GLUE SST-2 TSV layout (header `sentence<TAB>label`,
label 1 = positive, 0 = negative), so the sst2 task definition reads them unchanged.

Each sentence joins an aspect of a film with a verdict phrase; a third of the verdicts are
indirect (negation, contrast, faint praise) so that the task is not solved by spotting one
word. The split is seeded and the same every time: python3 make_movie_reviews.py
"""

import random
from pathlib import Path

ASPECTS = [
    "The acting", "The script", "The soundtrack", "The ending", "The pacing", "The dialogue",
    "The cinematography", "The plot", "The lead performance", "The humour", "The set design",
    "The final act", "The opening scene", "The score", "The editing", "The casting",
    "The direction", "The special effects", "The supporting cast", "The story",
]

POSITIVE = [
    "is wonderful", "was a delight from start to finish", "kept me hooked", "is brilliant",
    "left me smiling for hours", "is beautifully done", "works perfectly", "is moving and sincere",
    "feels fresh and clever", "is a real triumph", "made the whole evening worthwhile",
    "is warm, funny and sharp", "deserves every award it gets", "is gorgeous",
    "is not bad at all, in fact it is great", "surprised me in the best way",
    "never once lost my attention", "is hardly flawed at all", "could not have been better",
    "won me over completely",
]

NEGATIVE = [
    "is dreadful", "was a chore to sit through", "bored me to tears", "is a mess",
    "left me cold", "is clumsy and dull", "falls completely flat", "is painfully slow",
    "feels stale and lazy", "is a total disaster", "ruined the whole evening",
    "is tedious, shallow and loud", "should never have been made", "is ugly",
    "is not good at all, in fact it is awful", "disappointed me in every way",
    "lost my attention within minutes", "is hardly worth watching", "could not have been worse",
    "made me want to leave early",
]


def main():
    rng = random.Random(20261201)
    rows = [(f"{a} {v}.", 1) for a in ASPECTS for v in POSITIVE]
    rows += [(f"{a} {v}.", 0) for a in ASPECTS for v in NEGATIVE]
    rng.shuffle(rows)
    splits = {"train.tsv": rows[:400], "dev.tsv": rows[400:500], "test.tsv": rows[500:700]}
    here = Path(__file__).resolve().parent
    for name, part in splits.items():
        with open(here / name, "w", encoding="utf-8") as f:
            f.write("sentence\tlabel\n")
            for sentence, label in part:
                f.write(f"{sentence}\t{label}\n")
        print(f"{name}: {len(part)} rows, {sum(l for _, l in part)} positive")


if __name__ == "__main__":
    main()
