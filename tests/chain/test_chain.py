"""The NSD chain is described once (``chain.nsd_chain``): every step's command line parses with the real click
command, and the local executor (``reproduce``) and the SLURM one run the same commands, in dependency order."""

import click
import pytest

from ridge_decode.chain import ChainRequest, in_order, nsd_chain
from ridge_decode.chain.cluster import SlurmRequest, plan
from ridge_decode.chain.local import recipe_request, run
from ridge_decode.cli import main


def _parse(argv):
    """Parse ``argv`` with the real command: an unknown or a missing required option raises."""
    ctx = click.Context(main)
    command = main.get_command(ctx, argv[0])
    assert command is not None, argv
    command.make_context(argv[0], list(argv[1:]), parent=ctx)


@pytest.mark.parametrize("kind", ["recipe", "slurm"])
def test_every_step_of_the_chain_parses_with_its_command(synthetic_root, tmp_path, kind):
    if kind == "recipe":
        req = recipe_request(synthetic_root, tmp_path / "w", subjects=(1, 2), out=tmp_path / "o", fetch=True,
                             decode_args=("--steps", "3"))
    else:
        req = SlurmRequest(data_root=synthetic_root, subjects=[1, 2], extract_shards=3, decode_shards=2,
                           weights_root=tmp_path / "w", out=tmp_path / "o", run_dir=tmp_path / "run")
    steps = nsd_chain(req)
    assert {s.step for s in steps} >= {"extract", "fit", "decode", "evaluate", "aggregate"}
    for step in steps:
        for task in step.tasks():
            _parse(step.argv(0 if task is None else task))


def test_a_renamed_option_fails_the_parse():
    with pytest.raises(click.NoSuchOption):
        _parse(["fit", "--subject", "1", "--target", "pixels"])


def test_the_local_and_slurm_executors_run_the_same_commands_in_dependency_order(synthetic_root, tmp_path):
    common = dict(data_root=synthetic_root, subjects=[1, 2], families=["pixels"], fit_families=["pixels"],
                  extract_shards=2, decode_shards=2, out=tmp_path / "o", recon=tmp_path / "r",
                  evaluation=tmp_path / "e")
    steps = nsd_chain(ChainRequest(**common))
    local = []
    run(steps, local.append, echo=lambda line: None)
    jobs = plan(SlurmRequest(**common, run_dir=tmp_path / "run", dry_run=True))
    submitted = [[a.replace("{task}", str(t)) for a in j.args] for j in jobs for t in (j.array or [None])
                 if not j.done and t not in j.tasks_done]
    assert local == submitted and len(local) == 2 + 1 + 2 + 2 * (2 + 1) + 1  # extract x2, merge, fit x2, ...
    position = {s.name: k for k, (s, _) in reversed(list(enumerate(in_order(steps))))}
    last = {s.name: k for k, (s, _) in enumerate(in_order(steps))}
    for s in steps:
        for a in s.after:
            assert last[a] < position[s.name], (a, s.name)
