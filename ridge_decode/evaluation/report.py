"""The published NSD table and the report: each published row with its paper, its table and what its values were
checked against; a Markdown report of our rows beside them; the average of several subjects' metrics."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .image_metrics import REGISTRY


@dataclass(frozen=True)
class PublishedRow:
    """A published NSD result: {metric name: value} (scores as fractions; a metric it lacks prints as '-'), the
    paper, the table, and what the values were checked against."""

    name: str
    values: dict
    paper: str
    table: str
    check: str


_ORDER = ("pixcorr", "ssim", "alexnet2", "alexnet5", "inception", "clip", "effnet_b", "swav")


def _row(name, values, paper, table, check) -> PublishedRow:
    return PublishedRow(name, dict(zip(_ORDER, values, strict=True)), paper, table, check)


_BD = "Ozcelik & VanRullen, 'Natural scene reconstruction from fMRI signals using generative latent diffusion', " \
      "Scientific Reports 13, 15666 (2023)"
_ME2 = "Scotti et al., 'MindEye2: Shared-Subject Models Enable fMRI-To-Image With 1 Hour of Data', ICML 2024 " \
       "(arXiv 2403.11207v2)"
_SLIDES = "the table of Gabor, WeADL 2025 workshop slides"
# Average of subjects 1, 2, 5 and 7 (NSD's 982 shared test images), each row with its paper, table and check.
PUBLISHED: dict[str, PublishedRow] = {r.name: r for r in (
    _row("Brain-Diffuser (2023)", (0.254, 0.356, 0.942, 0.962, 0.872, 0.915, 0.775, 0.423), _BD, "Table 1",
         "read in the paper's Table 1: all eight values agree"),
    _row("Brain-Diffuser, recomputed by MindEye2", (0.273, 0.365, 0.944, 0.966, 0.913, 0.909, 0.728, 0.421), _ME2,
         "Table 1 ('Ozcelik and VanRullen (2023)')", "read in MindEye2's Table 1 (MindEye2 re-ran Brain-Diffuser)"),
    _row("MindEye (2023)", (0.309, 0.323, 0.947, 0.978, 0.938, 0.941, 0.645, 0.367),
         "Scotti et al., 'Reconstructing the Mind's Eye', NeurIPS 2023", "Table 1",
         f"not checked against the paper: from {_SLIDES}"),
    _row("MindEye2, 40 sessions (2024)", (0.322, 0.431, 0.961, 0.986, 0.954, 0.930, 0.619, 0.344), _ME2, "Table 1",
         "read in MindEye2's Table 1: all eight values agree (the WeADL slides' SwAV 0.333 is a typo)"),
    _row("MindEye2, 1 session of a new subject (2024)", (0.195, 0.419, 0.842, 0.906, 0.812, 0.792, 0.810, 0.468),
         _ME2, "Table 1 (1 session, about 1 hour)", "read in MindEye2's Table 1"),
    _row("MindEye2, low-level module alone (2024)", (0.399, 0.539, 0.705, 0.651, 0.529, 0.572, 0.984, 0.673),
         _ME2, "Table 1 (the low-level, 'blurry' outputs)", "read in MindEye2's Table 1"),
    _row("BrainGuard (2025)", (0.313, 0.330, 0.947, 0.978, 0.961, 0.964, 0.624, 0.353),
         "Tian et al., 'BrainGuard: Privacy-Preserving Multisubject Image Reconstructions from Brain Activities', "
         "AAAI 2025", "its results table", f"not checked against the paper: from {_SLIDES}"),
    _row("ridge -> 16 IP-Adapter-Plus tokens (2025)", (0.231, 0.322, 0.9035, 0.963, 0.9075, 0.878, 0.744, 0.422),
         "Gabor, 'Reconstructing perceived visual stimuli from brain fMRI signals using diffusion models', WeADL "
         "2025 workshop", "the slides' results table ('ours (RR)')", "its own source"),
)}
NOT_NSD_NOTE = ("These rows are not of NSD ({what}): they cannot be compared with the published rows, which are "
                "NSD's (average of subjects 1, 2, 5 and 7).")


def format_value(metric: str, value) -> str:
    """A table cell of ``metric`` (see ``Metric.format``)."""
    return REGISTRY[metric].format(value)


def report(rows: dict[str, dict], title: str, note: str = "", not_nsd: str | None = None) -> str:
    """A Markdown table: our rows (name -> metrics) beside the published ones, with each published row's paper,
    table and check. ``not_nsd`` (what our rows are of, e.g. "a synthetic subject") says that they are not NSD's
    and cannot be compared with the published rows."""
    head = ["method"] + [m.label for m in REGISTRY.values()]
    lines = [f"# {title}", "", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name, m in rows.items():
        lines.append(f"| **{name}** | " + " | ".join(metric.format(m.get(k)) for k, metric in REGISTRY.items())
                     + " |")
    for row in PUBLISHED.values():
        lines.append(f"| {row.name} | " + " | ".join(metric.format(row.values.get(k))
                                                     for k, metric in REGISTRY.items()) + " |")
    lower = [m.label for m in REGISTRY.values() if not m.higher_is_better]
    lines += ["", f"Higher is better except {', '.join(lower)} (correlation distances). Published rows: NSD, average "
              "of subjects 1, 2, 5 and 7; a metric a row lacks is '-'. Sources:", ""]
    lines += [f"- {row.name}: {row.paper}, {row.table} (check: {row.check})." for row in PUBLISHED.values()]
    if not_nsd:
        lines += ["", "**" + NOT_NSD_NOTE.format(what=not_nsd) + "**"]
    if note:
        lines += ["", note]
    return "\n".join(lines) + "\n"


def aggregate(results: list[dict]) -> dict:
    """Average metrics over subjects (each a metrics.json dict); a metric unavailable anywhere stays unavailable."""
    out = {}
    for m in REGISTRY:
        vals = [r["metrics"].get(m) for r in results]
        bad = [v for v in vals if not isinstance(v, (int, float))]
        out[m] = {"unavailable": f"unavailable for {len(bad)} of {len(vals)} subjects"} if bad else float(
            np.mean(vals))
    return out
