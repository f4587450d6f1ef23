"""Write docs/lesson-001.ipynb from its cells and execute it (run from the repository root:
`python docs/make_notebook.py`); tests/test_notebook.py runs it again and compares the outputs."""
import nbformat as nbf
from nbclient import NotebookClient

md, code = nbf.v4.new_markdown_cell, nbf.v4.new_code_cell
nb = nbf.v4.new_notebook()
nb.cells = [
    md("# Lesson 001 in gdlab: x²·sin x, three runs and their stopping rule\n\n"
       "The lesson descends f(x) = x²·sin x from x = 2.5 and stops when |Δf| < 0.001. With α = 0.005 it "
       "takes 73 steps to x ≈ 5.0755; with α = 10⁻⁴ it stops after one step, f having barely moved; "
       "asked for at least 100 steps, it stops at step 100 near x = 2.521, far from the minimum. "
       "The shipped experiment `x2_sin` holds those runs."),
    code("import gdlab\n\nres = gdlab.sweep({\"experiment\": \"x2_sin\"})\nres"),
    md("Where each rule stopped: the step, f there, and the distance to the minimum the run was heading for."),
    code("stops = res.stops.merge(res.runs[[\"run_id\", \"alpha\"]], on=\"run_id\")\n"
         "stops[[\"alpha\", \"min_steps\", \"step\", \"f_at_stop\", \"dist_to_min_at_stop\"]].round(4)"),
    md("The lesson's picture, one panel per step size: f and the points each step visited."),
    code("import matplotlib.pyplot as plt\n\n"
         "fig, axes = plt.subplots(1, 2, figsize=(9, 3.4))\n"
         "res.where(alpha=0.005).plot(\"curve\", ax=axes[0])\n"
         "res.where(alpha=1e-4).plot(\"curve\", ax=axes[1])\n"
         "fig.tight_layout()"),
    md("The lesson stops near x = 5.0755. Is that the minimum? f′ and f″ there and at the minimum gdlab "
       "knows, and what the second derivative says of each."),
    code("x_min = gdlab.get_problem(\"x2_sin\").minima[0][0]\n"
         "for x in (5.0755, x_min):\n"
         "    p = gdlab.inspect_point(\"x2_sin\", [x])\n"
         "    print(f\"x = {x:.4f}: f = {p.f:.4f}, f' = {p.grad[0]:+.2e}, f'' = {p.hessian[0, 0]:.2f}: {p.point_type}\")"),
    md("The question at scale: from 1,000 starts on [−10, 10] with α = 0.005, where does gradient descent end?"),
    code("import numpy as np\n\n"
         "many = gdlab.descend(\"x2_sin\", \"gd\", np.linspace(-10, 10, 1000), alpha=0.005, max_iter=20_000)\n"
         "ends = many.runs[\"x_final\"].map(lambda x: round(float(x[0]), 2))\n"
         "ends.value_counts().head(6)"),
]
nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": "."}}).execute()
nbf.write(nb, "docs/lesson-001.ipynb")
