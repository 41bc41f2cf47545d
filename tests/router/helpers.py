"""Deployments and clocks for the router's unit tests."""
from app.config import load_config


class Clock:
    """A clock the test moves by hand (seconds since the epoch)."""

    def __init__(self, now=1_800_000_000.0):
        self.now = now

    def __call__(self):
        return self.now

    def advance(self, seconds):
        """Move time forward."""
        self.now += seconds


class Seq:
    """rng() returning the given values in turn (then the last one forever)."""

    def __init__(self, *values):
        self.values = list(values)

    def __call__(self):
        return self.values.pop(0) if len(self.values) > 1 else self.values[0]


def deployments(*specs, name="g"):
    """Deployments of one group: each spec is a dict of litellm_params extras (+ "id")."""
    entries = []
    for i, spec in enumerate(specs):
        spec = dict(spec)
        dep_id = spec.pop("id", f"d{i}")
        entries.append({"model_name": name, "model_info": {"id": dep_id},
                        "litellm_params": {"model": f"openai/m{i}", "api_key": "k", **spec}})
    return load_config({"model_list": entries}).model_list
