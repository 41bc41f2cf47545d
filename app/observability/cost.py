"""Cost per request from the shipped price table (app/data/prices.json) or per-deployment prices.

Prices are resolved once per deployment at start-up, so costing a request is two multiplications.
Order: ``model_info.input_cost_per_token`` / ``output_cost_per_token``, then the same names in
``litellm_params``, then the table by ``<provider>/<model>`` (``model_info.base_model`` names the
model behind an Azure deployment), exactly or by the longest prefix ending at ``-``, ``:`` or
``@`` (``gpt-4o-2024-08-06`` costs as ``gpt-4o``). Unknown models cost ``None``, not 0.
"""
import json
import pathlib

PRICES = pathlib.Path(__file__).resolve().parent.parent / "data" / "prices.json"
_BOUNDARY = "-:@"


def load_table(path=PRICES):
    """The price table as a dict (see app/data/prices.json for its shape)."""
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)


class PriceBook:
    """Per-deployment (input, output) USD prices per token."""

    def __init__(self, deployments, table=None):
        self.table = table if table is not None else load_table()
        self.prices = {dep.id: self.price_of(dep) for dep in deployments}

    def price_of(self, dep):
        """(input, output) per token for a deployment, or None when unknown."""
        for source in (dep.model_info or {}, dep.params or {}):
            given = _given(source)
            if given is not None:
                return given
        base = (dep.model_info or {}).get("base_model")
        model = base.partition("/")[2] if isinstance(base, str) and "/" in base else base
        return self.lookup(dep.provider, model or dep.upstream_model)

    def lookup(self, provider, model):
        """Table price of ``<provider>/<model>`` (aliases and prefixes applied), or None."""
        table = self.table
        if provider in table.get("free", ()):
            return (0.0, 0.0)
        for prefix in table.get("strip_prefixes", {}).get(provider, ()):
            if model.startswith(prefix):
                model = model[len(prefix):]
                break
        rows = table["models"]
        for name in (provider, table.get("aliases", {}).get(provider)):
            if name:
                row = _match(rows, f"{name}/{model}")
                if row is not None:
                    return (float(row.get("input", 0.0)), float(row.get("output", 0.0)))
        return None

    def cost(self, deployment_id, prompt_tokens, completion_tokens):
        """USD cost of one request, or None when the deployment's price is unknown."""
        price = self.prices.get(deployment_id)
        if price is None:
            return None
        return round(price[0] * prompt_tokens + price[1] * completion_tokens, 10)


def _given(source):
    inp, out = source.get("input_cost_per_token"), source.get("output_cost_per_token")
    if inp is None and out is None:
        return None
    return (float(inp or 0.0), float(out or 0.0))


def _match(rows, key):
    row = rows.get(key)
    if row is not None:
        return row
    best = None
    for name in rows:
        if len(name) < len(key) and key.startswith(name) and key[len(name)] in _BOUNDARY \
                and (best is None or len(name) > len(best)):
            best = name
    return rows[best] if best else None


def token_counts(usage):
    """(prompt, completion) tokens of an OpenAI usage object (embeddings: completion 0)."""
    if not isinstance(usage, dict):
        return None
    prompt = usage.get("prompt_tokens") or 0
    completion = usage.get("completion_tokens") or 0
    if not prompt and not completion and usage.get("total_tokens"):
        prompt = usage["total_tokens"]
    return (int(prompt), int(completion))
