"""modelgif.bench: benchmarks that run on a built model zoo, outside the test suite.

Why a package of its own: a benchmark is a protocol (which models are positives, which
negatives calibrate, which are held out) plus a table; keeping each in its own module keeps
the protocol readable and lets `modelgif bench <name>` discover it (cli/cmd_bench.py).

    ip.py        ownership: per attack category, AUC and TPR at 1 % FPR with
                 bootstrap intervals, negatives held out from calibration and selection
    ip_report.py the results as Markdown tables
    ipfields.py  owner fingerprints and suspects' cosines per setting, cached on disk
    splits.py    the fixed seeded split of a zoo's models into disjoint roles
    metrics.py   AUC / TPR within groups, bootstrap intervals (AUC by scipy's ranks)
    distill.py   distilled students and noise thieves on Fashion-MNIST: the protocol;
                 distill_run.py runs it (`modelgif bench distill`), distill_report.py its
                 tables, development choice and figure, distill_fields.py its cached fields
    conferrable.py  conferrable adversarial probes (the owner's shadow students against
                 its reference models), a distillation baseline
    unlearning.py   the unlearning audit measured (`modelgif bench unlearning`):
                 unlearning_run.py one seed, unlearning_report.py its tables and curve
    outputstats.py  output-only statistics (JS, agreement, SAC); their calibrated test
                 and the fused (max or mean of z's) test are modelgif.verifiers.fused

Every benchmark's entry module exposes `register_cli(subparsers)`.
"""

__all__: list[str] = []  # the benchmarks are modules, discovered by cli/cmd_bench.py
