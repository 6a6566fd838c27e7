"""One run loop for every model: step to the end with a progress bar and a progress callback."""

from __future__ import annotations

import time

__all__ = ["run_steps", "run_plans"]

def _progress_bar(total: int, desc: str, progress: bool):
    if not progress:
        return None
    from tqdm import tqdm
    return tqdm(total=total, unit="step", desc=desc, leave=False)


def run_steps(model, desc: str, progress: bool, callback, count=None) -> float:
    """Step ``model`` to its ``n_steps``; once a simulated minute update the tqdm bar (with
    ``count()`` as a postfix) and call ``callback(fraction_done)``.  Returns the wall seconds."""
    start = time.perf_counter()
    bar = _progress_bar(model.n_steps, desc, progress)
    engine = model.engine
    while engine.step_index < model.n_steps:
        model.step()
        if engine.step_index % model.steps_per_minute == 0:
            if bar is not None:
                bar.update(model.steps_per_minute)
                if count is not None:
                    bar.set_postfix(inside=count(), refresh=False)
            if callback is not None:
                callback(engine.step_index / model.n_steps)
    if bar is not None:
        bar.close()
    return time.perf_counter() - start


def run_plans(study, make_model, callback) -> float:
    """Run one model per plan of ``study`` (``make_model(name)``), spreading ``callback`` over them."""
    start = time.perf_counter()
    n = len(study.plan_names)
    for k, name in enumerate(study.plan_names):
        model = make_model(name)
        sub = None if callback is None else (lambda f, k=k: callback((k + f) / n))
        model.run(progress=study.progress, callback=sub)
        study.models[model.plan_name] = model
    return time.perf_counter() - start
