"""Write experiments/<name>/README.md and figure.png for every lesson scenario, from a real run.

    python experiments/build_readmes.py            # runs `gdlab experiment=lessons` (resumes what is done)

Each README holds the question, the command, the numbers gdlab produced next to
the lesson's, the figure, and what it shows; all of it comes from the run, so
running this again after a change keeps the READMEs true.
"""
from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pandas as pd

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from gdlab.engine.compile_cache import enable_compile_cache  # noqa: E402
from gdlab.lessons import SCENARIOS, run_lessons
from gdlab.lessons.page import section_md as _section_md  # noqa: E402

SCALE_UP = {
    "derivatives": "gdlab experiment=derivatives starts.n=200",
    "step_halving": "gdlab experiment=step_halving 'alpha=[1.0,0.5,0.1]'",
    "step_proportional": "gdlab experiment=step_proportional 'alpha=[0.0001,0.001,0.003]'",
    "two_x_sin": "gdlab experiment=two_x_sin 'starts={kind: uniform, n: 10000, seed: 0}' 'alpha=[0.005,0.05]'",
    "x2_sin": "gdlab experiment=x2_sin 'starts={kind: uniform, n: 10000, seed: 0}'",
    "stopping_rules": "gdlab experiment=stopping_rules starts.n=10000",
    "no_minimum": "gdlab experiment=no_minimum starts.n=300",
    "momentum": "gdlab experiment=momentum starts.n=100000 'momentum=[0.5,0.9,0.95]'",
    "multistart": "gdlab experiment=multistart starts.n=1000000 dtype=float32",
    "step_size": "gdlab experiment=step_size 'alpha=[0.01,0.1,0.3,0.5,0.9,0.99,1.01,1.05]'",
    "regression": "gdlab experiment=regression 'alpha=[0.01,0.1,0.5]' starts.n=10000",
    "constraints": "gdlab experiment=constraints 'starts={kind: grid, n: 20}'",
    "learning_rate": "gdlab experiment=learning_rate 'alpha=[0.0001,0.0003,0.001,0.003,0.01,0.03,0.1]'",
    "methods_review": "gdlab experiment=methods_review starts.n=10000 'alpha=[0.0001,0.001,0.01,0.1,1.0]'",
}

# the benchmark suites' pages (written from their own runs, not by this script)
SUITES_INDEX = """## Benchmark suites

- [bbob](bbob/README.md): COCO's 24 noiseless functions, instances 1–5, 2-D and 5-D, six methods, counted as COCO counts.
- [cutest](cutest/README.md): twenty CUTEst problems from their own starts, six methods, performance and data profiles."""


def main() -> None:
    enable_compile_cache()
    page = run_lessons(out_dir=str(HERE.parent / "results"))
    index = ["# The lessons as experiments", "",
             "Every scenario of the seed lessons (`../shared/seeds/`), each a config in "
             "`gdlab/configs/experiment/<name>.yaml`. `gdlab experiment=lessons` runs them all and builds one page "
             "for the class (`results/lessons/<id>/report/index.html`); `gdlab experiment=<name>` runs one.", "",
             "| scenario | lesson | question | lesson's numbers reproduced |", "|---|---|---|---|"]
    for name, sc in SCENARIOS.items():
        folder = next((HERE.parent / "results" / name).glob("*/report/tables/lesson.csv")).parents[2]
        numbers = pd.read_csv(folder / "report" / "tables" / "lesson.csv")
        out = HERE / name
        out.mkdir(exist_ok=True)
        shutil.copyfile(folder / "report" / "figures" / "lesson.png", out / "figure.png")
        md = _section_md(sc, numbers, "figure.png")
        md[0] = f"# {sc.title} (lesson {sc.lessons})"
        md += ["**Push it further.** Every key can be overridden; for example (with other starts the report "
               "shows the sweep's own tables and figures, and says that the lesson's table needs the lesson's runs)",
               "",
               f"```bash\n{SCALE_UP[name]}\n```", "",
               f"The numbers above come from `python experiments/build_readmes.py` (sweep `{folder.name}`); the "
               f"config is [`gdlab/configs/experiment/{name}.yaml`](../../gdlab/configs/experiment/{name}.yaml) and the checks "
               "are `tests/test_lessons.py`.", ""]
        (out / "README.md").write_text("\n".join(md))
        checked = numbers["agrees"].dropna().astype(str).str.lower()
        agreed = f"{(checked == 'true').sum()} of {len(checked)}" if len(checked) else "– (a sweep's answer)"
        index.append(f"| [{name}]({name}/README.md) | {sc.lessons} | {sc.question.replace('|', chr(92) + '|')} | "
                     f"{agreed} |")
    index += ["", SUITES_INDEX]
    (HERE / "README.md").write_text("\n".join(index) + "\n")
    print(f"wrote {len(SCENARIOS)} READMEs; the page: {page / 'report' / 'index.html'}")


if __name__ == "__main__":
    main()
