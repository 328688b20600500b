"""Run infrastructure, internal to the package: what every stage stands on, none of it science.

``io`` (atomic writes, the ``.part`` resume protocol, JSON, versions), ``runs`` (one run per output folder: its lock
and atomic commit), ``layout`` (every path and name a run writes), ``machine`` (a full disk, a read-only folder, no
GPU, as messages), ``overlap`` (read ahead and write behind while a batch computes), ``manifest``
(``data_manifest.yaml``: the declared data and weights), ``images`` (resizing, once) and ``pins`` (the pinned
dependency set). Nothing here imports a stage.
"""
